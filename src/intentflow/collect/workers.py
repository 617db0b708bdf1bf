"""Validation off the event loop: worker processes that turn request bodies into outcomes.

Validating events is the collector's heaviest work and Python runs it on one core at a time. With
``collect.validation_workers`` above zero, request bodies go to worker processes over local
sockets; the event loop keeps only what must stay in one place (write keys, de-duplication, the
quarantine and the log). With zero, the same :func:`~intentflow.collect.batch.validate_body` runs
in the event loop. Both return identical outcomes.

A worker that dies is replaced; the requests it held get a 503 and their clients retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import socket
import struct
from datetime import UTC, datetime
from typing import Protocol

import msgspec

from intentflow.collect.batch import Kind, Outcome, validate_body
from intentflow.collect.exceptions import UnavailableError
from intentflow.collect.validate import Validator
from intentflow.config import CollectSettings

log = logging.getLogger(__name__)
_FRAME = struct.Struct("<I")


class _Job(msgspec.Struct, array_like=True):
    id: int
    kind: Kind
    received_at: datetime
    body: bytes


class _Done(msgspec.Struct, array_like=True):
    id: int
    outcome: Outcome


class Validation(Protocol):
    """Something that validates request bodies."""

    async def run(self, body: bytes, kind: Kind, received_at: datetime) -> Outcome:
        """The outcome of one body."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


class InlineValidation:
    """Validation in the event loop (``validation_workers = 0``)."""

    def __init__(self, settings: CollectSettings):
        self.settings = settings
        self.validator = Validator(settings)

    async def run(self, body: bytes, kind: Kind, received_at: datetime) -> Outcome:
        """Validate now, in this thread."""
        return validate_body(
            self.validator,
            body,
            kind,
            received_at=received_at,
            max_events=self.settings.max_batch_events,
        )

    def close(self) -> None:
        """Nothing to release."""


def _worker_main(sock: socket.socket, settings_json: bytes) -> None:
    """A worker process: read jobs, answer outcomes, until the socket closes."""
    settings = msgspec.json.decode(settings_json, type=dict)
    collect = CollectSettings.model_validate(settings)
    validator = Validator(collect)
    jobs = msgspec.msgpack.Decoder(_Job)
    encoder = msgspec.msgpack.Encoder()
    stream = sock.makefile("rb")
    while True:
        header = stream.read(_FRAME.size)
        if len(header) < _FRAME.size:
            return
        job = jobs.decode(stream.read(_FRAME.unpack(header)[0]))
        try:
            outcome = _validate_job(validator, job, collect)
        except Exception as exc:  # keep serving: one body must not take the worker down
            outcome = Outcome(status=503, error=f"validation failed: {type(exc).__name__}: {exc}")
        reply = encoder.encode(_Done(job.id, outcome))
        sock.sendall(_FRAME.pack(len(reply)) + reply)


def _validate_job(validator: Validator, job: _Job, collect: CollectSettings) -> Outcome:
    return validate_body(
        validator,
        job.body,
        job.kind,
        received_at=job.received_at,
        max_events=collect.max_batch_events,
    )


class _Worker:
    """One worker process and the event-loop end of its socket (no transports: the socket is
    driven directly, so closing it never needs the loop that opened it)."""

    def __init__(self, settings_json: bytes):
        context = multiprocessing.get_context("spawn")
        parent, child = socket.socketpair()
        self.process = context.Process(
            target=_worker_main,
            args=(child, settings_json),
            daemon=True,
            name="intentflow-validate",
        )
        self.process.start()
        child.close()
        parent.setblocking(False)
        self.sock = parent
        self.pending: dict[int, asyncio.Future[Outcome]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._buffer = bytearray()
        self._send_lock = asyncio.Lock()
        self._decoder = msgspec.msgpack.Decoder(_Done)
        self._open = True

    def connect(self) -> None:
        """Read replies in the running event loop (moving over from a previous loop if any)."""
        loop = asyncio.get_running_loop()
        if self.loop is loop:
            return
        if self.loop is not None:
            with contextlib.suppress(RuntimeError, ValueError):
                self.loop.remove_reader(self.sock.fileno())
            for future in self.pending.values():
                future.cancel()
            self.pending.clear()
        self.loop = loop
        self._send_lock = asyncio.Lock()
        loop.add_reader(self.sock.fileno(), self._readable)

    async def send(self, frame: bytes) -> None:
        assert self.loop is not None
        async with self._send_lock:
            await self.loop.sock_sendall(self.sock, frame)

    def _readable(self) -> None:
        try:
            chunk = self.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._stop(UnavailableError("a validation worker stopped; retry the request"))
            return
        buffer = self._buffer
        buffer += chunk
        while len(buffer) >= _FRAME.size:
            (size,) = _FRAME.unpack_from(buffer)
            if len(buffer) < _FRAME.size + size:
                break
            done = self._decoder.decode(bytes(buffer[_FRAME.size : _FRAME.size + size]))
            del buffer[: _FRAME.size + size]
            future = self.pending.pop(done.id, None)
            if future is not None and not future.done():
                future.set_result(done.outcome)

    def _stop(self, error: Exception) -> None:
        if self._open:
            self._open = False
            if self.loop is not None:
                with contextlib.suppress(RuntimeError, ValueError):
                    self.loop.remove_reader(self.sock.fileno())
        for future in self.pending.values():
            if not future.done():
                future.set_exception(error)
        self.pending.clear()

    @property
    def alive(self) -> bool:
        return self._open and self.process.is_alive()

    def close(self) -> None:
        self._stop(UnavailableError("the collector is shutting down"))
        self.sock.close()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)


class ValidationPool:
    """Worker processes validating request bodies; round robin, replaced when they die."""

    def __init__(self, settings: CollectSettings, workers: int):
        self.settings_json = settings.model_dump_json().encode()
        self.size = workers
        self._workers: list[_Worker] = []
        self._ids = itertools.count()
        self._next = itertools.cycle(range(workers))
        self._encoder = msgspec.msgpack.Encoder()
        self._lock = asyncio.Lock()

    async def run(self, body: bytes, kind: Kind, received_at: datetime) -> Outcome:
        """Send the body to a worker and wait for its outcome."""
        worker = await self._worker(next(self._next))
        job_id = next(self._ids)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        worker.pending[job_id] = future
        payload = self._encoder.encode(_Job(job_id, kind, received_at.astimezone(UTC), body))
        try:
            await worker.send(_FRAME.pack(len(payload)) + payload)
        except OSError as exc:
            worker.pending.pop(job_id, None)
            raise UnavailableError(f"a validation worker stopped: {exc}") from exc
        return await future

    async def _worker(self, index: int) -> _Worker:
        if index < len(self._workers) and self._workers[index].alive:
            worker = self._workers[index]
            worker.connect()
            return worker
        async with self._lock:
            while len(self._workers) <= index:
                self._workers.append(await self._start())
            if not self._workers[index].alive:
                log.warning("validation worker %d stopped; starting a new one", index)
                self._workers[index].close()
                self._workers[index] = await self._start()
            return self._workers[index]

    async def _start(self) -> _Worker:
        worker = _Worker(self.settings_json)
        worker.connect()
        return worker

    def close(self) -> None:
        """Stop every worker."""
        for worker in self._workers:
            worker.close()
        self._workers.clear()


def validation_for(settings: CollectSettings) -> Validation:
    """The pool when workers are configured, inline validation otherwise."""
    if settings.validation_workers > 0:
        return ValidationPool(settings, settings.validation_workers)
    return InlineValidation(settings)
