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
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable

from intentflow.config import Settings
from intentflow.durable import FileLock
from intentflow.lake.writer import LakeWriter
from intentflow.wal.checkpoint import CheckpointFile
from intentflow.wal.flusher import Flusher, payload_counts
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
    # Ctrl-C or a service manager signals the whole process group: the child waits for its
    # parent's STOP (or the parent's exit) so that the final flush still happens.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
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


Notice = tuple[Position, int, int]


def _merge(older: Notice | None, newer: Notice | None) -> Notice | None:
    """One notice for two: the later end, the summed counts."""
    if older is None or newer is None:
        return newer or older
    return (max(older[0], newer[0]), older[1] + newer[1], older[2] + newer[2])


class FlusherProcess:
    """The parent's handle on the flusher child: same verbs as :class:`Flusher`.

    The log writer's notices never block it: they are folded into one pending notice that a
    sender thread delivers. A child that dies is replaced by one supervisor thread, with backoff;
    its replacement recovers and catches up with the log's end.
    """

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
        self.restarts = 0
        self._sock: socket.socket | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._generation = 0
        self._send_lock = threading.RLock()
        self._state = threading.Condition()
        self._replies: list[int] = []
        self._heard = False
        self._stopping = False
        self._supervisor: threading.Thread | None = None
        self._notice: Notice | None = None
        self._notices = threading.Condition()
        self._sender = threading.Thread(
            target=self._send_notices, name="flusher-notices", daemon=True
        )

    # -- the child's life ---------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the child and wait until it has recovered and listens."""
        parent, child = socket.socketpair()
        context = multiprocessing.get_context("spawn")
        process = context.Process(
            target=_child_main,
            args=(child, self.settings.model_dump_json(), self.wal_dir, self.wal_id),
            name="intentflow-flusher",
            daemon=True,
        )
        process.start()
        child.close()
        with self._state:
            old = self._sock
            self._generation += 1
            generation = self._generation
            self._sock, self._process, self._heard = parent, process, False
        if old is not None:
            old.close()
        threading.Thread(
            target=self._listen, args=(parent, generation), name="flusher-replies", daemon=True
        ).start()
        if not self._sender.is_alive():
            self._sender.start()
        with self._state:
            started = self._state.wait_for(
                lambda: self._heard or not process.is_alive(), timeout=FLUSHER_WAIT_S
            )
        if not started or not self._heard:
            raise RuntimeError("the flusher process did not start")

    def _listen(self, sock: socket.socket, generation: int) -> None:
        try:
            while True:
                kind, segment, offset, flushed, length = _TO_PARENT.unpack(
                    _read_exactly(sock, _TO_PARENT.size)
                )
                error = _read_exactly(sock, length).decode() if length else None
                with self._state:
                    self.position = Position(segment, offset)
                    self.last_error = error
                    self._heard = True
                    if kind == STATUS and flushed:
                        self.flushed_events += flushed
                        self.flushes += 1
                    if kind == FLUSHED:
                        self._replies.append(flushed)
                    self._state.notify_all()
        except (EOFError, OSError):
            with self._state:
                current = generation == self._generation
                if current:
                    self.last_error = self.last_error or "the flusher process stopped"
                self._state.notify_all()
                restart = current and not self._stopping and self._supervisor is None
                if restart:
                    self._supervisor = threading.Thread(
                        target=self._restart, name="flusher-restart", daemon=True
                    )
                    self._supervisor.start()

    def _restart(self) -> None:
        """Replace a dead child until one runs (or the collector stops)."""
        delay = 0.5
        try:
            while not self._stopping:
                log.warning("the flusher process stopped; starting a new one")
                old = self._process
                if old is not None:
                    old.join(timeout=5)
                try:
                    self.start()
                    self.restarts += 1
                    self._send(BACKLOG, self.end_of_log())
                    with self._state:
                        self.last_error = None
                    return
                except (RuntimeError, OSError) as exc:
                    with self._state:
                        self.last_error = f"restarting the flusher: {exc}"
                    time.sleep(delay)
                    delay = min(delay * 2, 30.0)
        finally:
            with self._state:
                self._supervisor = None

    # -- talking to the child -----------------------------------------------------------------

    def _send(self, command: int, end: Position = _NOWHERE, events: int = 0, size: int = 0) -> None:
        sock = self._sock
        if sock is None:
            raise OSError("the flusher process is not running")
        with self._send_lock:
            sock.sendall(_TO_CHILD.pack(command, end.segment, end.offset, events, size))

    def notify(self, end: Position, payloads: list[bytes]) -> None:
        """Called by the log writer after each fsync; never blocks, never raises.

        The notice is folded into the pending one and sent at once without waiting; when the
        child is not reading (starting, busy, dead) it stays pending for the sender thread."""
        with self._notices:
            self._notice = _merge(self._notice, (end, *payload_counts(payloads)))
        if not self._send_lock.acquire(blocking=False):
            with self._notices:
                self._notices.notify()
            return
        try:
            with self._notices:
                notice, self._notice = self._notice, None
            if notice is None:
                return
            frame = _TO_CHILD.pack(DURABLE, notice[0].segment, notice[0].offset, *notice[1:])
            sock = self._sock
            try:
                sent = sock.send(frame, socket.MSG_DONTWAIT) if sock is not None else 0
            except OSError:
                sent = 0
            if sent:
                if sent < len(frame) and sock is not None:
                    with contextlib.suppress(OSError):
                        sock.sendall(frame[sent:])
                return
            with self._notices:
                self._notice = _merge(notice, self._notice)
                self._notices.notify()
        finally:
            self._send_lock.release()

    def _send_notices(self) -> None:
        while True:
            with self._notices:
                while self._notice is None:
                    self._notices.wait()
            # a child that is down misses the notice; its replacement catches up instead
            with contextlib.suppress(OSError):
                self._deliver_notice()

    def _deliver_notice(self) -> None:
        """Send the pending notice now. Taking and sending happen under the send lock, so a
        command sent after this call always reaches the child after the notice."""
        with self._send_lock:
            with self._notices:
                notice, self._notice = self._notice, None
            if notice is not None:
                self._send(DURABLE, *notice)

    def catch_up(self, end: Position) -> None:
        """Tell the child where the log ends at start-up; a backlog before it is flushed now."""
        self._send(BACKLOG, end)

    def _call(self, command: int) -> int:
        with self._state:
            generation = self._generation
            before = len(self._replies)
        with self._send_lock:  # outside the state lock: the listener must keep reading
            self._deliver_notice()
            self._send(command)
        with self._state:
            while len(self._replies) == before:
                if generation != self._generation or (
                    self._process is not None and not self._process.is_alive()
                ):
                    raise RuntimeError(self.last_error or "the flusher process stopped")
                self._state.wait(timeout=1.0)
            return self._replies[before]

    def flush_all(self) -> int:
        """Ask the child to flush everything durable now; returns how many events moved."""
        return self._call(FLUSH)

    @property
    def alive(self) -> bool:
        """True while the child runs."""
        return self._process is not None and self._process.is_alive()

    def stop(self, *, flush: bool = True) -> None:
        """Let the child flush what remains (unless ``flush`` is false) and exit."""
        with self._state:
            self._stopping = True
            supervisor = self._supervisor
        if supervisor is not None:
            supervisor.join(timeout=FLUSHER_WAIT_S)
        process = self._process
        if process is None:
            return
        with contextlib.suppress(OSError, RuntimeError):
            self._call(STOP if flush else STOP_NO_FLUSH)
        process.join(timeout=FLUSHER_WAIT_S)
        if process.is_alive():
            process.kill()
            process.join()
        if self._sock is not None:
            self._sock.close()
        self._process = None
