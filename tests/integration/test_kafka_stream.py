"""The Kafka transport against a real Kafka-protocol broker (Tansu): the collector's log
forwarded to the topic keyed by person, processors in one consumer group sharing the
partitions, a processor killed and restarted, and each event counted once throughout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from intentflow.cli import app
from intentflow.config import Settings
from intentflow.features.kinds import MICROS
from intentflow.features.online import Catalog, online_features
from intentflow.state.redis import RedisStore
from intentflow.stream.kafka_forwarder import HOLD_NAME, KafkaForwarder
from intentflow.stream.kafka_source import KafkaSource
from intentflow.stream.local_kafka import MISSING, local_kafka
from intentflow.stream.log_source import LogSource
from intentflow.stream.service import Stream
from intentflow.wal.hold import Hold, HoldFile
from intentflow.wal.log import WriteAheadLog
from tests.conftest import READ, WRITE_KEY
from tests.integration.conftest import ServerProcess
from tests.streams import view_lines, wait_until

BASE = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
PEOPLE = 24
STEP = timedelta(milliseconds=1)
CUTOFF_US = int((BASE + timedelta(hours=1)).timestamp() * MICROS)


@pytest.fixture(scope="module")
def kafka() -> Iterator[str]:
    """A fresh broker for this module (a group can stick after its members leave)."""
    try:
        with local_kafka() as bootstrap:
            yield bootstrap
    except FileNotFoundError:
        pytest.fail(MISSING)  # a Python dependency: make install brings it


@pytest.fixture
def settings(tmp_path: Path, kafka: str, redis_url: str) -> Settings:
    """Kafka transport, Redis state; a topic, group and namespace of the test's own."""
    name = uuid.uuid4().hex[:8]
    return Settings(
        data_dir=str(tmp_path / "data"),
        kafka_bootstrap=kafka,
        state="redis",
        redis_url=redis_url,
        online={"namespace": f"k{name}"},
        stream={"topic": f"events-{name}", "group": f"g-{name}", "partitions": 4},
    )


class Collector:
    """The collector's half: a log, and the forwarder reading it into Kafka."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.wal = WriteAheadLog(settings.wal_dir, fsync=False)
        self.forwarder = self._forwarder()
        self.sent = 0

    def _forwarder(self) -> KafkaForwarder:
        reader = LogSource(self.settings.wal_dir, name=HOLD_NAME, partition="log-t", fsync=False)
        reader.advance(self.wal.end)
        return KafkaForwarder(self.settings, reader, poll_s=0.05).start()

    def send(self, records: int, per_record: int = 50) -> None:
        payloads = [
            view_lines(self.sent + r * per_record, per_record, people=PEOPLE, start=BASE, step=STEP)
            for r in range(records)
        ]
        self.forwarder.reader.advance(self.wal.append(payloads))
        self.sent += records * per_record

    def restart_forwarder_from_the_start(self) -> None:
        """As after a crash before the forwarder's hold moved: everything is sent again."""
        self.forwarder.stop()
        HoldFile(self.settings.wal_dir, HOLD_NAME, fsync=False).save(Hold(0, 0))
        self.forwarder = self._forwarder()

    def close(self) -> None:
        self.forwarder.stop()
        self.wal.close()


def _counts(settings: Settings) -> Counter[str]:
    store = RedisStore(
        settings.redis_url,
        Catalog.of(online_features()),
        namespace=settings.online.namespace,
        ttl_s=3600,
    )
    held = store.get_many([f"u{n}" for n in range(PEOPLE)])
    store.close()
    return Counter({p: s.values(CUTOFF_US)["product_views_1h"] for p, s in held.items()})


def _expected(sent: int) -> Counter[str]:
    return Counter(f"u{n % PEOPLE}" for n in range(sent))


def test_two_processors_share_the_partitions_and_count_each_event_once(
    settings: Settings,
) -> None:
    collector = Collector(settings)
    sources = [KafkaSource(settings, max_events=200) for _ in range(2)]
    first, second = (Stream(settings, source).start() for source in sources)
    try:
        wait_until(lambda: all(source.assigned for source in sources))
        assert sorted(sources[0].assigned + sources[1].assigned) == [0, 1, 2, 3]
        collector.send(records=20)
        wait_until(lambda: _counts(settings) == _expected(collector.sent))
        assert first.runner.stats.events > 0 and second.runner.stats.events > 0
        # the forwarder sends everything again (a crash before its hold moved): no change
        collector.restart_forwarder_from_the_start()
        collector.send(records=2)

        def repeated() -> int:
            return first.runner.stats.repeated + second.runner.stats.repeated

        # the new events may be applied before every partition's copies have come back
        wait_until(lambda: repeated() >= 20 * 50)
        time.sleep(0.5)  # time for anything counted twice to show
        assert repeated() == 20 * 50
        assert _counts(settings) == _expected(collector.sent)
    finally:
        first.close()
        second.close()
        collector.close()


def _stream_process(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTFLOW_")}
    env |= {
        "INTENTFLOW_DATA_DIR": settings.data_dir,
        "INTENTFLOW_KAFKA_BOOTSTRAP": str(settings.kafka_bootstrap),
        "INTENTFLOW_STATE": "redis",
        "INTENTFLOW_REDIS_URL": settings.redis_url,
        "INTENTFLOW_ONLINE__NAMESPACE": settings.online.namespace,
        "INTENTFLOW_STREAM__TOPIC": settings.stream.topic,
        "INTENTFLOW_STREAM__GROUP": settings.stream.group,
        "INTENTFLOW_STREAM__MAX_BATCH_EVENTS": "100",
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "intentflow.cli", "stream"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_a_processor_killed_and_restarted_loses_and_repeats_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    collector = Collector(settings)
    log = tmp_path / "stream.log"
    process = _stream_process(settings, log)
    try:
        collector.send(records=10)
        wait_until(lambda: sum(_counts(settings).values()) > 0)  # it joined and works
        collector.send(records=30, per_record=20)
        process.send_signal(signal.SIGKILL)  # mid-stream: no goodbye, no last commit
        process.wait(timeout=10)
        collector.send(records=10)
        process = _stream_process(settings, log)
        wait_until(lambda: _counts(settings) == _expected(collector.sent), seconds=120)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
        collector.close()


def test_serve_forwards_to_kafka_and_answers_from_its_own_group_member(
    tmp_path: Path, kafka: str
) -> None:
    name = uuid.uuid4().hex[:8]
    env = {
        "INTENTFLOW_KAFKA_BOOTSTRAP": kafka,
        "INTENTFLOW_STREAM__TOPIC": f"serve-{name}",
        "INTENTFLOW_STREAM__GROUP": f"serve-{name}",
        "INTENTFLOW_STREAM__PARTITIONS": "2",
    }
    server = ServerProcess(tmp_path / "data", env=env).start()
    events = [
        {
            "message_id": f"e{n}",
            "type": "product_view",
            "user_id": f"v{n % 3}",
            "item_id": f"sku-{n}",
            "timestamp": (BASE + timedelta(seconds=n)).isoformat(),
        }
        for n in range(30)
    ]
    sent = httpx.post(f"{server.url}/v1/events", json={"events": events}, auth=(WRITE_KEY, ""))
    assert sent.status_code == 200
    wait_until(lambda: httpx.get(f"{server.url}/v1/stream/status").json()["events"] == 30)
    status = httpx.get(f"{server.url}/v1/stream/status?last=30").json()
    assert status["running"] and status["freshness_ms"]["p99"] is not None
    assert (
        httpx.get(f"{server.url}/v1/users/v1/intent", headers=READ).status_code == 200
    )  # known, unscored
    assert server.terminate() == 0
    result = CliRunner().invoke(
        app,
        ["stream", "status", "--json"],
        env={"INTENTFLOW_DATA_DIR": str(tmp_path / "data"), **env},
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["transport"] == "kafka" and found["log_events_behind"] == 0
