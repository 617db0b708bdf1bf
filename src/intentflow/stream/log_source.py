"""The embedded transport: the stream processor reads the collector's write-ahead log.

The collector's group commit tells the source how far the log is durable (:meth:`LogSource.
advance`); the source reads the new records from the segment files (the page cache holds them),
so the hand-off carries a position, not a copy of the events, and the log itself is the bounded
queue: a slow processor falls behind in the log, never in memory. After each applied batch the
source saves its hold (see :mod:`intentflow.wal.hold`), and the flusher keeps every segment from
the hold on.

An event's offset is its place in the log: segment, byte offset of its record, and its index in
the record, packed into one growing integer (:func:`log_offset`).

>>> position = log_position(log_offset(Position(3, 1_000), 7))
>>> position, log_offset(Position(3, 1_000), 7) > log_offset(Position(2, 10**9), 0)
(Position(segment=3, offset=1000), True)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from intentflow.stream.records import decode
from intentflow.stream.source import Backlog, Event
from intentflow.wal.hold import Hold, HoldFile
from intentflow.wal.log import LogFollower, Position

PARTITION = "log"
HOLD_NAME = "stream"
_INDEX_BITS = 24
_OFFSET_BITS = 40


def log_offset(record: Position, index: int) -> int:
    """The offset of the ``index``-th event of the record at ``record``."""
    return (record.segment << (_OFFSET_BITS + _INDEX_BITS)) | (record.offset << _INDEX_BITS) | index


def log_position(offset: int) -> Position:
    """The position of the record holding the event at ``offset``."""
    return Position(
        offset >> (_OFFSET_BITS + _INDEX_BITS), (offset >> _INDEX_BITS) & ((1 << _OFFSET_BITS) - 1)
    )


class LogSource:
    """Reads the log in ``directory`` behind its writer (see the module's doc)."""

    def __init__(
        self,
        directory: str | Path,
        *,
        name: str = HOLD_NAME,
        partition: str = PARTITION,
        applied: int | None = None,
        max_events: int = 5_000,
        fsync: bool = True,
    ):
        self.directory = Path(directory)
        self.partition = partition
        """The log's name among the processor's positions: name it by the log's id, so that a
        log made anew never looks applied to a store that remembers an old one."""
        self.max_events = max_events
        self.hold_file = HoldFile(self.directory, name, fsync=fsync)
        """Each reader of the log (this processor, a Kafka forwarder) holds it by its name."""
        hold = self.hold_file.load()
        self._applied = -1 if applied is None else applied
        if hold is not None:
            self._applied = max(self._applied, hold.applied)
        self._cursor = log_position(self._applied) if self._applied >= 0 else Position(0, 0)
        self._last_read = self._applied
        self.follower = LogFollower(self.directory, self._cursor)
        self._wake = threading.Condition()
        self._closed = False
        self._idle_at: Position | None = None
        """The log's end when a read last found nothing to read."""
        self._save_hold()

    def _save_hold(self) -> None:
        # the record of the last applied event: it is read again after a restart, and its
        # events up to that one are skipped
        start = log_position(self._applied) if self._applied >= 0 else self._cursor
        self.hold_file.save(Hold(start.segment, start.offset, self._applied))

    def advance(self, end: Position, *_: object) -> None:
        """The log is durable up to ``end`` (called by the log's writer)."""
        with self._wake:
            self.follower.advance(end)
            self._wake.notify()

    def records(self, timeout_s: float) -> list[tuple[Position, bytes]]:
        """Whole records from the cursor on, as they are in the log, at least ``max_events``
        events when there are that many (waits up to ``timeout_s`` when there are none)."""
        with self._wake:
            end = self.follower.end
            # nothing past the cursor, or nothing readable there since the last look (a log's
            # end can lie past its last whole record): wait for the writer, not in a busy loop
            if (end <= self._cursor or end == self._idle_at) and not self._closed:
                self._wake.wait(timeout_s)
                end = self.follower.end
        found: list[tuple[Position, bytes]] = []
        events = 0
        for record, payload, after in self.follower.read(self._cursor):
            found.append((record, payload))
            lines = payload.count(b"\n")
            events += lines
            self._cursor = after
            self._last_read = log_offset(record, lines - 1)
            if events >= self.max_events:
                break
        self._idle_at = None if found else end
        return found

    def poll(self, timeout_s: float) -> list[Event]:
        """The events of :meth:`records`, decoded, without those already applied."""
        events: list[Event] = []
        for record, payload in self.records(timeout_s):
            fresh = decode(payload, self.partition, log_offset(record, 0))
            if fresh and fresh[0]["offset"] <= self._applied:
                fresh = [e for e in fresh if e["offset"] > self._applied]
            events.extend(fresh)
        return events

    def commit(self, positions: Mapping[str, int]) -> None:
        """Keep the log from the record of the last applied event on."""
        self._applied = positions.get(self.partition, self._applied)
        self._save_hold()

    def commit_read(self) -> None:
        """Everything read so far is done with (the forwarder has sent it)."""
        self.commit({self.partition: self._last_read})

    @property
    def done(self) -> bool:
        """True when everything durable has been read and committed as done."""
        return self._cursor >= self.follower.end and self._applied == self._last_read

    @property
    def applied_offset(self) -> int:
        """The offset of the last event done with (-1: none)."""
        return self._applied

    def applied(self) -> dict[str, int]:
        """The last offset the hold says is applied."""
        return {self.partition: self._applied} if self._applied >= 0 else {}

    def on_assign(self, callback: Callable[[], None]) -> None:
        """The log has one partition, this process's from the start."""

    def backlog(self) -> Backlog:
        """Durable events past the hold (see :func:`backlog`)."""
        return backlog(self.directory, self.hold_file.path.stem)

    def wake(self) -> None:
        """Return from a waiting poll now."""
        with self._wake:
            self._wake.notify_all()

    def close(self) -> None:
        """Stop waiting for records; the hold stays, so the log keeps what is not done."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()


def backlog(directory: str | Path, name: str = HOLD_NAME) -> Backlog:
    """Events in the log at ``directory`` past the hold ``name`` (the stream's, or the Kafka
    forwarder's), and when the oldest was accepted; read from the files, so it works whether the
    server runs or not."""
    hold = HoldFile(directory, name, fsync=False).load()
    if hold is None:
        return Backlog(0, None)
    follower = LogFollower(directory, hold.position)
    events, oldest = 0, None
    for segment in follower.segments():
        if segment < hold.segment:
            continue
        for offset, payload in follower.scan(segment):
            if segment == hold.segment and offset < hold.offset:
                continue
            lines = payload.splitlines()
            base = log_offset(Position(segment, offset), 0)
            waiting = [i for i in range(len(lines)) if base + i > hold.applied]
            events += len(waiting)
            if oldest is None and waiting:
                oldest = decode(lines[waiting[0]], PARTITION, 0)[0]["accepted_us"]
    return Backlog(events, oldest)
