"""The collector core on a real log: retries in flight, failed appends, ids reloaded at start."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from intentflow.collect.batch import Outcome
from intentflow.collect.exceptions import UnavailableError
from intentflow.collect.runtime import CollectorRuntime
from intentflow.config import Settings
from intentflow.events import event_from_dict, lake_line, lake_lines
from intentflow.lake.reader import Lake
from intentflow.lake.writer import LakeWriter, table_from_lines
from intentflow.wal.flusher import Flusher

NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)


def outcome(*ids: str) -> Outcome:
    events = [
        event_from_dict(
            {
                "type": "page_view",
                "user_id": "u",
                "message_id": i,
                "timestamp": NOW,
                "received_at": NOW,
            }
        )
        for i in ids
    ]
    return Outcome(ids=list(ids), lines=[lake_line(e) for e in events], rejected=[])


@pytest.fixture
def runtime(settings: Settings) -> Iterator[CollectorRuntime]:
    in_thread = settings.flush.model_copy(update={"process": False})
    rt = CollectorRuntime(settings.model_copy(update={"flush": in_thread}))
    rt.start()
    yield rt
    if rt.ready:
        rt.stop()


async def test_a_retry_in_flight_waits_for_the_first_copy(runtime: CollectorRuntime) -> None:
    collector = runtime.collector
    finished: list[str] = []

    async def send(name: str) -> int:
        result = await collector.commit(outcome("m-1", "m-2"), "events", NOW)
        finished.append(name)
        return result.accepted

    accepted = await asyncio.gather(send("first"), send("retry"))
    assert accepted == [2, 0]
    assert finished == ["first", "retry"]


async def test_a_retry_of_a_copy_that_failed_is_not_acknowledged(
    runtime: CollectorRuntime,
) -> None:
    collector = runtime.collector
    wal = runtime.log.wal
    assert wal is not None
    wal._file.close()  # the disk is gone: the writer thread's next write fails
    results = await asyncio.gather(
        collector.commit(outcome("m-1"), "events", NOW),
        collector.commit(outcome("m-1"), "events", NOW),
        return_exceptions=True,
    )
    assert all(isinstance(r, UnavailableError) for r in results)
    assert "m-1" not in collector.recent


def test_reloaded_ids_keep_the_newest_when_the_cap_bites(settings: Settings) -> None:
    lake_settings = settings.model_copy(
        update={"collect": settings.collect.model_copy(update={"dedup_max_ids": 5})}
    )
    writer = LakeWriter.from_settings(lake_settings)
    now = time.time()
    for age, name in ((300, "old"), (100, "new")):
        events = [
            event_from_dict(
                {"type": "page_view", "user_id": "u", "message_id": f"{name}{i}", "timestamp": NOW}
            )
            for i in range(3)
        ]
        [path] = writer.write(table_from_lines(lake_lines(events)), name)
        os.utime(path, (now - age, now - age))
    in_thread = lake_settings.flush.model_copy(update={"process": False, "max_age_s": 3600})
    rt = CollectorRuntime(lake_settings.model_copy(update={"flush": in_thread}))
    rt.log.open()
    rt.log.append_sync(
        b"".join(
            lake_line(e)
            for e in [
                event_from_dict(
                    {"type": "page_view", "user_id": "u", "message_id": "backlog", "timestamp": NOW}
                )
            ]
        )
    )
    try:
        rt.collector.remember_stored_ids(Lake(lake_settings.lake_dir))
        kept = {
            i
            for i in ("old0", "old1", "old2", "new0", "new1", "new2", "backlog")
            if i in rt.collector.recent
        }
        assert kept == {"old2", "new0", "new1", "new2", "backlog"}
    finally:
        rt.log.close(flush=False)
    assert msgspec.json.encode(sorted(kept))


class FlushingLake(Lake):
    """A lake whose listing races the flusher: the log's backlog moves into the lake right after
    the recent files are read, as the restarted flusher may do at any moment."""

    def __init__(self, url: str, runtime: CollectorRuntime):
        super().__init__(url)
        self.runtime = runtime

    def recent_message_ids(self, *, since_mtime: float, limit: int) -> list[str]:
        ids = super().recent_message_ids(since_mtime=since_mtime, limit=limit)
        self.runtime.log.flush()
        return ids


def test_ids_the_flusher_moves_while_they_are_reloaded_are_remembered(settings: Settings) -> None:
    in_thread = settings.flush.model_copy(update={"process": False, "max_age_s": 3600})
    rt = CollectorRuntime(settings.model_copy(update={"flush": in_thread}))
    rt.log.open()
    rows = [
        event_from_dict(
            {"type": "page_view", "user_id": "u", "message_id": f"m{i}", "timestamp": NOW}
        )
        for i in range(3)
    ]
    rt.log.append_sync(b"".join(lake_line(e) for e in rows))
    try:
        lake = FlushingLake(settings.lake_dir, rt)
        rt.collector.remember_stored_ids(lake)
        assert Lake(settings.lake_dir).count() == 3  # the backlog did move meanwhile
        assert all(f"m{i}" in rt.collector.recent for i in range(3))
    finally:
        rt.log.close(flush=False)


def test_ids_of_a_flush_being_published_when_they_are_reloaded_are_remembered(
    settings: Settings,
) -> None:
    """The flusher has committed a flush (its checkpoint moved) but not yet put the files in the
    lake: the ids are read from the log, which still holds them."""
    in_thread = settings.flush.model_copy(update={"process": False, "max_age_s": 3600})
    rt = CollectorRuntime(settings.model_copy(update={"flush": in_thread}))
    rt.log.open()
    rows = [
        event_from_dict(
            {"type": "page_view", "user_id": "u", "message_id": f"p{i}", "timestamp": NOW}
        )
        for i in range(3)
    ]
    rt.log.append_sync(b"".join(lake_line(e) for e in rows))
    flusher = rt.log.flusher
    assert isinstance(flusher, Flusher)
    publish = flusher.writer.publish

    def reload_then_publish(renames: Any) -> None:
        rt.collector.remember_stored_ids(Lake(settings.lake_dir))
        publish(renames)

    flusher.writer.publish = reload_then_publish  # type: ignore[method-assign]
    try:
        assert rt.log.flush() == 3
        assert all(f"p{i}" in rt.collector.recent for i in range(3))
    finally:
        rt.log.close(flush=False)
