"""Everything the collector runs on, opened and closed together."""

from __future__ import annotations

import gc
import logging

from intentflow.collect.auth import WriteKeys
from intentflow.collect.collector import Collector
from intentflow.collect.quarantine import QuarantineStore
from intentflow.collect.workers import InlineValidation, Validation, validation_for
from intentflow.config import Settings
from intentflow.lake.reader import Lake
from intentflow.state import open_store
from intentflow.state.base import StateStore
from intentflow.stream.kafka_forwarder import KafkaForwarder
from intentflow.stream.service import Stream, forwarder_for, stream_for
from intentflow.wal.service import EventLog

log = logging.getLogger(__name__)


class CollectorRuntime:
    """The event log, the quarantine, the collector core and the write keys of one process."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.keys = WriteKeys(settings.write_keys)
        self.log = EventLog(settings)
        self.quarantine = QuarantineStore(settings.quarantine_dir, fsync=settings.wal.fsync)
        self.lake = Lake(settings.lake_dir, settings.lake.storage_options)
        self.collector = Collector(settings, self.log, self.quarantine)
        self.validation: Validation = InlineValidation(settings.collect)
        self.forwarder: KafkaForwarder | None = None
        self.stream: Stream | None = None
        self.people: StateStore | None = None
        """The online state the read API answers from."""
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
        self.validation = validation_for(self.settings.collect)
        remembered = self.collector.remember_stored_ids(self.lake)
        log.info("collector ready; %d recent message ids remembered", remembered)
        gc.collect()
        gc.freeze()  # what exists now lives for the whole process: keep it out of collections
        self.ready = True

    def stop(self) -> None:
        """Take no more events, flush the log into the lake, close."""
        self.ready = False
        self.validation.close()
        self.log.close(flush=True)
        if self.forwarder is not None:
            self.forwarder.stop()
        if self.stream is not None:
            self.stream.close()  # after the log: it has applied what the log made durable
        elif self.people is not None:
            self.people.close()
        self.forwarder = self.stream = self.people = None
