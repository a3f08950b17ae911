"""Issue 13's figures, side by side, from a results JSON written by bench/run.py.

    python bench/figures.py [bench/results/latest.json]     # the Markdown table for the README

Each figure is the median of the run's repeats (a reader's errors are the total over all of them),
at N/10 and at N events. `met` judges the N column (and, for "flat", N against N/10); an empty
`met` means the figure is reported, not judged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FLAT_FACTOR, FLAT_SLACK_S = 1.5, 0.1  # a lock hold is "flat" when hold(N) <= 1.5 x hold(N/10) + 0.1 s
RSS_FLAT = 1.30  # the bar the backup's RSS growth already has


def _get(d: dict | None, *keys):
    for key in keys:
        if not isinstance(d, dict) or d.get(key) is None:
            return None
        d = d[key]
    return d


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _yes(ok: bool | None) -> str:
    return "" if ok is None else ("yes" if ok else "no")


def rows(result: dict) -> tuple[list[str], list[list[str]]]:
    """The README's figures table: one row per figure, at N/10 and N events, and whether its goal is met."""
    n = result["events"]
    n10 = (_get(result, "n10") or {}).get("events")
    header = ["figure", "goal", f"{n10:,} events" if n10 else "N/10", f"{n:,} events", "met"]
    jobs = _get(result, "pg_directory_dump", "jobs")
    out = _lock_rows(result.get("restore_lock")) + _reader_rows(result.get("reader_probe"), jobs)
    out += [*_time_rows(result, jobs), _rss_row(result.get("peak_rss_mib") or {})]
    return header, out


def _lock_rows(lock: dict | None) -> list[list[str]]:
    """How long a restore holds its locks on a restored table, against pg_restore's single transaction."""

    def hold(size: str, tool: str, key: str) -> float | None:
        return _get(lock, size, tool, key)

    ae = [hold("n10", "backupd", "access_exclusive_max_s"), hold("n", "backupd", "access_exclusive_max_s")]
    met = None
    if None not in ae:
        met = ae[1] <= 1.0 and ae[0] <= 1.0 and ae[1] <= FLAT_FACTOR * ae[0] + FLAT_SLACK_S
    single = "pg_restore_single_transaction"
    return [
        ["longest ACCESS EXCLUSIVE on a restored table — backupd", "≤ 1 s, flat", _s(ae[0]), _s(ae[1]), _yes(met)],
        [
            "… `pg_restore --single-transaction`",
            "(contrast)",
            _s(hold("n10", single, "access_exclusive_max_s")),
            _s(hold("n", single, "access_exclusive_max_s")),
            "",
        ],
        [
            "longest EXCLUSIVE on a restored table (writers wait) — backupd",
            "report",
            _s(hold("n10", "backupd", "exclusive_max_s")),
            _s(hold("n", "backupd", "exclusive_max_s")),
            "",
        ],
    ]


def _reader_rows(probe: dict | None, jobs: int | None) -> list[list[str]]:
    """How long an application's reader waits during a restore, and whether any of its queries failed."""

    def reader(size: str, tool: str) -> str:
        p = _get(probe, size, tool)
        if not p:
            return "—"
        return f"{p['max_wait_s']:.2f} s, {p['errors_total']}/{p['queries_total']} failed"

    waits = [_get(probe, size, "backupd") for size in ("n10", "n")]
    met = None
    if None not in waits:
        met = all(w["max_wait_s"] <= 1.5 and w["errors_total"] == 0 for w in waits)
    out = [
        [
            "longest wait of a reader (`SELECT * FROM events WHERE id = $1`, every 20 ms) — backupd",
            "≤ 1.5 s, none failed",
            reader("n10", "backupd"),
            reader("n", "backupd"),
            _yes(met),
        ],
        [
            "… `pg_restore --single-transaction`",
            "(contrast)",
            reader("n10", "pg_restore_single_transaction"),
            reader("n", "pg_restore_single_transaction"),
            "",
        ],
    ]
    if jobs:
        out.append(
            [
                f"… `pg_restore -j{jobs}` (not atomic)",
                "(contrast)",
                reader("n10", "pg_restore_dir"),
                reader("n", "pg_restore_dir"),
                "",
            ]
        )
    return out


def _ratio(ours: float | None, theirs: float | None) -> tuple[str, float | None]:
    if ours is None or theirs is None:
        return "—", None
    return f"{ours / theirs:.2f}× ({ours:.2f} s vs {theirs:.2f} s)", ours / theirs


def _time_rows(result: dict, jobs: int | None) -> list[list[str]]:
    """Median backup and restore times against pg_dump and pg_restore measured in the same run."""
    med = result["seconds_median"]
    med10 = (_get(result, "n10") or {}).get("seconds_median") or {}
    small_text, _ = _ratio(med10.get("backupd_restore"), med10.get("pg_restore"))
    text, r = _ratio(med.get("backupd_restore"), med.get("pg_restore"))
    out = [
        [
            "restore time / `pg_restore --clean --if-exists --single-transaction`",
            "≤ 1.0×",
            small_text,
            text,
            _yes(None if r is None else r <= 1.0),
        ]
    ]
    if jobs:
        text, r = _ratio(med.get("backupd_restore"), med.get("pg_restore_dir"))
        out.append(
            [
                f"restore time / `pg_restore -j{jobs}`, directory dump",
                "≤ 1.3×",
                "—",
                text,
                _yes(None if r is None else r <= 1.3),
            ]
        )
        text, _ = _ratio(med.get("backupd_backup"), med.get("pg_dump_dir"))
        out.append([f"backup time / `pg_dump -Fd -j{jobs} -Z1`", "report", "—", text, ""])
    text, r = _ratio(med.get("backupd_backup"), med.get("pg_dump"))
    out.append(["backup time / `pg_dump -Fc`", "< 1.0×", "—", text, _yes(None if r is None else r < 1.0)])
    return out


def _rss_row(rss: dict) -> list[str]:
    big, little = rss.get("restore_n"), rss.get("restore_n10")
    met = None if big is None or little is None else big <= 100 and big / little <= RSS_FLAT
    return [
        "peak RSS of restore",
        "≤ 100 MiB, flat",
        "—" if little is None else f"{little:.0f} MiB",
        "—" if big is None else f"{big:.0f} MiB" + (f" ({big / little:.2f}× N/10)" if little else ""),
        _yes(met),
    ]


def markdown(result: dict) -> str:
    header, body = rows(result)
    right = {2, 3}
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def text(result: dict) -> str:
    header, body = rows(result)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [
            row[0].ljust(widths[0]),
            row[1].ljust(widths[1]),
            row[2].rjust(widths[2]),
            row[3].rjust(widths[3]),
            row[4],
        ]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), *(line(r) for r in body)])


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results" / "latest.json")
    print(markdown(json.loads(path.read_text())))
