"""The collector as a real process: events over HTTP reach the lake; SIGTERM flushes and exits."""

from __future__ import annotations

import gzip
import time

import httpx
import msgspec

from intentflow.lake.reader import Lake
from tests.conftest import WRITE_KEY
from tests.integration.conftest import ServerProcess


def _events(n: int, prefix: str = "m") -> list[dict[str, object]]:
    return [
        {
            "message_id": f"{prefix}-{i}",
            "type": "product_view",
            "user_id": f"u{i % 7}",
            "item_id": f"sku-{i % 13}",
            "timestamp": "2026-11-20T10:00:00Z",
        }
        for i in range(n)
    ]


def _lake_ids(server: ServerProcess) -> list[str]:
    lake = Lake(str(server.data_dir / "lake"))
    con = lake.connect()
    return [row[0] for row in lake.events(con).project("message_id").fetchall()]


def test_events_reach_the_lake_and_sigterm_flushes(server: ServerProcess) -> None:
    reply = httpx.post(
        server.url + "/v1/events", json={"events": _events(250)}, auth=(WRITE_KEY, "")
    )
    assert reply.status_code == 200
    assert reply.json() == {"accepted": 250, "duplicates": 0, "rejected": []}
    body = gzip.compress(msgspec.json.encode({"events": _events(50, "g")}))
    reply = httpx.post(
        server.url + "/v1/events",
        content=body,
        headers={
            "Authorization": f"Bearer {WRITE_KEY}",
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        },
    )
    assert reply.json()["accepted"] == 50
    assert server.terminate() == 0
    ids = _lake_ids(server)
    assert sorted(ids) == sorted([f"m-{i}" for i in range(250)] + [f"g-{i}" for i in range(50)])


def test_background_flusher_moves_events_within_its_max_age(server: ServerProcess) -> None:
    httpx.post(server.url + "/v1/events", json={"events": _events(10)}, auth=(WRITE_KEY, ""))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_lake_ids(server)) < 10:
        time.sleep(0.1)
    assert len(_lake_ids(server)) == 10
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["status"] == "ready" and ready["backlog_bytes"] == 0


def test_retries_after_a_restart_are_still_recognised(server: ServerProcess) -> None:
    events = _events(40)
    assert (
        httpx.post(server.url + "/v1/events", json={"events": events}, auth=(WRITE_KEY, "")).json()[
            "accepted"
        ]
        == 40
    )
    assert server.terminate() == 0
    server.port = server.port  # same data dir, same port
    server.start()
    reply = httpx.post(server.url + "/v1/events", json={"events": events}, auth=(WRITE_KEY, ""))
    assert reply.json() == {"accepted": 0, "duplicates": 40, "rejected": []}
    assert server.terminate() == 0
    assert len(_lake_ids(server)) == 40
