"""Open-loop HTTP load generator for the recommendation latency benchmark: a separate process,
raw keep-alive sockets.

Requests are scheduled at a fixed rate, whatever the server does: request ``i`` is due at
``start + i / rate``, and its latency is counted from that moment to the end of its reply (so a
server that falls behind shows its queue in the latencies instead of slowing the load, the
coordinated-omission trap). Each request takes the next path of a file (one per line, cycled)
and goes out on the first free one of ``connections`` keep-alive connections. The server's own
time is read from each reply's ``Server-Timing`` header.

Prints one JSON line: ``client_ms`` and ``server_ms`` per request, the status counts, errors
(connection failures and replies later than ``timeout_s``), and the rate achieved.

Usage: ``python _openloop.py HOST PORT RATE SECONDS PATHS_FILE CONNECTIONS KEY``
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from typing import Any

TIMEOUT_S = 5.0
_TIMING = re.compile(rb"dur=([0-9.]+)")


async def _worker(
    host: str,
    port: int,
    key: str,
    jobs: asyncio.Queue[tuple[float, bytes] | None],
    out: dict[str, list[Any]],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = f"Host: {host}\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
    while (job := await jobs.get()) is not None:
        due, path = job
        try:
            writer.write(b"GET " + path + b" HTTP/1.1\r\n" + head)
            line = await asyncio.wait_for(reader.readline(), TIMEOUT_S)
            code = int(line.split()[1])
            length, server_ms = 0, None
            while True:
                header = await reader.readline()
                if header in (b"\r\n", b""):
                    break
                name, _, value = header.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"server-timing" and (found := _TIMING.search(value)):
                    server_ms = float(found.group(1))
            await reader.readexactly(length)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            out["errors"].append(type(exc).__name__)
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
            continue
        out["client_ms"].append((time.perf_counter() - due) * 1000)
        out["server_ms"].append(server_ms)
        out["status"].append(code)
    writer.close()


async def main() -> None:
    host, port, rate, seconds, paths_file, connections, key = sys.argv[1:8]
    with open(paths_file, "rb") as fh:
        paths = [line.rstrip(b"\n") for line in fh if line.strip()]
    total = int(float(rate) * float(seconds))
    out: dict[str, list[Any]] = {"client_ms": [], "server_ms": [], "status": [], "errors": []}
    jobs: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    workers = [
        asyncio.create_task(_worker(host, int(port), key, jobs, out))
        for _ in range(int(connections))
    ]
    await asyncio.sleep(0.2)  # the connections are open before the clock starts
    start = time.perf_counter()
    interval = 1 / float(rate)
    late = 0
    for i in range(total):
        due = start + i * interval
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -0.001:
            late += 1
        jobs.put_nowait((due, paths[i % len(paths)]))
    for _ in workers:
        jobs.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    status: dict[str, int] = {}
    for code in out["status"]:
        status[str(code)] = status.get(str(code), 0) + 1
    result = {
        "requests": total,
        "answered": len(out["client_ms"]),
        "errors": len(out["errors"]),
        "error_kinds": sorted(set(out["errors"])),
        "status": status,
        "seconds": elapsed,
        "scheduled_late": late,
        "client_ms": out["client_ms"],
        "server_ms": out["server_ms"],
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
