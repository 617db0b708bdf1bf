"""A Redis server that goes away and comes back: the processor tries the batch again with
growing pauses, the log keeps the events meanwhile, and once the server is back every event is
counted once."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest

from intentflow.features.kinds import MICROS
from intentflow.features.online import Catalog, online_features
from intentflow.state.local import MISSING, local_redis
from intentflow.state.redis import RedisStore
from intentflow.stream.log_source import LogSource
from intentflow.stream.processor import Processor
from intentflow.stream.runner import StreamRunner
from intentflow.wal.log import WriteAheadLog
from tests.streams import view_lines, wait_until

BASE = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_the_processor_waits_out_a_redis_outage_and_loses_nothing(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip(MISSING)
    wal = WriteAheadLog(str(tmp_path / "wal"), fsync=False)
    source = LogSource(tmp_path / "wal", fsync=False)
    with local_redis(tmp_path / "redis", persist=True) as url:
        catalog = Catalog.of(online_features(), slack_s=3600)
        store = RedisStore(url, catalog, namespace="outage", ttl_s=3600)
        runner = StreamRunner(Processor(store, lateness_s=3600), source, poll_s=0.05)
        runner.start()
        source.advance(wal.append([view_lines(0, 40, people=4, start=BASE)]))
        wait_until(lambda: runner.stats.events == 40)
    # the server is gone; events keep coming
    source.advance(
        wal.append(
            [view_lines(40, 30, people=4, start=BASE), view_lines(70, 30, people=4, start=BASE)]
        )
    )
    wait_until(lambda: runner.stats.failures >= 2)  # tried, paused, tried again
    assert runner.stats.events == 40 and runner.stats.last_error is not None
    with local_redis(tmp_path / "redis", port=urlparse(url).port, persist=True):  # back
        wait_until(lambda: runner.stats.events == 100, seconds=60)
        cutoff = int((BASE + timedelta(seconds=101)).timestamp() * MICROS)
        held = store.get_many([f"u{i}" for i in range(4)])
        counts = {p: s.values(cutoff)["product_views_15m"] for p, s in held.items()}
        assert counts == {f"u{i}": 25 for i in range(4)}
        assert runner.stats.last_error is None
        runner.stop()
        store.close()
    wal.close()
