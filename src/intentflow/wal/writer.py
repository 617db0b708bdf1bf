"""Group commit: many concurrent requests share one write and one fsync.

Request handlers ``await writer.append(payload)``; a single thread takes every payload waiting,
writes them in one go, fsyncs once and wakes all their callers. Under load the cost of an fsync is
spread over every batch that arrived while the previous one ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from intentflow.wal.exceptions import WalClosedError
from intentflow.wal.log import Position, WriteAheadLog

log = logging.getLogger(__name__)
_STOP = object()


class GroupCommitWriter:
    """Appends to a :class:`WriteAheadLog` from one thread, with group commit."""

    def __init__(
        self,
        log: WriteAheadLog,
        on_durable: Callable[[Position, list[bytes]], None] | None = None,
    ):
        self.log = log
        self.on_durable = on_durable
        """Called from the writer thread with the new end and the payloads made durable."""
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        self._gate = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="wal-writer", daemon=True)
        self._thread.start()

    async def append(self, payload: bytes) -> Position:
        """Append one record; returns once it is durable."""
        if self._closed:
            raise WalClosedError("the log is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Position] = loop.create_future()
        self._submit(_Waiter(payload, loop=loop, future=future))
        return await future

    def append_sync(self, payload: bytes) -> Position:
        """Append one record from a thread without an event loop; returns once durable."""
        if self._closed:
            raise WalClosedError("the log is closed")
        waiter = _Waiter(payload, done=threading.Event())
        self._submit(waiter)
        assert waiter.done is not None
        waiter.done.wait()
        if isinstance(waiter.result, BaseException):
            raise waiter.result
        assert waiter.result is not None
        return waiter.result

    def _submit(self, waiter: _Waiter) -> None:
        with self._gate:
            if self._closed:
                raise WalClosedError("the log is closed")
            self._queue.put(waiter)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            waiters = [w for w in batch if isinstance(w, _Waiter)]
            payloads = [w.payload for w in waiters]
            result: Position | BaseException
            try:
                result = self.log.append(payloads)
            except BaseException as exc:  # resolved into every waiting caller
                result = exc
            if self.on_durable is not None and isinstance(result, Position):
                try:
                    self.on_durable(result, payloads)
                except Exception:  # a listener's failure must not stop the log
                    log.exception("on_durable failed")
            for waiter in waiters:
                waiter.resolve(result)
            if stop:
                return

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        with self._gate:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()


@dataclass
class _Waiter:
    """One payload and whoever waits for it: an event loop's future, or a thread's event."""

    payload: bytes
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[Position] | None = None
    done: threading.Event | None = None
    result: Position | BaseException | None = None

    def resolve(self, result: Position | BaseException) -> None:
        """Hand the outcome to the waiter (thread-safe)."""
        if self.loop is not None and self.future is not None:
            with contextlib.suppress(RuntimeError):  # the caller's loop is gone: nobody waits
                self.loop.call_soon_threadsafe(_resolve, self.future, result)
        elif self.done is not None:
            self.result = result
            self.done.set()


def _resolve(future: asyncio.Future[Position], result: Position | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
