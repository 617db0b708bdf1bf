"""The flusher moves each log record into the lake exactly once, whatever step a crash interrupts.

A crash is simulated by making one step of a flush raise (a patched method), abandoning the objects
and building fresh ones on the same directories, as a restarted process would.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from intentflow.config import FlushSettings, Settings, WalSettings
from intentflow.events import event_from_dict, lake_lines
from intentflow.lake.layout import LakeLayout
from intentflow.lake.reader import Lake
from intentflow.lake.writer import LakeWriter
from intentflow.wal.checkpoint import CheckpointFile
from intentflow.wal.flusher import Flusher
from intentflow.wal.log import Position, WriteAheadLog
from intentflow.wal.service import EventLog, log_id

BASE = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
LINES_PER_RECORD = 3
DEADLINE_S = 20.0


class CrashError(Exception):
    """The injected crash."""


@dataclass
class Stack:
    """One "process": the log, the lake writer and the flusher on the test's directories."""

    settings: Settings
    wal: WriteAheadLog
    flusher: Flusher

    @property
    def layout(self) -> LakeLayout:
        return self.flusher.writer.layout

    def close(self) -> None:
        self.wal.close()


def open_stack(settings: Settings) -> Stack:
    directory = Path(settings.wal_dir)
    wal = WriteAheadLog(
        str(directory), fsync=settings.wal.fsync, segment_bytes=settings.wal.segment_bytes
    )
    flusher = Flusher(
        wal,
        LakeWriter(LakeLayout(settings.lake_dir), fsync=False),
        CheckpointFile(directory, fsync=False),
        settings.flush,
        wal_id=log_id(directory),
    )
    return Stack(settings, wal, flusher)


@pytest.fixture
def small(settings: Settings) -> Settings:
    """Small segments and small flushes, so that a few dozen events need several of each."""
    return settings.model_copy(
        update={
            "wal": WalSettings(fsync=False, segment_bytes=1500),
            "flush": FlushSettings(max_age_s=0.05, max_events=20),
        }
    )


@pytest.fixture
def stack(small: Settings) -> Iterator[Stack]:
    opened = open_stack(small)
    yield opened
    opened.close()


def event_lines(count: int, prefix: str = "m", *, step: timedelta = timedelta(hours=1)) -> bytes:
    """``count`` events as lake lines, an hour apart (so a few dozen span several days)."""
    events = [
        event_from_dict(
            {
                "type": "product_view" if i % 2 else "page_view",
                "message_id": f"{prefix}-{i:04d}",
                "user_id": f"u{i % 7}",
                "item_id": f"sku-{i % 5}",
                "timestamp": (BASE + i * step).isoformat(),
                "properties": {"i": i},
            }
        )
        for i in range(count)
    ]
    return lake_lines(events)


def records(lines: bytes, per_record: int = LINES_PER_RECORD) -> list[bytes]:
    """Split NDJSON lines into log records of ``per_record`` lines each."""
    rows = lines.splitlines(keepends=True)
    return [b"".join(rows[i : i + per_record]) for i in range(0, len(rows), per_record)]


def ids_of(lines: bytes) -> list[str]:
    import json

    return sorted(json.loads(line)["message_id"] for line in lines.splitlines())


def lake_ids(settings: Settings) -> Counter[str]:
    lake = Lake(settings.lake_dir)
    con = lake.connect()
    try:
        rows = lake.events(con).select("message_id").fetchall()
    finally:
        con.close()
    return Counter(str(row[0]) for row in rows)


def assert_exactly_once(settings: Settings, expected: list[str]) -> None:
    found = lake_ids(settings)
    assert sorted(found) == sorted(expected)
    duplicated = {k: v for k, v in found.items() if v > 1}
    assert duplicated == {}


def crash_on(
    monkeypatch: pytest.MonkeyPatch, owner: type, name: str, call: int = 1, *, after: bool = False
) -> list[int]:
    """Make ``owner.name`` raise :class:`CrashError` on its ``call``-th call (before doing its
    work, or after it with ``after``); returns the list that counts the calls."""
    original: Callable[..., Any] = getattr(owner, name)
    calls: list[int] = []

    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == call and not after:
            raise CrashError(f"{owner.__name__}.{name} call {call}")
        result = original(self, *args, **kwargs)
        if len(calls) == call and after:
            raise CrashError(f"after {owner.__name__}.{name} call {call}")
        return result

    monkeypatch.setattr(owner, name, patched)
    return calls


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


# -- a normal flush ----------------------------------------------------------------------------


def test_flush_all_moves_every_event_once(stack: Stack) -> None:
    lines = event_lines(60)
    for record in records(lines):
        stack.wal.append([record])
    assert stack.flusher.recover().position == Position(1, 0)
    assert stack.flusher.flush_all() == 60
    assert_exactly_once(stack.settings, ids_of(lines))
    assert stack.flusher.position == stack.wal.end
    assert CheckpointFile(stack.settings.wal_dir).load().position == stack.wal.end
    assert stack.layout.staged_files() == []
    # segments the lake holds are gone; only the active one is left
    assert stack.wal.segments() == [stack.wal.end.segment]
    assert stack.flusher.flush_all() == 0


def test_events_land_in_their_utc_date_partitions(stack: Stack) -> None:
    lines = event_lines(30)
    stack.wal.append(records(lines))
    stack.flusher.flush_all()
    lake = Lake(stack.settings.lake_dir)
    con = lake.connect()
    try:
        rows = lake.events(con).select("event_date, timestamp").fetchall()
    finally:
        con.close()
    assert {day for day, _ in rows} == {(BASE + timedelta(hours=i)).date() for i in range(30)}
    assert all(ts.astimezone(UTC).date() == day for day, ts in rows)


def test_max_events_caps_one_flush(stack: Stack) -> None:
    lines = event_lines(45)
    for record in records(lines, per_record=1):
        stack.wal.append([record])
    flushed = [stack.flusher.flush_once() for _ in range(4)]
    assert flushed == [20, 20, 5, 0]
    assert stack.flusher.flushes == 3
    assert stack.flusher.flushed_events == 45
    assert_exactly_once(stack.settings, ids_of(lines))


def test_max_events_never_splits_a_record(stack: Stack) -> None:
    lines = event_lines(45)
    stack.wal.append(records(lines, per_record=3))
    # 20 events are reached inside the 7th record of 3 lines, which is flushed whole
    assert stack.flusher.flush_once() == 21
    assert stack.flusher.flush_all() == 24
    assert_exactly_once(stack.settings, ids_of(lines))


def test_on_flushed_is_told_each_flush(small: Settings) -> None:
    told: list[int] = []
    opened = open_stack(small)
    opened.flusher.on_flushed = told.append
    try:
        opened.wal.append(records(event_lines(45), per_record=1))
        opened.flusher.flush_all()
    finally:
        opened.close()
    assert told == [20, 20, 5]


# -- crashes at each step of a flush --------------------------------------------------------------


@dataclass(frozen=True)
class CrashPoint:
    owner: type
    method: str
    call: int
    staged_left: bool
    """Staged files are on disk after the crash."""
    pending_left: bool
    """The checkpoint on disk lists renames still to be done."""


# each flush calls: stage_partition once per date, CheckpointFile.save twice (commit, clear),
# LakeWriter.publish once, WriteAheadLog.drop_before once
CRASH_POINTS = {
    "while-staging": CrashPoint(LakeWriter, "stage_partition", 2, True, False),
    "staged-before-commit": CrashPoint(CheckpointFile, "save", 1, True, False),
    "committed-before-publish": CrashPoint(LakeWriter, "publish", 1, True, True),
    "published-before-clear": CrashPoint(CheckpointFile, "save", 2, False, True),
    "cleared-before-drop": CrashPoint(WriteAheadLog, "drop_before", 1, False, False),
    "second-flush-before-commit": CrashPoint(CheckpointFile, "save", 3, True, False),
    "second-flush-before-publish": CrashPoint(LakeWriter, "publish", 2, True, True),
    "second-flush-before-clear": CrashPoint(CheckpointFile, "save", 4, False, True),
    "second-flush-before-drop": CrashPoint(WriteAheadLog, "drop_before", 2, False, False),
}


@pytest.mark.parametrize("point", list(CRASH_POINTS.values()), ids=list(CRASH_POINTS))
def test_crash_at_each_step_lands_every_event_exactly_once(
    small: Settings, monkeypatch: pytest.MonkeyPatch, point: CrashPoint
) -> None:
    lines = event_lines(60)
    first = open_stack(small)
    try:
        for record in records(lines):
            first.wal.append([record])
        first.flusher.recover()
        calls = crash_on(monkeypatch, point.owner, point.method, point.call)
        with pytest.raises(CrashError):
            first.flusher.flush_all()
        assert len(calls) == point.call
    finally:
        first.close()  # the process is gone; nothing else of it runs
    monkeypatch.undo()

    layout = LakeLayout(small.lake_dir)
    assert bool(layout.staged_files()) == point.staged_left
    on_disk = CheckpointFile(small.wal_dir).load()
    assert bool(on_disk.pending) == point.pending_left

    second = open_stack(small)
    try:
        recovered = second.flusher.recover()
        assert recovered.pending == []
        assert CheckpointFile(small.wal_dir).load().pending == []
        assert layout.staged_files() == []
        # the renames a committed checkpoint listed are done by recovery itself
        for _, final in on_disk.pending:
            assert layout.fs.exists(final)
        second.flusher.flush_all()
        assert_exactly_once(small, ids_of(lines))
        assert list(second.wal.read(second.flusher.position)) == []
        # more events after recovery go through normally, and old segments are released
        more = event_lines(10, "after")
        second.wal.append(records(more))
        second.flusher.flush_all()
        assert_exactly_once(small, ids_of(lines) + ids_of(more))
        assert second.wal.segments() == [second.wal.end.segment]
    finally:
        second.close()


def test_a_crash_during_recovery_is_recovered_again(
    small: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = event_lines(40)
    first = open_stack(small)
    try:
        first.wal.append(records(lines))
        crash_on(monkeypatch, LakeWriter, "publish", 1)
        with pytest.raises(CrashError):
            first.flusher.flush_all()
    finally:
        first.close()
    monkeypatch.undo()

    # recovery publishes one of the renames, then crashes
    second = open_stack(small)
    try:
        moved = crash_on(monkeypatch, LakeWriter, "publish", 1, after=True)
        with pytest.raises(CrashError):
            second.flusher.recover()
        assert len(moved) == 1
    finally:
        second.close()
    monkeypatch.undo()

    third = open_stack(small)
    try:
        third.flusher.recover()
        third.flusher.flush_all()
        assert_exactly_once(small, ids_of(lines))
    finally:
        third.close()


def test_a_torn_log_tail_is_not_flushed(small: Settings) -> None:
    lines = event_lines(12)
    first = open_stack(small)
    try:
        first.wal.append(records(lines))
    finally:
        first.close()
    last = Path(small.wal_dir) / f"{first.wal.end.segment:012d}.log"
    with open(last, "ab") as fh:
        fh.write(b"IF\x00\x01half a record")
    second = open_stack(small)
    try:
        second.flusher.recover()
        assert second.flusher.flush_all() == 12
        assert_exactly_once(small, ids_of(lines))
    finally:
        second.close()


# -- failures without a crash -------------------------------------------------------------------


def test_a_failed_publish_is_completed_by_the_next_flush(
    small: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flush that fails after its commit point must not lose its files when the same process
    flushes again (and a later flush commits new renames over the checkpoint)."""
    lines = event_lines(15)
    first = open_stack(small)
    try:
        first.flusher.recover()
        first.wal.append(records(lines))
        crash_on(monkeypatch, LakeWriter, "publish", 1)
        with pytest.raises(CrashError):
            first.flusher.flush_once()
        more = event_lines(15, "later")
        first.wal.append(records(more))
        first.flusher.flush_all()
        assert_exactly_once(small, ids_of(lines) + ids_of(more))
        assert first.layout.staged_files() == []
    finally:
        first.close()
    monkeypatch.undo()
    second = open_stack(small)
    try:
        second.flusher.recover()
        second.flusher.flush_all()
        assert_exactly_once(small, ids_of(lines) + ids_of(more))
    finally:
        second.close()


@pytest.mark.parametrize(
    ("owner", "method", "call"),
    [
        (LakeWriter, "stage", 1),
        (CheckpointFile, "save", 1),
        (CheckpointFile, "save", 2),
        (WriteAheadLog, "drop_before", 1),
    ],
    ids=["stage", "commit", "clear", "drop"],
)
def test_a_failed_step_is_retried_by_the_next_flush(
    small: Settings, monkeypatch: pytest.MonkeyPatch, owner: type, method: str, call: int
) -> None:
    lines = event_lines(15)
    opened = open_stack(small)
    try:
        opened.flusher.recover()
        opened.wal.append(records(lines))
        crash_on(monkeypatch, owner, method, call)
        with pytest.raises(CrashError):
            opened.flusher.flush_once()
        opened.flusher.flush_all()
        assert opened.layout.staged_files() == []
        assert CheckpointFile(small.wal_dir).load().pending == []
        assert_exactly_once(small, ids_of(lines))
    finally:
        opened.close()


# -- the background thread ------------------------------------------------------------------------


@pytest.fixture(params=[True, False], ids=["flusher-process", "flusher-thread"])
def event_log(small: Settings, request: pytest.FixtureRequest) -> Iterator[EventLog]:
    flush = small.flush.model_copy(update={"process": request.param})
    log = EventLog(small.model_copy(update={"flush": flush}))
    log.open()
    yield log
    log.close(flush=False)


def test_background_thread_flushes_by_age(small: Settings, event_log: EventLog) -> None:
    lines = event_lines(9)
    for record in records(lines):
        event_log.append_sync(record)
    # 9 events are far below max_events and max_bytes: only their age triggers the flush
    wait_for(lambda: sum(lake_ids(small).values()) == 9, "the age-triggered flush")
    assert event_log.flusher is not None
    assert event_log.flusher.flushes >= 1
    assert event_log.flusher.last_error is None
    assert event_log.healthy
    assert_exactly_once(small, ids_of(lines))
    assert list(event_log.unflushed_ids()) == []


def test_unflushed_ids_then_close_flushes_the_rest(small: Settings) -> None:
    slow = small.model_copy(update={"flush": FlushSettings(max_age_s=3600, max_events=10_000)})
    log = EventLog(slow)
    log.open()
    lines = event_lines(7)
    try:
        log.append_sync(lines)
        assert sorted(log.unflushed_ids()) == ids_of(lines)
        assert log.backlog_bytes == len(lines) + 10
    finally:
        log.close()
    assert_exactly_once(slow, ids_of(lines))


def test_pending_log_is_flushed_after_a_restart(small: Settings) -> None:
    slow = small.model_copy(update={"flush": FlushSettings(max_age_s=3600, max_events=10_000)})
    log = EventLog(slow)
    log.open()
    lines = event_lines(8)
    log.append_sync(lines)
    log.close(flush=False)
    assert lake_ids(slow) == Counter()
    again = EventLog(slow)
    again.open()
    try:
        # recovery notes the backlog, so the thread flushes it without waiting for max_age_s
        wait_for(lambda: sum(lake_ids(slow).values()) == 8, "the backlog flush")
    finally:
        again.close()
    assert_exactly_once(slow, ids_of(lines))


@pytest.mark.parametrize(
    ("owner", "method"),
    [(LakeWriter, "stage"), (LakeWriter, "publish"), (CheckpointFile, "save")],
)
def test_background_flush_failure_is_retried_and_cleared(
    small: Settings, monkeypatch: pytest.MonkeyPatch, owner: type, method: str
) -> None:
    original: Callable[..., Any] = getattr(owner, method)
    calls: list[int] = []
    retry = threading.Event()

    def fail_once(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("injected lake failure")
        # hold the retry until the test has seen the error
        assert retry.wait(DEADLINE_S)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, method, fail_once)
    in_thread = small.flush.model_copy(update={"process": False})  # the patch lives here
    log = EventLog(small.model_copy(update={"flush": in_thread}))
    log.open()
    lines = event_lines(9)
    try:
        assert log.flusher is not None
        flusher = log.flusher
        for record in records(lines):
            log.append_sync(record)
        wait_for(lambda: flusher.last_error is not None, "the failure to be reported")
        assert "injected lake failure" in str(flusher.last_error)
        assert not log.healthy
        retry.set()
        wait_for(
            lambda: flusher.last_error is None and sum(lake_ids(small).values()) == 9,
            "the retried flush",
        )
        assert log.healthy
        assert len(calls) >= 2
    finally:
        retry.set()
        log.close()
    assert_exactly_once(small, ids_of(lines))


def test_a_failing_lake_is_reported_and_retried(event_log: EventLog) -> None:
    """A real failure in either flusher mode: the lake's events folder is a file for a while."""
    settings = event_log.settings
    blocker = Path(settings.lake_dir) / "events"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    lines = event_lines(5)
    for record in records(lines):
        event_log.append_sync(record)
    flusher = event_log.flusher
    assert flusher is not None
    wait_for(lambda: flusher.last_error is not None, "the failure to be reported")
    assert not event_log.healthy
    blocker.unlink()
    wait_for(lambda: sum(lake_ids(settings).values()) == 5, "the retried flush")
    wait_for(lambda: flusher.last_error is None, "the error to clear")
    assert event_log.healthy
    assert_exactly_once(settings, ids_of(lines))
