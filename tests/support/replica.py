"""A `backupd serve` subprocess on a free port, as a replica of the service (its log kept beside its data)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


class Replica:
    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log = open(data_dir.with_suffix(".log"), "wb")  # noqa: SIM115 - lives as long as the replica; stop() closes it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "backupd", "serve", "--port", str(self.port), "--log-level", "warning"],
            env={**os.environ, **env, "BACKUPD_DATA_DIR": str(data_dir)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.client.get("/api/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, Path(self.log.name).read_text()
            assert time.monotonic() < deadline, "replica did not start"
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        self.client.close()
        self.log.close()
