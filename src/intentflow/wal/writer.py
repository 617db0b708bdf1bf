"""Group commit: many concurrent requests share one write and one fsync.

Request handlers ``await writer.append(payload)``; a single thread takes every payload waiting,
writes them in one go, fsyncs once and wakes all their callers. Under load the cost of an fsync is
spread over every batch that arrived while the previous one ran.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable

from intentflow.wal.exceptions import WalClosedError
from intentflow.wal.log import Position, WriteAheadLog

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
        self._thread = threading.Thread(target=self._run, name="wal-writer", daemon=True)
        self._thread.start()

    async def append(self, payload: bytes) -> Position:
        """Append one record; returns once it is durable."""
        if self._closed:
            raise WalClosedError("the log is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Position] = loop.create_future()
        self._queue.put((payload, loop, future))
        return await future

    def append_sync(self, payload: bytes) -> Position:
        """Append one record from a thread without an event loop; returns once durable."""
        if self._closed:
            raise WalClosedError("the log is closed")
        done = threading.Event()
        box: list[Position | BaseException] = []
        self._queue.put((payload, None, (done, box)))
        done.wait()
        result = box[0]
        if isinstance(result, BaseException):
            raise result
        return result

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
            payloads = [item[0] for item in batch]  # type: ignore[index]
            result: Position | BaseException
            try:
                result = self.log.append(payloads)
            except BaseException as exc:  # resolved into every waiting caller
                result = exc
            if self.on_durable is not None and isinstance(result, Position):
                self.on_durable(result, payloads)
            for _, loop, waiter in batch:  # type: ignore[misc]
                if loop is None:
                    done, box = waiter
                    box.append(result)
                    done.set()
                else:
                    loop.call_soon_threadsafe(_resolve, waiter, result)
            if stop:
                return

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()


def _resolve(future: asyncio.Future[Position], result: Position | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
