"""Moves durable log records into the lake in micro-batches, exactly once across crashes.

One flush: read records from the checkpoint to the log's durable end; stage the lake files under
names derived from the log id and the starting position; save a checkpoint that both advances the
position and lists the staged-to-final renames (the commit point); publish the renames; clear them
from the checkpoint; delete log segments wholly before the new position.

A crash before the commit point leaves staged files that recovery deletes, and the records are
flushed again. A crash after it leaves renames that recovery completes. Either way each record lands
in the lake once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable

from intentflow.config import FlushSettings
from intentflow.lake.writer import LakeWriter, LineParser
from intentflow.wal.checkpoint import Checkpoint, CheckpointFile
from intentflow.wal.hold import oldest_hold
from intentflow.wal.log import Position, SegmentFiles

log = logging.getLogger(__name__)


def payload_counts(payloads: list[bytes]) -> tuple[int, int]:
    """Events (lines) and bytes in log records."""
    return sum(p.count(b"\n") for p in payloads), sum(len(p) for p in payloads)


def recover(checkpoints: CheckpointFile, writer: LakeWriter, wal_id: str) -> Checkpoint:
    """Complete the renames a committed checkpoint lists and delete this log's staged files that
    no checkpoint committed; returns the checkpoint. Safe to repeat."""
    checkpoint = checkpoints.load()
    if checkpoint.pending:
        writer.publish(checkpoint.pending)
        checkpoint = Checkpoint(checkpoint.segment, checkpoint.offset)
        checkpoints.save(checkpoint)
    writer.discard_staged(prefix=wal_id)
    return checkpoint


class Flusher:
    """Background mover from a log (its own :class:`WriteAheadLog`, or a :class:`LogFollower` of
    another process's log) to the lake."""

    def __init__(
        self,
        wal: SegmentFiles,
        writer: LakeWriter,
        checkpoints: CheckpointFile,
        settings: FlushSettings,
        *,
        wal_id: str,
        on_flushed: Callable[[int], None] | None = None,
        on_status: Callable[[], None] | None = None,
    ):
        self.wal = wal
        self.writer = writer
        self.checkpoints = checkpoints
        self.settings = settings
        self.wal_id = wal_id
        self.on_flushed = on_flushed
        self.on_status = on_status
        self.flushed_events = 0
        self.flushes = 0
        self.last_error: str | None = None
        self._checkpoint = Checkpoint()
        self._published = self._checkpoint.position
        """The log position whose events are all in the lake (behind the checkpoint while a
        committed flush's renames are being published)."""
        self._wake = threading.Condition()
        self._waiting_events = 0
        self._waiting_bytes = 0
        self._waiting_since: float | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._flush_lock = threading.Lock()
        self._parser: LineParser | None = None

    # -- recovery ---------------------------------------------------------------------------------

    def recover(self) -> Checkpoint:
        """Finish a committed flush, discard uncommitted staged files, and note the backlog."""
        checkpoint = recover(self.checkpoints, self.writer, self.wal_id)
        self._checkpoint = checkpoint
        self._published = checkpoint.position
        self.catch_up()
        return checkpoint

    def catch_up(self) -> None:
        """Flush a backlog (records before the log's end that the lake lacks) without waiting."""
        if self.wal.end > self._checkpoint.position:
            with self._wake:
                # due at once (``time.monotonic()`` may be below ``max_age_s`` after a boot)
                self._waiting_since = time.monotonic() - self.settings.max_age_s
                self._waiting_events = max(self._waiting_events, 1)
                self._wake.notify()

    @property
    def position(self) -> Position:
        """Log position whose events the lake shows: a flush moves it once its files are
        published, not at its commit point, so that whoever reads the log from here and then
        lists the lake sees every event in one or the other."""
        return self._published

    # -- notification from the log writer ---------------------------------------------------------

    def notify(self, end: Position, payloads: list[bytes]) -> None:
        """Tell the flusher that records were appended (called by the log writer)."""
        self.notify_counts(end, *payload_counts(payloads))

    def notify_counts(self, end: Position, events: int, size: int) -> None:
        """``events`` events in ``size`` bytes became durable, up to ``end``."""
        with self._wake:
            first = self._waiting_since is None
            if first:
                self._waiting_since = time.monotonic()
            self._waiting_events += events
            self._waiting_bytes += size
            if (
                first
                or self._waiting_events >= self.settings.max_events
                or self._waiting_bytes >= self.settings.max_bytes
            ):
                self._wake.notify()

    # -- flushing ---------------------------------------------------------------------------------

    def flush_once(self) -> int:
        """Flush up to ``max_events`` waiting events; returns how many were flushed."""
        with self._flush_lock:
            return self._flush_once()

    def _flush_once(self) -> int:
        if self._checkpoint.pending:
            # an earlier flush failed after its commit point: finish it before committing another
            # checkpoint, which would drop these renames and leave the files staged for good
            self.writer.publish(self._checkpoint.pending)
            cleared = Checkpoint(self._checkpoint.segment, self._checkpoint.offset)
            self._published = cleared.position
            self.checkpoints.save(cleared)
            self._checkpoint = cleared
        start = self._checkpoint.position
        chunks: list[bytes] = []
        events = 0
        size = 0
        end = start
        for _, payload, nxt in self.wal.read(start):
            chunks.append(payload)
            events += payload.count(b"\n")
            size += len(payload)
            end = nxt
            if events >= self.settings.max_events or size >= self.settings.max_bytes:
                break
        if end == start:
            return 0
        if self._parser is None:
            self._parser = LineParser()
        table = self._parser.parse(b"".join(chunks))
        name = f"{self.wal_id}-{start.segment:012d}-{start.offset:012d}"
        renames = self.writer.stage(table, name)
        committed = Checkpoint(end.segment, end.offset, pending=renames)
        self.checkpoints.save(committed)
        self._checkpoint = committed
        self.writer.publish(renames)
        self._published = end
        cleared = Checkpoint(end.segment, end.offset)
        self.checkpoints.save(cleared)
        self._checkpoint = cleared  # only once saved: a failed save is redone by the next flush
        held = oldest_hold(self.wal.directory)
        self.wal.drop_before(end if held is None else min(end, held))
        self.flushed_events += table.num_rows
        self.flushes += 1
        if self.on_flushed is not None:
            self.on_flushed(table.num_rows)
        return int(table.num_rows)

    def flush_all(self) -> int:
        """Flush until the lake holds everything durable in the log."""
        total = 0
        while True:
            flushed = self.flush_once()
            total += flushed
            if flushed == 0 and self._checkpoint.position >= self.wal.end:
                with self._wake:
                    self._waiting_since = None
                    self._waiting_events = self._waiting_bytes = 0
                return total

    def _due(self) -> bool:
        if self._waiting_since is None:
            return False
        return (
            self._waiting_events >= self.settings.max_events
            or self._waiting_bytes >= self.settings.max_bytes
            or time.monotonic() - self._waiting_since >= self.settings.max_age_s
        )

    def _run(self) -> None:
        _lower_priority(self.settings.nice)
        backoff = 0.5
        while True:
            with self._wake:
                while not self._stopping and not self._due():
                    timeout = None
                    if self._waiting_since is not None:
                        timeout = self._waiting_since + self.settings.max_age_s - time.monotonic()
                    self._wake.wait(max(0.0, timeout) if timeout is not None else None)
                if self._stopping:
                    return
                self._waiting_since = None
                self._waiting_events = self._waiting_bytes = 0
            target = self.wal.end
            try:
                while (
                    self._checkpoint.pending or self._checkpoint.position < target
                ) and self.flush_once():
                    pass
                if self.last_error is not None:
                    self.last_error = None
                    if self.on_status is not None:
                        self.on_status()
                backoff = 0.5
            except Exception as exc:  # the log keeps the data; try again later
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("flush failed; retrying in %.1fs", backoff)
                if self.on_status is not None:
                    self.on_status()
                with self._wake:
                    if self._waiting_since is None:
                        self._waiting_since = time.monotonic() - self.settings.max_age_s + backoff
                backoff = min(backoff * 2, 30.0)

    @property
    def alive(self) -> bool:
        """True while the background thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the background thread."""
        self._thread = threading.Thread(target=self._run, name="wal-flusher", daemon=True)
        self._thread.start()

    def stop(self, *, flush: bool = True) -> None:
        """Stop the thread, then flush what remains (unless ``flush`` is false)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
        if flush:
            self.flush_all()
        with self._flush_lock:
            if self._parser is not None:
                self._parser.close()
                self._parser = None


def _lower_priority(nice: int) -> None:
    """Let request handling win the CPU over flushing (Linux schedules threads one by one)."""
    if nice and hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
