"""Where the lake keeps its files, on a local disk or any fsspec store.

::

    LAKE/events/event_date=YYYY-MM-DD/part-<name>.parquet     committed event files
    LAKE/events/event_date=YYYY-MM-DD/.part-<name>.parquet.tmp staged, invisible to readers
    LAKE/_journal/compact-<id>.json                           a compaction in progress

Names that start with ``.`` or ``_`` are skipped by DuckDB's, Spark's and pyarrow's dataset readers,
so a reader of the bare directory never sees a staged or half-written file.

>>> partition_of("lake/events/event_date=2026-01-05/part-a.parquet")
'2026-01-05'
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

import fsspec
from fsspec import AbstractFileSystem

EVENTS = "events"
JOURNAL = "_journal"
PARTITION_KEY = "event_date"
_PARTITION = re.compile(r"event_date=(\d{4}-\d{2}-\d{2})")


class LakeLayout:
    """Paths of the lake on its filesystem."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None):
        options = dict(storage_options or {})
        if fsspec.core.split_protocol(url)[0] not in (None, "file", "local"):
            # Other processes add, replace and delete lake files: a remote store's cached
            # listings (s3fs keeps them forever by default) would hide those changes.
            options.setdefault("use_listings_cache", False)
        fs, root = fsspec.core.url_to_fs(url, **options)
        self.fs: AbstractFileSystem = fs
        self.root: str = root.rstrip("/")
        self.url = url

    @property
    def is_local(self) -> bool:
        """True when the lake is a local directory."""
        return "file" in _protocols(self.fs)

    @property
    def events_dir(self) -> str:
        """Root of the event partitions."""
        return posixpath.join(self.root, EVENTS)

    @property
    def journal_dir(self) -> str:
        """Where compaction journals live."""
        return posixpath.join(self.root, JOURNAL)

    def partition_dir(self, date: str) -> str:
        """Directory of one day's partition."""
        return posixpath.join(self.events_dir, f"{PARTITION_KEY}={date}")

    def final_path(self, date: str, name: str) -> str:
        """Committed file ``name`` of partition ``date``."""
        return posixpath.join(self.partition_dir(date), f"part-{name}.parquet")

    def staged_path(self, date: str, name: str) -> str:
        """Staging name of the same file, invisible to readers."""
        return posixpath.join(self.partition_dir(date), f".part-{name}.parquet.tmp")

    def committed_files(self) -> list[str]:
        """Every committed event file, sorted."""
        return sorted(self.fs.glob(posixpath.join(self.events_dir, "*", "part-*.parquet")))

    def staged_files(self) -> list[str]:
        """Every staged file, left behind or in flight."""
        return sorted(self.fs.glob(posixpath.join(self.events_dir, "*", ".part-*.parquet.tmp")))

    def qualified(self, path: str) -> str:
        """A path with its protocol, as DuckDB wants it for a registered filesystem."""
        return path if self.is_local else self.fs.unstrip_protocol(path)


def partition_of(path: str) -> str:
    """The ``YYYY-MM-DD`` partition a file lives in."""
    match = _PARTITION.search(path)
    if match is None:
        raise ValueError(f"{path} is not inside an event_date partition")
    return match.group(1)


def _protocols(fs: AbstractFileSystem) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
