"""The command line's parser: a named command loads only its own module; everything else sees them all."""

from __future__ import annotations

import subprocess
import sys

import pytest

from backupd.cli import COMMANDS, build_parser, command_named


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["backup", "--full"], "backup"),
        (["demo-data", "--events", "10"], "demo_data"),
        (["--debug", "list"], "list"),
        (["--database-url", "backup", "list"], "list"),  # the URL is the option's value, not the command
        (["--database-url=postgresql://x/backup", "verify", "a.zip"], "verify"),
        (["--help"], None),
        (["--version"], None),
        ([], None),
        (["bakup"], None),
        (["--", "backup"], None),
    ],
)
def test_command_named(argv: list[str], expected: str | None) -> None:
    assert command_named(argv) == expected


def test_parser_of_one_command_parses_like_the_full_parser() -> None:
    argv = ["--database-url", "postgresql://h/db", "backup", "--full", "--level", "5"]
    one = vars(build_parser("backup").parse_args(argv))
    every = vars(build_parser().parse_args(argv))
    assert one == every
    assert one["full"] is True and one["level"] == 5 and one["global_database_url"] == "postgresql://h/db"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "backupd", *args], capture_output=True, text=True, timeout=60)


def test_help_lists_every_command() -> None:
    proc = _run("--help")
    assert proc.returncode == 0
    for name in COMMANDS:
        assert name.replace("_", "-") in proc.stdout


def test_a_mistyped_command_is_named_with_every_choice() -> None:
    proc = _run("bakup")
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("backupd: error: argument COMMAND: invalid choice: 'bakup' (choose from ")
    for name in COMMANDS:
        assert repr(name.replace("_", "-")) in last


def test_a_named_command_loads_only_its_own_module() -> None:
    code = (
        "import sys\n"
        "from backupd.cli import main\n"
        "try:\n"
        "    main(['verify', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('backupd.cli.') and m != 'backupd.cli._common'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "['backupd.cli.verify']"
