"""A real S3-compatible server for the tests: moto_server (PyPI `moto[server]`) on 127.0.0.1.

Started once per test session as its own process (never an in-process mock); each test gets a
bucket of its own. `BACKUPD_TEST_S3_ENDPOINT` points the tests at another server instead (for
example a Ceph radosgw started by ../shared/tools/s3/start-rgw.sh), with the AWS_* keys it needs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TEST_KEYS = {
    "AWS_ACCESS_KEY_ID": "backupd-test",
    "AWS_SECRET_ACCESS_KEY": "backupd-test-secret",
    "AWS_REGION": "us-east-1",
}


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    env: dict[str, str]  # AWS_* variables for this server

    def client(self):  # botocore client, for set-up and for looking behind backupd's back
        import botocore.session

        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.env["AWS_REGION"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> str:
        name = "backupd-" + uuid.uuid4().hex[:16]
        client = self.client()
        client.create_bucket(Bucket=name)
        client.close()
        return name

    def keys(self, bucket: str) -> list[str]:
        client = self.client()
        try:
            return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        finally:
            client.close()

    def uploads(self, bucket: str) -> list[str]:
        client = self.client()
        try:
            return [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
        finally:
            client.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    endpoint = os.environ.get("BACKUPD_TEST_S3_ENDPOINT")
    if endpoint:
        env = {k: os.environ[k] for k in TEST_KEYS if k in os.environ}
        yield S3Server(endpoint, {**TEST_KEYS, **env})
        return
    port = _free_port()
    moto = Path(sys.executable).with_name("moto_server")
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")  # noqa: SIM115 - outlives the yield; closed below
    proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start (see {log.name})") from None
            time.sleep(0.1)
    yield S3Server(endpoint, dict(TEST_KEYS))
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.fixture
def s3_store_url(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """`s3://<a new bucket>/backups`, with the AWS_* variables set for this process."""
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    return f"s3://{s3_server.new_bucket()}/backups"
