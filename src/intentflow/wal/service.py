r"""The durable path from accepted events to the lake: log, group commit and flusher in one object.

>>> import tempfile
>>> from intentflow.config import Settings
>>> log = EventLog(Settings(data_dir=tempfile.mkdtemp()))
>>> log.open()
>>> log.append_sync(b'{"type":"custom","name":"x","user_id":"u","timestamp":"2026-01-05T10:00Z"}\n')
>>> log.flush()
1
>>> log.close()
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from intentflow.config import Settings
from intentflow.durable import FileLock, write_atomic
from intentflow.lake.writer import LakeWriter
from intentflow.wal.checkpoint import CheckpointFile
from intentflow.wal.flusher import Flusher, recover
from intentflow.wal.log import Position, WriteAheadLog
from intentflow.wal.process import FLUSHER_LOCK, FLUSHER_WAIT_S, FlusherProcess
from intentflow.wal.writer import GroupCommitWriter

log = logging.getLogger(__name__)


class _IdOnly(msgspec.Struct):
    message_id: str


_ids = msgspec.json.Decoder(_IdOnly)


def log_id(directory: Path) -> str:
    """This log's stable id, which names its files in the lake (created on first use)."""
    path = directory / "id"
    if not path.exists():
        write_atomic(path, secrets.token_hex(4).encode())
    return path.read_text().strip()


class EventLog:
    """Accepted events go in with :meth:`append`; the flusher moves them to the lake."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.directory = Path(settings.wal_dir)
        self.wal: WriteAheadLog | None = None
        self.writer: GroupCommitWriter | None = None
        self.flusher: Flusher | FlusherProcess | None = None
        self._writer_lock: FileLock | None = None
        self._flusher_lock: FileLock | None = None
        self._listeners: list[Callable[[Position, list[bytes]], None]] = []

    def listen(self, listener: Callable[[Position, list[bytes]], None]) -> None:
        """Call ``listener`` with the new durable end and the records after each group commit
        (from the writer thread: it must be quick)."""
        self._listeners.append(listener)

    def _durable(self, end: Position, payloads: list[bytes]) -> None:
        if self.flusher is not None:
            self.flusher.notify(end, payloads)
        for listener in self._listeners:
            try:
                listener(end, payloads)
            except Exception:  # a listener must not stop the log
                log.exception("log listener failed")

    def open(self) -> None:
        """Recover from a crash if needed, then start the writer thread and the flusher (a child
        process, or a thread when ``flush.process`` is off).

        Two locks guard the log directory: one collector writes it (a second one fails at once
        with a clear error), and one flusher moves it (a new one waits for an old one, say an
        orphan of a killed collector finishing its flush, to exit)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._writer_lock = FileLock(self.directory / "collector.lock").acquire(timeout=0)
        except TimeoutError:
            raise RuntimeError(
                f"another intentflow process is writing to {self.directory}"
            ) from None
        wal = WriteAheadLog(
            str(self.directory),
            fsync=self.settings.wal.fsync,
            segment_bytes=self.settings.wal.segment_bytes,
        )
        writer = LakeWriter.from_settings(self.settings)
        checkpoints = CheckpointFile(self.directory, fsync=self.settings.wal.fsync)
        wal_id = log_id(self.directory)
        flusher_lock = FileLock(self.directory / FLUSHER_LOCK).acquire(timeout=FLUSHER_WAIT_S)
        flusher: Flusher | FlusherProcess
        if self.settings.flush.process:
            try:
                checkpoint = recover(checkpoints, writer, wal_id)
            finally:
                flusher_lock.release()
            flusher = FlusherProcess(
                self.settings,
                str(self.directory),
                wal_id,
                checkpoint.position,
                end_of_log=lambda: wal.end,
            )
            flusher.start()
            flusher.catch_up(wal.end)
        else:
            self._flusher_lock = flusher_lock
            flusher = Flusher(wal, writer, checkpoints, self.settings.flush, wal_id=wal_id)
            flusher.recover()
            flusher.start()
        self.wal, self.flusher = wal, flusher
        self.writer = GroupCommitWriter(wal, on_durable=self._durable)

    def _require(self) -> tuple[WriteAheadLog, GroupCommitWriter, Flusher | FlusherProcess]:
        if self.wal is None or self.writer is None or self.flusher is None:
            raise RuntimeError("the event log is not open")
        return self.wal, self.writer, self.flusher

    async def append(self, lines: bytes) -> None:
        """Make NDJSON lake lines durable; returns once they are fsynced."""
        await self._require()[1].append(lines)

    def append_sync(self, lines: bytes) -> None:
        """The same from a thread without an event loop."""
        self._require()[1].append_sync(lines)

    def unflushed_ids(self) -> Iterator[str]:
        """Message ids in the log that the lake does not hold yet."""
        wal, _, flusher = self._require()
        for _, payload, _ in wal.read(flusher.position):
            for row in _ids.decode_lines(payload):
                yield row.message_id

    def flush(self) -> int:
        """Move everything durable to the lake now; returns how many events moved."""
        return self._require()[2].flush_all()

    @property
    def backlog_bytes(self) -> int:
        """Approximate log bytes not yet in the lake."""
        wal, _, flusher = self._require()
        end, done = wal.end, flusher.position
        if end.segment == done.segment:
            return end.offset - done.offset
        return end.offset + (end.segment - done.segment) * wal.segment_bytes - done.offset

    @property
    def healthy(self) -> bool:
        """True when the flusher thread runs and its last flush succeeded."""
        return self.flusher is not None and self.flusher.alive and self.flusher.last_error is None

    def close(self, *, flush: bool = True) -> None:
        """Finish queued appends, flush what remains (unless ``flush`` is false), close."""
        if self.writer is not None:
            self.writer.close()
        if self.flusher is not None:
            self.flusher.stop(flush=flush)
        if self.wal is not None:
            self.wal.close()
        self.wal = self.writer = self.flusher = None
        for lock in (self._flusher_lock, self._writer_lock):
            if lock is not None:
                lock.release()
        self._flusher_lock = self._writer_lock = None
