"""The stream processor assembled from settings: store, trending, scorer, source and runner.

``intentflow serve`` starts one next to the collector (:func:`stream_for` reads its log, or the
Kafka topic when ``kafka_bootstrap`` is set); ``intentflow stream`` runs one on its own, as a
member of the Kafka consumer group.
"""

from __future__ import annotations

from intentflow.config import Settings
from intentflow.items import open_items
from intentflow.items.base import ItemStore
from intentflow.state import open_store, open_trending
from intentflow.state.base import StateStore, TrendingStore
from intentflow.stream.kafka_forwarder import HOLD_NAME as FORWARDER_HOLD
from intentflow.stream.kafka_forwarder import KafkaForwarder
from intentflow.stream.kafka_source import KafkaSource
from intentflow.stream.log_source import HOLD_NAME, PARTITION, LogSource
from intentflow.stream.processor import Processor
from intentflow.stream.runner import StreamRunner
from intentflow.stream.scoring import Scorer
from intentflow.stream.source import Source
from intentflow.wal.service import EventLog, log_id


class Stream:
    """A running processor and what it owns; :meth:`close` stops it and releases them."""

    def __init__(self, settings: Settings, source: Source, store: StateStore | None = None):
        self.settings = settings
        self.store = store or open_store(settings)
        self.trending: TrendingStore = open_trending(settings)
        self.items: ItemStore = open_items(settings)
        self.scorer = Scorer(
            settings.models_dir,
            every_s=settings.stream.score_every_s,
            check_every_s=settings.stream.model_check_s,
        )
        self.processor = Processor(
            self.store,
            lateness_s=settings.stream.lateness_s,
            trending=self.trending,
            scorer=self.scorer,
            items=self.items,
        )
        self.source = source
        self.runner = StreamRunner(self.processor, source)

    def start(self) -> Stream:
        """Start the processor's thread."""
        self.runner.start()
        return self

    def close(self) -> None:
        """Stop the processor and release the store, trending and the item catalog."""
        self.runner.stop()
        self.store.close()
        self.trending.close()
        self.items.close()


def _log_reader(settings: Settings, log: EventLog, name: str, applied: int | None) -> LogSource:
    """A reader of the collector's own (open) log, woken by its group commits."""
    wal = log.wal
    if wal is None:
        raise RuntimeError("open the event log before its readers")
    reader = LogSource(
        log.directory,
        name=name,
        partition=log_partition(log),
        applied=applied,
        max_events=settings.stream.max_batch_events,
        fsync=settings.wal.fsync,
    )
    log.listen(reader.advance)  # before reading the end: no commit falls between the two
    reader.advance(wal.end)
    return reader


def log_partition(log: EventLog) -> str:
    """The log's name among the positions: by its id, so a log made anew starts afresh."""
    return f"{PARTITION}-{log_id(log.directory)}"


def stream_for(settings: Settings, log: EventLog) -> Stream:
    """The processor ``intentflow serve`` runs beside its collector: a member of the Kafka
    group when ``kafka_bootstrap`` is set, else a reader of the collector's log."""
    if settings.kafka_bootstrap:
        return Stream(settings, KafkaSource(settings, max_events=settings.stream.max_batch_events))
    store = open_store(settings)
    applied = store.positions().get(log_partition(log))
    return Stream(settings, _log_reader(settings, log, HOLD_NAME, applied), store)


def forwarder_for(settings: Settings, log: EventLog) -> KafkaForwarder:
    """The forwarder of the collector's log to the Kafka topic."""
    return KafkaForwarder(settings, _log_reader(settings, log, FORWARDER_HOLD, None))
