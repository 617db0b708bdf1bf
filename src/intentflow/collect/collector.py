"""The collector's core: validate each event, drop retries, quarantine the bad, log the good.

The HTTP routes, the Segment-compatible API and replays all go through :meth:`Collector.accept`.
An accepted batch is durable in the write-ahead log before the call returns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from intentflow.collect.dedup import RecentIds
from intentflow.collect.exceptions import UnavailableError
from intentflow.collect.quarantine import Format, QuarantineRecord, QuarantineStore, make_record
from intentflow.collect.segment import SegmentMessageError, to_native
from intentflow.collect.validate import Validator, now_utc
from intentflow.config import Settings
from intentflow.events import Event, lake_lines
from intentflow.lake.reader import Lake
from intentflow.wal.service import EventLog

log = logging.getLogger(__name__)


class Rejected(msgspec.Struct):
    """Why the event at ``index`` was refused."""

    index: int
    reason: str


class BatchResult(msgspec.Struct):
    """What happened to a batch: stored, dropped as retries, refused (with reasons)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = []


class Collector:
    """Validation, de-duplication, quarantine and the durable log behind every write path."""

    def __init__(self, settings: Settings, log_: EventLog, quarantine: QuarantineStore):
        self.settings = settings
        self.log = log_
        self.quarantine = quarantine
        self.validator = Validator(settings.collect)
        self.recent = RecentIds(
            max_ids=settings.collect.dedup_max_ids,
            window_s=settings.collect.dedup_window.total_seconds(),
        )
        self.accepted_total = 0
        self.duplicates_total = 0
        self.rejected_total = 0

    def remember_stored_ids(self, lake: Lake) -> int:
        """Load ids of events stored recently (log backlog and fresh lake files) so that retries
        that arrive after a restart are still recognised."""
        now = time.monotonic()
        before = len(self.recent)
        self.recent.add_many(self.log.unflushed_ids(), now=now)
        since = time.time() - self.settings.collect.dedup_window.total_seconds()
        self.recent.add_many(lake.message_ids(since_mtime=since), now=now)
        return len(self.recent) - before

    def _validate(self, item: Any, fmt: Format, received_at: datetime, source: str) -> Event | str:
        if fmt == "segment":
            try:
                message = msgspec.json.decode(item)
                native = to_native(message)
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:
                return f"not valid JSON: {exc}"
            except RecursionError:
                return "nested too deeply"
            except SegmentMessageError as exc:
                return str(exc)
            return self.validator.validate(
                native, received_at=received_at, source=source, size=len(item)
            )
        return self.validator.validate(item, received_at=received_at, source=source)

    def sort(
        self, items: Sequence[Any], *, fmt: Format, source: str, received_at: datetime | None = None
    ) -> tuple[list[Event], BatchResult, list[QuarantineRecord]]:
        """Validate and de-duplicate a batch without storing it."""
        received_at = received_at or now_utc()
        mono = time.monotonic()
        result = BatchResult(rejected=[])
        events: list[Event] = []
        quarantined: list[QuarantineRecord] = []
        in_batch: set[str] = set()
        recent = self.recent
        if fmt == "native":
            validate = self.validator.validate
            checked_items = [
                validate(item, received_at=received_at, source=source) for item in items
            ]
        else:
            checked_items = [self._validate(item, fmt, received_at, source) for item in items]
        for index, checked in enumerate(checked_items):
            if isinstance(checked, str):
                result.rejected.append(Rejected(index, checked))
                quarantined.append(
                    make_record(
                        bytes(items[index]),
                        reason=checked,
                        source=source,
                        fmt=fmt,
                        index=index,
                        at=received_at,
                    )
                )
                continue
            message_id = checked.message_id
            if message_id in in_batch or not recent.add(message_id, now=mono):  # type: ignore[arg-type]
                result.duplicates += 1
                continue
            in_batch.add(message_id)  # type: ignore[arg-type]
            events.append(checked)
        result.accepted = len(events)
        return events, result, quarantined

    async def accept(self, items: Sequence[Any], *, fmt: Format, source: str) -> BatchResult:
        """Validate, de-duplicate, quarantine and durably log one batch."""
        events, result, quarantined = self.sort(items, fmt=fmt, source=source)
        if quarantined:
            await asyncio.to_thread(self.quarantine.append, quarantined)
        if events:
            try:
                await self.log.append(lake_lines(events))
            except Exception as exc:
                self.recent.discard(e.message_id for e in events if e.message_id)
                log.exception("could not make a batch durable")
                raise UnavailableError(f"events could not be stored: {exc}") from exc
        self.accepted_total += result.accepted
        self.duplicates_total += result.duplicates
        self.rejected_total += len(result.rejected)
        return result
