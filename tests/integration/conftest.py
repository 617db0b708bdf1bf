"""Real processes: the collector as a subprocess on a free port, a moto S3 server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from intentflow.collect.server import free_port
from tests.conftest import READ_KEY, WRITE_KEY

_STARTED: list[ServerProcess] = []


@dataclass
class ServerProcess:
    """``intentflow serve`` running in a subprocess with its own data dir."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The server's environment: data dir, write key, fast flushes, plus ``env``."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("INTENTFLOW_")}
        base.update(
            {
                "INTENTFLOW_DATA_DIR": str(self.data_dir),
                "INTENTFLOW_WRITE_KEYS": WRITE_KEY,
                "INTENTFLOW_API_KEYS": READ_KEY,
                "INTENTFLOW_FLUSH__MAX_AGE_S": "0.3",
            }
        )
        base.update(self.env)
        return base

    def start(self) -> ServerProcess:
        """Start and wait until ``/readyz`` answers 200."""
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _STARTED.append(self)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "intentflow.cli", "serve", "--port", str(self.port)],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process.wait()
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not become ready: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no flush, no cleanup."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def terminate(self) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A started collector subprocess, terminated after the test."""
    proc = ServerProcess(tmp_path / "data").start()
    yield proc
    if proc.process is not None and proc.process.poll() is None:
        proc.terminate()


@pytest.fixture(autouse=True)
def _no_server_outlives_its_test() -> Iterator[None]:
    """Kill any server a test started and left running (a failed assertion skips its cleanup)."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.process is not None and proc.process.poll() is None:
            proc.kill()
