"""HTTP load generator for the ingestion benchmark: a separate process, raw keep-alive sockets.

Reads prebuilt request bodies from a file (one per line, base64 free: length-prefixed), sends them
over C concurrent keep-alive connections, and prints one JSON line with per-request latencies.
"""

from __future__ import annotations

import asyncio
import json
import struct
import sys
import time


async def _connection(
    host: str,
    port: int,
    path: str,
    key: str,
    bodies: list[bytes],
    queue: asyncio.Queue[int],
    latencies: list[float],
    status: dict[int, int],
    replies: list[bytes],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    while True:
        try:
            index = queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        body = bodies[index]
        started = time.perf_counter()
        writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        line = await reader.readline()
        code = int(line.split()[1])
        length = 0
        while True:
            header = await reader.readline()
            if header in (b"\r\n", b""):
                break
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        payload = await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        status[code] = status.get(code, 0) + 1
        replies.append(payload)
    writer.close()


async def main() -> None:
    host, port, path, key, bodies_file, concurrency = sys.argv[1:7]
    bodies = []
    with open(bodies_file, "rb") as fh:
        data = fh.read()
    pos = 0
    while pos < len(data):
        (size,) = struct.unpack_from("<I", data, pos)
        bodies.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(bodies)):
        queue.put_nowait(i)
    latencies: list[float] = []
    status: dict[int, int] = {}
    replies: list[bytes] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(
            _connection(host, int(port), path, key, bodies, queue, latencies, status, replies)
            for _ in range(int(concurrency))
        )
    )
    elapsed = time.perf_counter() - started
    accepted = duplicates = 0
    for reply in replies:
        if reply.startswith(b'{"accepted"'):
            body = json.loads(reply)
            accepted += body["accepted"]
            duplicates += body["duplicates"]
    print(
        json.dumps(
            {
                "elapsed_s": elapsed,
                "requests": len(latencies),
                "status": status,
                "latencies_ms": [round(x * 1000, 3) for x in latencies],
                "accepted": accepted,
                "duplicates": duplicates,
            }
        )
    )


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
