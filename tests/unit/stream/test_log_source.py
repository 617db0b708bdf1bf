"""The log source reads what the collector made durable, once, and the log keeps what it has not
applied: resumed after a restart, held against the flusher, measured as backlog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from intentflow.config import FlushSettings
from intentflow.lake.layout import LakeLayout
from intentflow.lake.writer import LakeWriter
from intentflow.stream.log_source import PARTITION, LogSource, backlog
from intentflow.wal.checkpoint import CheckpointFile
from intentflow.wal.flusher import Flusher
from intentflow.wal.log import Position, WriteAheadLog
from tests.streams import view_lines

BASE = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
ACCEPTED = timedelta(milliseconds=250)


def _append(wal: WriteAheadLog, records: int, per_record: int, first: int = 0) -> Position:
    payloads = [
        view_lines(
            first + r * per_record, per_record, people=3, start=BASE, accepted_after=ACCEPTED
        )
        for r in range(records)
    ]
    return wal.append(payloads)


def _ids(events: list[dict[str, object]]) -> list[str]:
    return [str(e["message_id"]) for e in events]


def test_events_come_in_log_order_with_growing_offsets_and_times(tmp_path: Path) -> None:
    wal = WriteAheadLog(str(tmp_path), fsync=False)
    source = LogSource(tmp_path, fsync=False)
    source.advance(_append(wal, records=3, per_record=4))
    events = source.poll(0)
    assert _ids(events) == [f"m{n}" for n in range(12)]
    offsets = [int(e["offset"]) for e in events]  # type: ignore[call-overload]
    assert offsets == sorted(set(offsets)) and {e["partition"] for e in events} == {PARTITION}
    assert events[5]["us"] == int((BASE + timedelta(seconds=5)).timestamp() * 1_000_000)
    assert events[5]["accepted_us"] == events[5]["us"] + 250_000  # type: ignore[operator]
    assert source.poll(0) == []  # nothing new
    wal.close()


def test_a_batch_is_whole_records_up_to_the_cap(tmp_path: Path) -> None:
    wal = WriteAheadLog(str(tmp_path), fsync=False)
    source = LogSource(tmp_path, max_events=5, fsync=False)
    source.advance(_append(wal, records=4, per_record=3))
    sizes = []
    while events := source.poll(0):
        sizes.append(len(events))
    assert sizes == [6, 6]
    wal.close()


def test_a_new_source_resumes_after_what_was_applied_and_repeats_nothing(tmp_path: Path) -> None:
    wal = WriteAheadLog(str(tmp_path), fsync=False)
    first = LogSource(tmp_path, fsync=False)
    first.advance(_append(wal, records=2, per_record=5))
    events = first.poll(0)
    # the processor applied up to the 7th event of 10 (a batch cut inside a record)
    first.commit({PARTITION: int(events[6]["offset"])})  # type: ignore[call-overload]
    # a crash: the next source knows only the hold (a memory store starts empty)
    second = LogSource(tmp_path, fsync=False)
    second.advance(_append(wal, records=1, per_record=5, first=10))
    assert second.applied() == {PARTITION: events[6]["offset"]}
    assert _ids(second.poll(0)) == [f"m{n}" for n in range(7, 15)]
    # a store that remembers more than the hold wins
    later = int(events[-1]["offset"])  # type: ignore[call-overload]
    third = LogSource(tmp_path, applied=later, fsync=False)
    third.advance(wal.end)
    assert third.applied() == {PARTITION: later}
    assert _ids(third.poll(0)) == [f"m{n}" for n in range(10, 15)]
    wal.close()


def test_the_flusher_keeps_segments_the_stream_has_not_applied(tmp_path: Path) -> None:
    wal_dir, lake_dir = tmp_path / "wal", tmp_path / "lake"
    wal = WriteAheadLog(str(wal_dir), fsync=False, segment_bytes=500)
    source = LogSource(wal_dir, fsync=False)
    flusher = Flusher(
        wal,
        LakeWriter(LakeLayout(str(lake_dir)), fsync=False),
        CheckpointFile(wal_dir, fsync=False),
        FlushSettings(max_events=1_000_000),
        wal_id="t",
    )
    for n in range(8):  # each append fills a segment past 500 bytes: the next one rolls
        _append(wal, records=1, per_record=4, first=n * 4)
    source.advance(wal.end)
    assert flusher.flush_all() == 32
    assert len(wal.segments()) == 8  # all in the lake, none applied: the log keeps them all
    assert backlog(wal_dir).events == 32
    assert backlog(wal_dir).oldest_accepted_us == int(
        (BASE + timedelta(milliseconds=250)).timestamp() * 1_000_000
    )
    events = source.poll(0)
    source.commit({PARTITION: int(events[-1]["offset"])})  # type: ignore[call-overload]
    _append(wal, records=1, per_record=2, first=100)
    flusher.flush_all()
    assert wal.segments() == [8, 9]  # the hold's (the last applied record's) and the new one
    assert backlog(wal_dir).events == 2
    wal.close()


def test_without_a_hold_there_is_no_backlog_and_the_flusher_drops_as_before(
    tmp_path: Path,
) -> None:
    wal = WriteAheadLog(str(tmp_path), fsync=False, segment_bytes=500)
    flusher = Flusher(
        wal,
        LakeWriter(LakeLayout(str(tmp_path / "lake")), fsync=False),
        CheckpointFile(tmp_path, fsync=False),
        FlushSettings(),
        wal_id="t",
    )
    for n in range(3):
        _append(wal, records=1, per_record=4, first=n * 4)
    flusher.flush_all()
    assert wal.segments() == [3]
    assert backlog(tmp_path).events == 0
    wal.close()


def test_a_log_with_nothing_readable_is_waited_on_not_polled_in_a_loop(tmp_path: Path) -> None:
    import threading

    wal = WriteAheadLog(str(tmp_path), fsync=False)
    source = LogSource(tmp_path, fsync=False)
    source.advance(wal.end)  # a fresh log ends past its cursor, with no record to read
    polls = 0
    stop = threading.Event()

    def loop() -> None:
        nonlocal polls
        while not stop.is_set():
            source.poll(5)
            polls += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    stop.wait(0.3)
    stop.set()
    source.advance(_append(wal, records=1, per_record=2))  # wakes it, with events
    thread.join(timeout=10)
    assert not thread.is_alive() and polls <= 3  # a busy loop makes thousands
    wal.close()
