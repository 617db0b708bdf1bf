"""Open-loop HTTP load generator for the recommendation latency benchmark: a separate process,
raw keep-alive sockets, as little work per request as it can (so the server keeps the CPU).

Requests are scheduled at a fixed rate, whatever the server does: request ``i`` is due at
``start + i / rate``, and its latency is counted from that moment to the end of its reply (so a
server that falls behind shows its queue in the latencies instead of slowing the load, the
coordinated-omission trap). Each request takes the next path of a file (one per line, cycled)
and goes out on a free one of ``connections`` keep-alive connections, or waits for the first to
come free. The server's own time is read from each reply's ``Server-Timing`` header.

Prints one JSON line: ``client_ms`` and ``server_ms`` per request, the status counts, errors
(connection failures, and replies still missing ``timeout_s`` after the last request was due),
and how many requests were sent more than a millisecond after they were due.

Usage: ``python _openloop.py HOST PORT RATE SECONDS PATHS_FILE CONNECTIONS KEY``
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections import deque
from typing import Any

TIMEOUT_S = 5.0
_TIMING = re.compile(rb"server-timing: *app;dur=([0-9.]+)", re.IGNORECASE)
_LENGTH = re.compile(rb"content-length: *([0-9]+)", re.IGNORECASE)


class Load:
    """The schedule, the free connections and what came back."""

    def __init__(self, requests: list[bytes], rate: float):
        self.requests = requests
        self.interval = 1 / rate
        self.free: deque[Connection] = deque()
        self.waiting: deque[tuple[float, bytes]] = deque()
        self.client_ms: list[float] = []
        self.server_ms: list[float | None] = []
        self.status: dict[str, int] = {}
        self.errors: list[str] = []
        self.late = 0
        self.done = asyncio.Event()
        self.expected = 0

    def dispatch(self, due: float, request: bytes) -> None:
        if self.free:
            self.free.popleft().send(due, request)
        else:
            self.waiting.append((due, request))

    def finished(self, connection: Connection, due: float, head: bytes) -> None:
        self.client_ms.append((time.perf_counter() - due) * 1000)
        code = head[9:12].decode()
        self.status[code] = self.status.get(code, 0) + 1
        timing = _TIMING.search(head)
        self.server_ms.append(float(timing.group(1)) if timing else None)
        self.returned()
        if self.waiting:
            connection.send(*self.waiting.popleft())
        else:
            self.free.append(connection)

    def returned(self) -> None:
        if len(self.client_ms) + len(self.errors) >= self.expected:
            self.done.set()


class Connection(asyncio.Protocol):
    """One keep-alive connection: a request at a time, its reply parsed from the bytes."""

    def __init__(self, load: Load):
        self.load = load
        self.buffer = b""
        self.due = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.load.free.append(self)

    def send(self, due: float, request: bytes) -> None:
        self.due = due
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end]
        length = _LENGTH.search(head)
        size = int(length.group(1)) if length else 0
        if len(self.buffer) < end + 4 + size:
            return
        self.buffer = self.buffer[end + 4 + size :]
        self.load.finished(self, self.due, head)

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.load.free:
            self.load.free.remove(self)
        else:
            self.load.errors.append(type(exc).__name__ if exc else "closed")
            self.load.returned()


async def main() -> None:
    host, port, rate, seconds, paths_file, connections, key = sys.argv[1:8]
    with open(paths_file, "rb") as fh:
        paths = [line.rstrip(b"\n") for line in fh if line.strip()]
    tail = f" HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
    requests = [b"GET " + p + tail for p in paths]
    total = int(float(rate) * float(seconds))
    load = Load(requests, float(rate))
    load.expected = total
    loop = asyncio.get_running_loop()
    for _ in range(int(connections)):
        await loop.create_connection(lambda: Connection(load), host, int(port))
    start = time.perf_counter()
    for i in range(total):
        due = start + i * load.interval
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -0.001:
            load.late += 1
        load.dispatch(due, requests[i % len(requests)])
    try:
        await asyncio.wait_for(load.done.wait(), TIMEOUT_S)
    except TimeoutError:
        missing = total - len(load.client_ms) - len(load.errors)
        load.errors += ["TimeoutError"] * missing
    elapsed = time.perf_counter() - start
    result: dict[str, Any] = {
        "requests": total,
        "answered": len(load.client_ms),
        "errors": len(load.errors),
        "error_kinds": sorted(set(load.errors)),
        "status": load.status,
        "seconds": elapsed,
        "scheduled_late": load.late,
        "client_ms": load.client_ms,
        "server_ms": load.server_ms,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
