"""`backupd prune [--dry-run]`: apply the retention policy now (docs/cli.md).

Prints each saved backup, newest first, with the rules that keep it, or `remove`. The policy is
the one in force for the service: PUT /api/schedule's stored values, else the environment's.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from ..audit import audited_command
from ..db.locks import operation_lock
from ..retention.apply import PruneResult, prune
from ..schedule.settings import ScheduleRecords
from ..services import open_local
from ._common import database_url_from


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("prune", help="apply the retention policy: remove the backups it does not keep")
    parser.add_argument("--dry-run", action="store_true", help="only print what would be kept and removed")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings, url = database_url_from(args)
    with open_local(settings, url) as local:  # the schedule tables, when the service never ran on this database
        config = ScheduleRecords(local.pool, settings).config()
        action = "dry-run a prune" if args.dry_run else "prune backups"  # audited as the OS user (docs/rest-api.md)
        with operation_lock(url), audited_command(url, "prune", action):  # no backup or restore meanwhile
            result = prune(local.pool, local.archives, config.policy, config.timezone, dry_run=args.dry_run)
    for line in format_result(result, config.timezone, policy=config.policy.as_dict()):
        print(line)
    return 0


def format_result(result: PruneResult, timezone: str, *, policy: dict[str, int]) -> list[str]:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    rules = ", ".join(f"{k}={v}" for k, v in policy.items())
    lines = [f"retention policy: {rules} (days, weeks and months in {timezone})"]
    reasons = {k.id: k.reasons for k in result.kept}
    removed = set(result.removed)
    order = sorted(result.created_at, key=lambda i: (result.created_at[i], i), reverse=True)
    for backup_id in order:
        if backup_id not in reasons and backup_id not in removed:
            continue
        when = result.created_at[backup_id]
        local = when.astimezone(zone).strftime("%Y-%m-%d %H:%M %a") if isinstance(when, datetime) else str(when)
        verdict = (
            ("would remove" if result.dry_run else "removed")
            if backup_id in removed
            else "keep   " + ", ".join(reasons[backup_id])
        )
        lines.append(f"  {backup_id}  {local}  {verdict}")
    action = "would be removed (dry run: nothing changed)" if result.dry_run else "removed"
    lines.append(f"{len(result.kept)} kept, {len(result.removed)} {action}")
    return lines
