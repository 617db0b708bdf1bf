"""``kill -9`` at any moment loses no acknowledged event and duplicates none.

Client threads send batches to a real server process. The test kills it with SIGKILL while
batches are in flight (and while the flusher is busy: it flushes every 50 ms), restarts it on the
same data dir, lets the clients retry whatever was not acknowledged, then stops the server cleanly
and compares the lake with what was acknowledged, id by id.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from intentflow.lake.reader import Lake
from tests.conftest import WRITE_KEY
from tests.integration.conftest import ServerProcess

BATCH = 100
BATCHES = 60


class Client(threading.Thread):
    """Sends its own batches in order; retries a batch until the server acknowledges it."""

    def __init__(self, name: str, batches: int, target: list[str]):
        super().__init__(daemon=True)
        self.batches = [
            [
                {
                    "message_id": f"{name}-{b}-{i}",
                    "type": "product_view",
                    "user_id": f"{name}-u{i % 9}",
                    "item_id": f"sku-{(b * 31 + i) % 97}",
                    "timestamp": "2026-11-20T10:00:00Z",
                }
                for i in range(BATCH)
            ]
            for b in range(batches)
        ]
        self.target = target
        self.acked: list[str] = []
        self.attempts = 0

    def run(self) -> None:
        with httpx.Client(timeout=10, auth=(WRITE_KEY, "")) as http:
            for batch in self.batches:
                while True:
                    self.attempts += 1
                    try:
                        reply = http.post(self.target[0] + "/v1/events", json={"events": batch})
                    except httpx.TransportError:
                        time.sleep(0.05)
                        continue
                    if reply.status_code == 200:
                        body = reply.json()
                        assert body["accepted"] + body["duplicates"] == BATCH
                        self.acked.extend(e["message_id"] for e in batch)  # type: ignore[misc]
                        break
                    time.sleep(0.05)


def _lake_ids(data_dir: Path) -> Counter[str]:
    lake = Lake(str(data_dir / "lake"))
    con = lake.connect()
    return Counter(row[0] for row in lake.events(con).project("message_id").fetchall())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_mid_stream_loses_and_duplicates_nothing(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    env = {"INTENTFLOW_FLUSH__MAX_AGE_S": "0.05"}
    server = ServerProcess(tmp_path / "data", env=env).start()
    target = [server.url]
    clients = [Client(f"c{seed}{n}", batches=BATCHES, target=target) for n in range(4)]
    for client in clients:
        client.start()
    total = 4 * BATCHES * BATCH
    for share in (0.2, 0.5, 0.8):
        deadline = time.monotonic() + 120
        while sum(len(c.acked) for c in clients) < share * total:
            assert time.monotonic() < deadline, "clients stalled"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.05))
        server.kill()
        restarted = ServerProcess(tmp_path / "data", env=env).start()
        server = restarted
        target[0] = server.url
    for client in clients:
        client.join(timeout=120)
        assert not client.is_alive()
    assert server.terminate() == 0

    acked = [mid for client in clients for mid in client.acked]
    sent = {e["message_id"] for client in clients for batch in client.batches for e in batch}
    in_lake = _lake_ids(tmp_path / "data")
    assert len(acked) == len(set(acked)) == total
    missing = set(acked) - set(in_lake)
    duplicated = {mid: n for mid, n in in_lake.items() if n > 1}
    assert not missing, f"{len(missing)} acknowledged events lost"
    assert not duplicated, f"{len(duplicated)} events duplicated"
    assert set(in_lake) <= sent
    assert sum(client.attempts for client in clients) > 4 * BATCHES, "no request was interrupted"


def test_a_killed_flusher_process_is_replaced_and_nothing_is_lost(tmp_path: Path) -> None:
    import psutil

    server = ServerProcess(tmp_path / "data", env={"INTENTFLOW_FLUSH__MAX_AGE_S": "0.05"}).start()
    client = Client("fk", batches=30, target=[server.url])
    assert server.process is not None

    def flusher_processes() -> list[psutil.Process]:
        assert server.process is not None
        children = psutil.Process(server.process.pid).children(recursive=True)
        return [p for p in children if "resource_tracker" not in " ".join(p.cmdline())]

    flushers = flusher_processes()
    assert len(flushers) == 1
    client.start()
    deadline = time.monotonic() + 60
    while len(client.acked) < 10 * BATCH:
        assert time.monotonic() < deadline, "client stalled"
        time.sleep(0.01)
    flushers[0].kill()
    client.join(timeout=120)
    assert not client.is_alive()
    ready = deadline = time.monotonic() + 60
    while True:
        ready = httpx.get(server.url + "/readyz").status_code == 200
        if ready or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert ready, "the flusher was not replaced"
    assert [p.pid for p in flusher_processes()] != [flushers[0].pid]
    assert server.terminate() == 0
    in_lake = _lake_ids(tmp_path / "data")
    assert set(client.acked) == set(in_lake)
    assert max(in_lake.values()) == 1


def test_a_second_collector_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path / "data").start()
    second = ServerProcess(tmp_path / "data")
    with pytest.raises(RuntimeError, match="another intentflow process is writing"):
        second.start()
    assert first.terminate() == 0
