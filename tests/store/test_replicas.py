"""Three `backupd serve` processes on one database and one S3 store act as one service (docs/operations.md)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from backupd.jobs import INTERRUPTED_MESSAGE
from tests.support.api import fill_app_data
from tests.support.replica import Replica
from tests.support.s3server import S3Server


@pytest.fixture
def replicas(
    database_url: str, s3_store_url: str, s3_server: S3Server, tmp_path: Path
) -> Iterator[tuple[list[Replica], Callable[[int], Replica]]]:
    env = {
        **s3_server.env,
        "BACKUPD_DATABASE_URL": database_url,
        "BACKUPD_STORE": s3_store_url,
        "BACKUPD_S3_ENDPOINT": s3_server.endpoint,
    }
    started: list[Replica] = []

    def start(n: int) -> Replica:
        replica = Replica(env, tmp_path / f"replica{n}")
        started.append(replica)
        return replica

    for n in range(3):
        start(n)
    yield started, start
    for replica in started:
        replica.stop()


def wait_for(client: httpx.Client, url: str, until, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(url).json()
        if until(body):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def test_three_replicas_act_as_one_service(
    replicas, db: psycopg.Connection, database_url: str, s3_server: S3Server, s3_store_url: str
) -> None:
    (r1, r2, r3), start_replica = replicas
    fill_app_data(db, events=500)
    bucket = s3_store_url.removeprefix("s3://").split("/")[0]

    # Started on replica 1; seen, listed, downloaded (whole and by range) through 2 and 3.
    job_id = r1.client.post("/api/backup").json()["job_id"]
    job = wait_for(r2.client, f"/api/backup/{job_id}", lambda b: b["status"] in ("completed", "failed"))
    assert job["status"] == "completed", job
    assert job["file_path"] == f"{s3_store_url}/{s3_server.keys(bucket)[0].split('/')[-1]}"
    assert [b["id"] for b in r3.client.get("/api/backup").json()["backups"]] == [job_id]
    whole = r2.client.get(f"/api/backup/{job_id}/download")
    assert whole.status_code == 200 and whole.headers["content-type"] == "application/zip"
    assert len(whole.content) == job["file_size_bytes"] and whole.content[:4] == b"PK\x03\x04"
    part = r3.client.get(f"/api/backup/{job_id}/download", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    tail = r3.client.get(f"/api/backup/{job_id}/download", headers={"Range": "bytes=-22"})
    assert tail.status_code == 206 and tail.content == whole.content[-22:] and tail.content[:4] == b"PK\x05\x06"
    past = r3.client.get(f"/api/backup/{job_id}/download", headers={"Range": f"bytes={len(whole.content)}-"})
    assert past.status_code == 416

    # One job at a time across replicas: a backup on replica 1 waits for a table lock meanwhile.
    with psycopg.connect(database_url) as holder:
        holder.execute("LOCK TABLE settings IN ACCESS EXCLUSIVE MODE")
        running = r1.client.post("/api/backup").json()["job_id"]
        wait_for(r2.client, f"/api/backup/{running}", lambda b: b["status"] == "running")
        assert r2.client.post("/api/backup").status_code == 409
        assert r3.client.post("/api/backup/restore", files={"file": ("b.zip", whole.content)}).status_code == 409
        assert r3.client.delete(f"/api/backup/{running}").status_code == 409

        # A replica starting now does not take the live job for an interrupted one.
        r4 = start_replica(4)
        assert r4.client.get(f"/api/backup/{running}").json()["status"] == "running"

        # Replica 1 dies: a live replica marks its job failed within 60 s.
        killed_at = time.monotonic()
        r1.stop(signal.SIGKILL)
        failed = wait_for(r3.client, f"/api/backup/{running}", lambda b: b["status"] == "failed", timeout=60)
        print(f"job of the killed replica marked failed after {time.monotonic() - killed_at:.1f} s")
        assert failed["error_message"] == INTERRUPTED_MESSAGE
        holder.rollback()

    # Deleted through replica 3: gone from the store and for every replica.
    assert r3.client.delete(f"/api/backup/{job_id}").json() == {"deleted": True}
    assert r2.client.get(f"/api/backup/{job_id}").status_code == 404
    assert all(not key.endswith(f"{job_id}.zip") for key in s3_server.keys(bucket))
