"""A throwaway Redis server on this machine: to try the Redis backend, and for the tests and
benchmarks that run against a real one.

>>> import shutil, tempfile
>>> if shutil.which("redis-server"):
...     with local_redis(tempfile.mkdtemp()) as url:
...         print(url.startswith("redis://127.0.0.1:"))
... else:
...     print(True)
True
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from intentflow.collect.server import free_port

MISSING = "no redis-server here: install the Debian package redis-server"


@contextmanager
def local_redis(
    folder: str | Path, *, port: int | None = None, persist: bool = False, start_s: float = 5.0
) -> Iterator[str]:
    """Start ``redis-server`` on 127.0.0.1 (a free port unless ``port`` is given), its files in
    ``folder``, without persistence unless ``persist`` (then every write is in the append-only
    file before it is answered, and a server started again on ``folder`` has it); yield its URL
    once it answers; stop it after. Raises :class:`FileNotFoundError` (:data:`MISSING`) without
    the binary, :class:`RuntimeError` when it does not answer."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError(MISSING)
    Path(folder).mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    if persist:
        options += ["--appendonly", "yes", "--appendfsync", "always"]
    else:
        options += ["--appendonly", "no"]
    process = subprocess.Popen(
        [binary, *options, "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + start_s
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer on port {port}") from None
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)
