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
        self._in_flight: dict[str, asyncio.Future[bool]] = {}
        """Ids being logged right now, with the outcome their retries wait for."""
        self.accepted_total = 0
        self.duplicates_total = 0
        self.rejected_total = 0

    def remember_stored_ids(self, lake: Lake) -> int:
        """Load ids of events stored recently (log backlog and fresh lake files) so that retries
        that arrive after a restart are still recognised."""
        now = time.monotonic()
        before = len(self.recent)
        since = time.time() - self.settings.collect.dedup_window.total_seconds()
        # The log is read before the lake: the flusher, already running, may move the backlog
        # into the lake meanwhile, and an event it moves after the log was read is in a file
        # committed before the lake is listed. (Lake first, it could be in neither.)
        backlog = list(self.log.unflushed_ids())
        stored = lake.recent_message_ids(since_mtime=since, limit=self.recent.max_ids)
        # oldest first, the log's backlog last: when the cap bites, the newest ids (those whose
        # replies a crash most likely lost) are the ones kept
        self.recent.add_many(stored, now=now)
        self.recent.add_many(backlog, now=now)
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
            try:
                await asyncio.to_thread(self.quarantine.append, records)
            except OSError as exc:
                log.exception("could not quarantine refused events")
                raise UnavailableError(f"refused events could not be quarantined: {exc}") from exc
        recent = self.recent
        mono = time.monotonic()
        kept: list[bytes] = []
        kept_ids: list[str] = []
        in_batch: set[str] = set()
        earlier: list[asyncio.Future[bool]] = []
        for message_id, line in zip(outcome.ids, outcome.lines, strict=True):
            if message_id in in_batch:
                result.duplicates += 1
                continue
            pending = self._in_flight.get(message_id)
            if pending is not None:  # a retry while the first copy is still being logged
                earlier.append(pending)
                result.duplicates += 1
                continue
            if not recent.add(message_id, now=mono):
                result.duplicates += 1
                continue
            in_batch.add(message_id)
            kept.append(line)
            kept_ids.append(message_id)
        if kept:
            durable: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            for message_id in kept_ids:
                self._in_flight[message_id] = durable
            try:
                await self.log.append(b"".join(kept))
                durable.set_result(True)
            except Exception as exc:
                durable.set_result(False)
                recent.discard(kept_ids)
                log.exception("could not make a batch durable")
                raise UnavailableError(f"events could not be stored: {exc}") from exc
            finally:
                for message_id in kept_ids:
                    self._in_flight.pop(message_id, None)
        if earlier and not all(await asyncio.gather(*earlier)):
            # the copy this retry duplicates was not stored: the client must send it again
            raise UnavailableError("an earlier copy of these events could not be stored; retry")
        result.accepted = len(kept)
        self.accepted_total += result.accepted
        self.duplicates_total += result.duplicates
        self.rejected_total += len(result.rejected)
        return result
