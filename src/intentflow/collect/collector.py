"""The collector's core: drop retries, quarantine the bad, log the good.

Every write path validates its body into an :class:`~intentflow.collect.batch.Outcome` (in the
event loop or in a worker process) and hands it to :meth:`Collector.commit`, which runs in the event
loop: it drops message ids already stored, quarantines refused events with their reasons, and
appends the rest to the write-ahead log. The batch is durable when ``commit`` returns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

import msgspec

from intentflow.collect.batch import Kind, Outcome, source_of
from intentflow.collect.dedup import RecentIds
from intentflow.collect.exceptions import UnavailableError
from intentflow.collect.quarantine import Format, QuarantineStore, make_record
from intentflow.config import Settings
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
    """De-duplication, quarantine and the durable log behind every write path."""

    def __init__(self, settings: Settings, log_: EventLog, quarantine: QuarantineStore):
        self.settings = settings
        self.log = log_
        self.quarantine = quarantine
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

    async def commit(self, outcome: Outcome, kind: Kind, received_at: datetime) -> BatchResult:
        """Drop retries, quarantine refusals, make the rest durable; returns what happened."""
        result = BatchResult(rejected=[Rejected(i, reason) for i, reason, _ in outcome.rejected])
        source = source_of(kind)
        if outcome.rejected:
            fmt: Format = "native" if kind == "events" else "segment"
            records = [
                make_record(raw, reason=reason, source=source, fmt=fmt, index=i, at=received_at)
                for i, reason, raw in outcome.rejected
            ]
            await asyncio.to_thread(self.quarantine.append, records)
        recent = self.recent
        mono = time.monotonic()
        kept: list[bytes] = []
        kept_ids: list[str] = []
        in_batch: set[str] = set()
        for message_id, line in zip(outcome.ids, outcome.lines, strict=True):
            if message_id in in_batch or not recent.add(message_id, now=mono):
                result.duplicates += 1
                continue
            in_batch.add(message_id)
            kept.append(line)
            kept_ids.append(message_id)
        if kept:
            try:
                await self.log.append(b"".join(kept))
            except Exception as exc:
                recent.discard(kept_ids)
                log.exception("could not make a batch durable")
                raise UnavailableError(f"events could not be stored: {exc}") from exc
        result.accepted = len(kept)
        self.accepted_total += result.accepted
        self.duplicates_total += result.duplicates
        self.rejected_total += len(result.rejected)
        return result
