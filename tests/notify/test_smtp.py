"""mailto:// through a real SMTP server (aiosmtpd) on 127.0.0.1 (docs/operations.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from backupd import DEFAULT_TABLES
from tests.support.api import ApiServer, run_backup
from tests.support.receivers import SmtpReceiver

EXTRA = "notify_extra"


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    server = SmtpReceiver().start()
    yield server
    server.stop()


def test_failed_backup_arrives_by_mail(
    make_server: Callable[..., ApiServer], db: psycopg.Connection, smtp: SmtpReceiver
) -> None:
    url = f"mailto://127.0.0.1:{smtp.port}?from=backupd@example.com&to=ops@example.com&mode=insecure"
    server = make_server(notify=url, tables=(*DEFAULT_TABLES, EXTRA))
    with server.client() as client:
        job_id, bodies = run_backup(client)
        assert bodies[-1]["status"] == "failed"
        failed_at = db.execute("SELECT completed_at FROM backupd.backup_jobs WHERE id = %s", [job_id]).fetchone()[0]
        [(arrived, message)] = smtp.wait_for(1)
        print(f"failure -> mail: {(arrived - failed_at.timestamp()) * 1000:.0f} ms")
        assert message["Subject"] == "backupd: backup failed"
        assert message["To"].endswith("ops@example.com")
        text = (
            message.get_payload(decode=True)
            if not message.is_multipart()
            else message.get_payload(0).get_payload(decode=True)
        )
        assert job_id in text.decode() and "table not found: notify_extra" in text.decode()
        assert client.post("/api/notify/test").status_code == 202
        smtp.wait_for(2)
        time.sleep(1)
        assert [m["Subject"] for _, m in smtp.messages] == ["backupd: backup failed", "backupd: test notification"]
