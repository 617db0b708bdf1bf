"""Group commit: concurrent appends from tasks and threads land once, errors reach every caller."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from intentflow.wal.exceptions import WalClosedError
from intentflow.wal.log import Position, WriteAheadLog
from intentflow.wal.writer import GroupCommitWriter


class DurableRecorder:
    """An ``on_durable`` callback that remembers what it was told (called from the writer)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Position, list[bytes]]] = []
        self._lock = threading.Lock()

    def __call__(self, end: Position, payloads: list[bytes]) -> None:
        with self._lock:
            self.calls.append((end, list(payloads)))

    @property
    def payloads(self) -> list[bytes]:
        return [p for _, batch in self.calls for p in batch]


class GatedAppend:
    """Wraps ``WriteAheadLog.append`` so that its first call waits until the test opens the gate,
    letting every other caller queue up behind it."""

    def __init__(self, log: WriteAheadLog) -> None:
        self.log = log
        self.original = log.append
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.batches: list[int] = []

    def __call__(self, payloads: Sequence[bytes]) -> Position:
        self.batches.append(len(payloads))
        if len(self.batches) == 1:
            self.entered.set()
            assert self.gate.wait(10), "the test never opened the gate"
        return self.original(payloads)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[WriteAheadLog]:
    wal = WriteAheadLog(str(tmp_path / "wal"), fsync=False)
    yield wal
    wal.close()


def _logged(log: WriteAheadLog) -> Counter[bytes]:
    return Counter(payload for _, payload, _ in log.read(Position(1, 0)))


def _record_ends(log: WriteAheadLog) -> dict[bytes, Position]:
    return {payload: nxt for _, payload, nxt in log.read(Position(1, 0))}


def test_concurrent_tasks_each_land_exactly_once(log: WriteAheadLog) -> None:
    recorder = DurableRecorder()
    writer = GroupCommitWriter(log, on_durable=recorder)
    payloads = [f'{{"n":{i}}}\n'.encode() for i in range(300)]

    async def main() -> list[Position]:
        return await asyncio.gather(*(writer.append(p) for p in payloads))

    try:
        results = asyncio.run(main())
    finally:
        writer.close()
    assert _logged(log) == Counter(payloads)
    assert max(_logged(log).values()) == 1
    assert Counter(recorder.payloads) == Counter(payloads)
    # a caller is answered with a durable end that covers its own record
    ends = _record_ends(log)
    for payload, result in zip(payloads, results, strict=True):
        assert ends[payload] <= result <= log.end
    # on_durable is told each batch's new end, in order, and the last one is the log's end
    told = [end for end, _ in recorder.calls]
    assert told == sorted(told)
    assert told[-1] == log.end


def test_concurrent_threads_each_land_exactly_once(log: WriteAheadLog) -> None:
    recorder = DurableRecorder()
    writer = GroupCommitWriter(log, on_durable=recorder)
    payloads = [f"thread-payload-{i}\n".encode() for i in range(300)]
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(writer.append_sync, payloads))
    finally:
        writer.close()
    assert _logged(log) == Counter(payloads)
    assert Counter(recorder.payloads) == Counter(payloads)
    ends = _record_ends(log)
    for payload, result in zip(payloads, results, strict=True):
        assert ends[payload] <= result <= log.end


def test_tasks_and_threads_together(log: WriteAheadLog) -> None:
    recorder = DurableRecorder()
    writer = GroupCommitWriter(log, on_durable=recorder)
    from_tasks = [f"task-{i}".encode() for i in range(100)]
    from_threads = [f"thread-{i}".encode() for i in range(100)]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=4) as pool:
            sync_calls = [loop.run_in_executor(pool, writer.append_sync, p) for p in from_threads]
            await asyncio.gather(*(writer.append(p) for p in from_tasks), *sync_calls)

    try:
        asyncio.run(main())
    finally:
        writer.close()
    assert _logged(log) == Counter(from_tasks + from_threads)
    assert Counter(recorder.payloads) == Counter(from_tasks + from_threads)


def test_waiting_appends_share_one_write(
    log: WriteAheadLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated = GatedAppend(log)
    monkeypatch.setattr(log, "append", gated)
    recorder = DurableRecorder()
    writer = GroupCommitWriter(log, on_durable=recorder)
    payloads = [f"p{i}".encode() for i in range(20)]

    async def main() -> list[Position]:
        tasks = [asyncio.ensure_future(writer.append(p)) for p in payloads]
        await asyncio.sleep(0)  # every task has queued its payload
        assert await asyncio.to_thread(gated.entered.wait, 10)
        gated.gate.set()
        return await asyncio.gather(*tasks)

    try:
        asyncio.run(main())
    finally:
        writer.close()
    # the first batch is whatever had queued when the writer woke; all the rest waited behind it
    # and went out together in a single write
    assert sum(gated.batches) == len(payloads)
    assert len(gated.batches) <= 2
    assert _logged(log) == Counter(payloads)
    assert len(recorder.calls) == len(gated.batches)


def test_close_finishes_queued_appends_then_refuses_more(log: WriteAheadLog) -> None:
    writer = GroupCommitWriter(log)
    assert writer.append_sync(b"before close") == log.end
    writer.close()
    writer.close()  # closing twice is harmless

    async def late() -> Position:
        return await writer.append(b"too late")

    with pytest.raises(WalClosedError):
        asyncio.run(late())
    with pytest.raises(WalClosedError):
        writer.append_sync(b"too late")
    assert _logged(log) == Counter([b"before close"])


def test_an_append_error_reaches_every_waiting_task(
    log: WriteAheadLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated = GatedAppend(log)
    monkeypatch.setattr(log, "append", gated)
    recorder = DurableRecorder()
    writer = GroupCommitWriter(log, on_durable=recorder)
    payloads = [f"doomed-{i}".encode() for i in range(25)]

    async def main() -> list[Position | BaseException]:
        tasks = [asyncio.ensure_future(writer.append(p)) for p in payloads]
        await asyncio.sleep(0)
        assert await asyncio.to_thread(gated.entered.wait, 10)
        log.close()  # the log's file is closed underneath the writer
        gated.gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    try:
        results = asyncio.run(main())
    finally:
        writer.close()
    assert len(results) == len(payloads)
    assert all(isinstance(r, ValueError) for r in results), results
    assert recorder.calls == []
    assert sum(gated.batches) == len(payloads)


def test_an_append_error_reaches_every_waiting_thread(
    log: WriteAheadLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated = GatedAppend(log)
    monkeypatch.setattr(log, "append", gated)
    writer = GroupCommitWriter(log)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def call(payload: bytes) -> None:
        try:
            writer.append_sync(payload)
        except Exception as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=call, args=(f"t{i}".encode(),)) for i in range(10)]
    try:
        for thread in threads:
            thread.start()
        assert gated.entered.wait(10)
        log.close()
        gated.gate.set()
        for thread in threads:
            thread.join(10)
    finally:
        gated.gate.set()
        writer.close()
    assert len(errors) == len(threads)
    assert all(isinstance(e, ValueError) for e in errors)


def test_the_writer_survives_a_failed_append(
    log: WriteAheadLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = log.append
    calls: list[int] = []

    def fail_once(payloads: Sequence[bytes]) -> Position:
        calls.append(len(payloads))
        if len(calls) == 1:
            raise OSError("injected write failure")
        return original(payloads)

    monkeypatch.setattr(log, "append", fail_once)
    recorder = DurableRecorder()
    writer = GroupCommitWriter(log, on_durable=recorder)
    try:
        with pytest.raises(OSError, match="injected"):
            writer.append_sync(b"lost")
        writer.append_sync(b"kept")
    finally:
        writer.close()
    assert _logged(log) == Counter([b"kept"])
    assert recorder.payloads == [b"kept"]
