"""The flusher in its own process.

Turning JSON into Parquet takes CPU in bursts; run in the collector's process, those bursts hold
its interpreter lock long enough to delay replies. Here the collector's log writer tells a child
process, after each fsync, how far the log is durable; the child runs the same :class:`Flusher`
over a :class:`LogFollower` of the log and reports back its committed position and last error.
The checkpoint protocol is unchanged, so a crash of either process recovers the same way.

Messages are fixed-size records over a socket pair: to the child ``(command, segment, offset,
events, bytes)``; back ``(kind, segment, offset, flushed events, error length)``, then the error.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import socket
import struct
import threading
import time
from collections.abc import Callable

from intentflow.config import Settings
from intentflow.durable import FileLock
from intentflow.lake.writer import LakeWriter
from intentflow.wal.checkpoint import CheckpointFile
from intentflow.wal.flusher import Flusher
from intentflow.wal.log import LogFollower, Position

log = logging.getLogger(__name__)

_TO_CHILD = struct.Struct("<Bqqqq")
_TO_PARENT = struct.Struct("<Bqqqq")
DURABLE, FLUSH, STOP, STOP_NO_FLUSH, BACKLOG = 1, 2, 3, 4, 5
FLUSHER_LOCK = "flusher.lock"
"""Held by whoever moves the log into the lake: one flusher per log, ever."""
FLUSHER_WAIT_S = 120.0
_NOWHERE = Position(0, 0)
STATUS, FLUSHED = 1, 2


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    parts = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            raise EOFError
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


def _child_main(sock: socket.socket, settings_json: str, wal_dir: str, wal_id: str) -> None:
    lock = FileLock(os.path.join(wal_dir, FLUSHER_LOCK)).acquire(timeout=FLUSHER_WAIT_S)
    try:
        _flush_for_parent(sock, settings_json, wal_dir, wal_id)
    finally:
        lock.release()


def _flush_for_parent(sock: socket.socket, settings_json: str, wal_dir: str, wal_id: str) -> None:
    settings = Settings.model_validate_json(settings_json)
    checkpoints = CheckpointFile(wal_dir, fsync=settings.wal.fsync)
    start = checkpoints.load().position
    follower = LogFollower(wal_dir, start)
    send_lock = threading.Lock()

    def report(kind: int, flushed: int = 0) -> None:
        error = (flusher.last_error or "").encode()
        position = flusher.position
        with send_lock:
            sock.sendall(
                _TO_PARENT.pack(kind, position.segment, position.offset, flushed, len(error))
                + error
            )

    flusher = Flusher(
        follower,
        LakeWriter.from_settings(settings),
        checkpoints,
        settings.flush,
        wal_id=wal_id,
        on_flushed=lambda n: report(STATUS, n),
        on_status=lambda: report(STATUS),
    )
    flusher.recover()
    flusher.start()
    report(STATUS)  # ready
    try:
        while True:
            command, segment, offset, events, size = _TO_CHILD.unpack(
                _read_exactly(sock, _TO_CHILD.size)
            )
            if command == DURABLE:
                end = Position(segment, offset)
                follower.advance(end)
                flusher.notify_counts(end, events, size)
            elif command == BACKLOG:
                follower.advance(Position(segment, offset))
                flusher.catch_up()
            elif command == FLUSH:
                report(FLUSHED, flusher.flush_all())
            elif command in (STOP, STOP_NO_FLUSH):
                flusher.stop(flush=command == STOP)
                report(FLUSHED, 0)
                return
    except EOFError:  # the collector went away without a word: stop without flushing
        flusher.stop(flush=False)


class FlusherProcess:
    """The parent's handle on the flusher child: same verbs as :class:`Flusher`."""

    def __init__(
        self,
        settings: Settings,
        wal_dir: str,
        wal_id: str,
        position: Position,
        *,
        end_of_log: Callable[[], Position],
    ):
        self.settings = settings
        self.end_of_log = end_of_log
        """Where the log ends now; a restarted child catches up to it."""
        self.wal_dir = wal_dir
        self.wal_id = wal_id
        self.position = position
        """Log position committed to the lake, as last reported by the child."""
        self.last_error: str | None = None
        self.flushed_events = 0
        self.flushes = 0
        self._sock: socket.socket | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._reader: threading.Thread | None = None
        self._send_lock = threading.Lock()
        self._replies: list[int] = []
        self._heard = False
        self._replied = threading.Condition()
        self._stopping = False
        self.restarts = 0

    def start(self) -> None:
        """Spawn the child and start listening to it."""
        parent, child = socket.socketpair()
        context = multiprocessing.get_context("spawn")
        self._process = context.Process(
            target=_child_main,
            args=(child, self.settings.model_dump_json(), self.wal_dir, self.wal_id),
            name="intentflow-flusher",
            daemon=True,
        )
        self._process.start()
        child.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = parent
        self._reader = threading.Thread(target=self._listen, name="flusher-replies", daemon=True)
        self._reader.start()
        with self._replied:
            if not self._replied.wait_for(lambda: self._heard or not self.alive, timeout=120):
                raise RuntimeError("the flusher process did not start")
        if not self._heard:
            raise RuntimeError("the flusher process exited during start-up")

    def _listen(self) -> None:
        assert self._sock is not None
        try:
            while True:
                kind, segment, offset, flushed, length = _TO_PARENT.unpack(
                    _read_exactly(self._sock, _TO_PARENT.size)
                )
                error = _read_exactly(self._sock, length).decode() if length else None
                self.position = Position(segment, offset)
                self.last_error = error
                with self._replied:
                    self._heard = True
                    self._replied.notify_all()
                if kind == STATUS and flushed:
                    self.flushed_events += flushed
                    self.flushes += 1
                if kind == FLUSHED:
                    with self._replied:
                        self._replies.append(flushed)
                        self._replied.notify_all()
        except (EOFError, OSError):
            self.last_error = self.last_error or "the flusher process stopped"
            with self._replied:
                self._replied.notify_all()
            if not self._stopping:
                threading.Thread(target=self._restart, name="flusher-restart", daemon=True).start()

    def _restart(self) -> None:
        """The child died: start another one (its recovery makes the lake whole again) and let
        it catch up with the log. The collector keeps logging meanwhile."""
        while not self._stopping:
            log.warning("the flusher process stopped; starting a new one")
            old = self._process
            if old is not None:
                old.join(timeout=5)
            try:
                self._heard = False
                self.start()
                self.restarts += 1
                self.catch_up(self.end_of_log())
                self.last_error = None
                return
            except (RuntimeError, OSError) as exc:
                self.last_error = f"restarting the flusher: {exc}"
                time.sleep(1.0)

    def _send(self, command: int, end: Position = _NOWHERE, events: int = 0, size: int = 0) -> None:
        assert self._sock is not None
        with self._send_lock:
            self._sock.sendall(_TO_CHILD.pack(command, end.segment, end.offset, events, size))

    def notify(self, end: Position, payloads: list[bytes]) -> None:
        """Called by the log writer after each fsync. Never raises: while the child is down
        the notices are lost, and its replacement catches up with the log's end instead."""
        events = sum(p.count(b"\n") for p in payloads)
        with contextlib.suppress(OSError):
            self._send(DURABLE, end, events, sum(len(p) for p in payloads))

    def _call(self, command: int) -> int:
        with self._replied:
            before = len(self._replies)
            self._send(command)
            while len(self._replies) == before:
                if self._reader is None or not self._reader.is_alive():
                    raise RuntimeError(self.last_error or "the flusher process stopped")
                self._replied.wait(timeout=1.0)
            return self._replies[before]

    def catch_up(self, end: Position) -> None:
        """Tell the child where the log ends at start-up; a backlog before it is flushed now."""
        self._send(BACKLOG, end)

    def flush_all(self) -> int:
        """Ask the child to flush everything durable now; returns how many events moved."""
        return self._call(FLUSH)

    @property
    def alive(self) -> bool:
        """True while the child runs."""
        return self._process is not None and self._process.is_alive()

    def stop(self, *, flush: bool = True) -> None:
        """Let the child flush what remains (unless ``flush`` is false) and exit."""
        if self._process is None:
            return
        self._stopping = True
        with contextlib.suppress(OSError, RuntimeError):
            self._call(STOP if flush else STOP_NO_FLUSH)
        self._process.join(timeout=120)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        if self._sock is not None:
            self._sock.close()
        if self._reader is not None:
            self._reader.join(timeout=5)
        self._process = None
