"""Everything the collector runs on, opened and closed together."""

from __future__ import annotations

import gc
import logging
import os
import time

from intentflow.collect.auth import Keys
from intentflow.collect.collector import Collector
from intentflow.collect.quarantine import QuarantineStore
from intentflow.collect.workers import InlineValidation, Validation, validation_for
from intentflow.config import Settings
from intentflow.features.kinds import MICROS
from intentflow.feedback.served import ServedLog
from intentflow.items import open_items
from intentflow.items.base import ItemStore
from intentflow.lake.reader import Lake
from intentflow.models.champion import Champion
from intentflow.models.segments.model import KIND as SEGMENTS
from intentflow.models.segments.model import SegmentModel
from intentflow.recommend.lists import Learner
from intentflow.recommend.policy import read_policy
from intentflow.recommend.service import Answer, Recommender
from intentflow.recommend.sources import Trends
from intentflow.state import open_store, open_trending
from intentflow.state.base import StateStore, TrendingStore
from intentflow.stream.kafka_forwarder import KafkaForwarder
from intentflow.stream.service import Stream, forwarder_for, stream_for
from intentflow.wal.service import EventLog

log = logging.getLogger(__name__)


class CollectorRuntime:
    """The event log, the quarantine, the collector core and the write keys of one process."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.keys = Keys(settings.write_keys)
        self.log = EventLog(settings)
        self.quarantine = QuarantineStore(settings.quarantine_dir, fsync=settings.wal.fsync)
        self.lake = Lake(settings.lake_dir, settings.lake.storage_options)
        self.collector = Collector(settings, self.log, self.quarantine)
        self.validation: Validation = InlineValidation(settings.collect)
        self.forwarder: KafkaForwarder | None = None
        self.stream: Stream | None = None
        self.people: StateStore | None = None
        """The online state the read API answers from."""
        self.read_keys = Keys(settings.api_keys)
        self.items: ItemStore | None = None
        self.learner: Learner | None = None
        self.recommender: Recommender | None = None
        self.served_log: ServedLog | None = None
        self._own_trending: TrendingStore | None = None
        self.ready = False

    def start(self) -> None:
        """Recover the log, reload recent ids, start the flusher (validation workers start with
        the first request, in the server's event loop)."""
        self.log.open()
        if self.settings.kafka_bootstrap:
            self.forwarder = forwarder_for(self.settings, self.log).start()
        if self.settings.stream.enabled:
            self.stream = stream_for(self.settings, self.log).start()
            self.people = self.stream.store
        elif self.settings.state == "redis":
            self.people = open_store(self.settings)
        self._start_recommendations()
        self.validation = validation_for(self.settings.collect)
        remembered = self.collector.remember_stored_ids(self.lake)
        log.info("collector ready; %d recent message ids remembered", remembered)
        gc.collect()
        gc.freeze()  # what exists now lives for the whole process: keep it out of collections
        self.ready = True

    def _start_recommendations(self) -> None:
        """The recommender over the stream's state, trending and items (or, without a stream,
        the shared ones in Redis), with its lists learned from the lake in the background."""
        settings, stream = self.settings, self.stream
        policy = read_policy(settings.recommend.policy)
        trending: TrendingStore | None = None
        if stream is not None:
            self.items, trending = stream.items, stream.trending
        else:
            self.items = open_items(settings)
            if settings.state == "redis":
                trending = self._own_trending = open_trending(settings)
        self.learner = Learner(
            self.lake, days=settings.recommend.history_days, every_s=settings.recommend.refresh_s
        ).start()
        self.served_log = ServedLog(os.path.join(settings.feedback_dir, "served"))
        self.recommender = Recommender(
            policy,
            self.items,
            self.learner,
            Trends(trending, ttl_s=settings.recommend.trending_ttl_s),
            people=self.people,
            segments=Champion(
                settings.models_dir,
                SEGMENTS,
                SegmentModel.load,
                check_every_s=settings.recommend.segments_check_s,
            ),
            now_us=self._now_us,
            items_ttl_s=settings.recommend.items_ttl_s,
        )

    def _now_us(self) -> int:
        """The present for windows: the latest event time the stream has seen, else the
        clock."""
        latest = None if self.stream is None else self.stream.processor.latest_us
        return latest if latest is not None else int(time.time() * MICROS)

    def served(self, answer: Answer) -> None:
        """Keep what was served, for feedback to be joined to."""
        if self.served_log is not None:
            self.served_log.append(answer)

    def stop(self) -> None:
        """Take no more events, flush the log into the lake, close."""
        self.ready = False
        if self.learner is not None:
            self.learner.stop()
        if self.served_log is not None:
            self.served_log.close()
        self.validation.close()
        self.log.close(flush=True)
        if self.forwarder is not None:
            self.forwarder.stop()
        if self.stream is not None:
            self.stream.close()  # after the log: it has applied what the log made durable
        else:
            for part in (self.people, self.items, self._own_trending):
                if part is not None:
                    part.close()
        self.forwarder = self.stream = self.people = self.items = self._own_trending = None
        self.recommender = self.learner = self.served_log = None
