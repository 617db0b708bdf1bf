"""Reading the lake through DuckDB, with partition pruning by date.

>>> import tempfile
>>> lake = Lake(tempfile.mkdtemp())
>>> lake.count()
0
"""

from __future__ import annotations

import copy
import json
import posixpath
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from intentflow.events import LAKE_SCHEMA
from intentflow.lake.layout import LakeLayout, partition_of

_EMPTY_VIEW = "__intentflow_empty_events"


class CorruptFileError(ValueError):
    """Lake files that cannot be read, each with the reason."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        listed = "; ".join(f"{path}: {reason}" for path, reason in problems)
        super().__init__(f"corrupt Parquet file(s) in the lake: {listed}")


class Lake:
    """Read access to the event lake: file listing, DuckDB relations, recent ids."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None):
        self.layout = LakeLayout(url, storage_options)
        self.hidden: frozenset[str] = frozenset()
        """Files this view of the lake leaves out (see :meth:`excluding`)."""

    def excluding(self, paths: set[str] | frozenset[str]) -> Lake:
        """The same lake without ``paths`` (corrupt files a reader chose to skip)."""
        view = copy.copy(self)
        view.hidden = self.hidden | frozenset(paths)
        return view

    def corrupt_files(
        self, start: date | None = None, end: date | None = None
    ) -> list[tuple[str, str]]:
        """Files in ``[start, end]`` that Arrow cannot decode, with the reason. Every file is
        read whole, one at a time: use it to find the culprit once a query failed. A file that
        cannot be fetched (a network error) raises rather than counting as corrupt."""
        problems = []
        for path in self.files(start, end):
            with self.layout.fs.open(path, "rb") as fh:
                data = fh.read()
            try:
                parquet = pq.ParquetFile(pa.BufferReader(data))
                for group in range(parquet.num_row_groups):
                    parquet.read_row_group(group)
            except (OSError, ValueError, pa.ArrowException) as exc:
                problems.append((path, str(exc) or type(exc).__name__))
        return problems

    def files(self, start: date | None = None, end: date | None = None) -> list[str]:
        """Committed files whose partition lies in ``[start, end]`` (a compaction in flight shows
        its inputs until its output is in place, never both)."""
        files = self.layout.committed_files()
        hidden = self._compaction_shadowed(set(files))
        out = []
        for path in files:
            if path in hidden or path in self.hidden:
                continue
            day = date.fromisoformat(partition_of(path))
            if (start is None or day >= start) and (end is None or day <= end):
                out.append(path)
        return out

    def _compaction_shadowed(self, files: set[str]) -> set[str]:
        fs = self.layout.fs
        shadowed: set[str] = set()
        for journal in fs.glob(posixpath.join(self.layout.journal_dir, "compact-*.json")):
            try:
                entry = json.loads(fs.cat_file(journal))
            except (FileNotFoundError, ValueError):
                continue
            if entry["output"] in files:
                shadowed.update(entry["inputs"])
        return shadowed

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection that can read this lake (registers the fsspec store if remote)."""
        con = duckdb.connect()
        if not self.layout.is_local:
            con.register_filesystem(self.layout.fs)
        return con

    def events(
        self,
        con: duckdb.DuckDBPyConnection,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> duckdb.DuckDBPyRelation:
        """Events with ``start <= timestamp < end`` as a relation (with the ``event_date`` column).

        Only the partitions that can hold such events are opened. Bounds without a time zone are
        read as UTC.
        """
        start, end = _utc(start), _utc(end)
        files = self.files(start.date() if start else None, end.date() if end else None)
        if not files:
            table = LAKE_SCHEMA.empty_table().append_column("event_date", pa.array([], pa.date32()))
            con.register(_EMPTY_VIEW, table)
            relation = con.table(_EMPTY_VIEW)
        else:
            paths = [self.layout.qualified(p) for p in files]
            relation = con.read_parquet(paths, hive_partitioning=True)
        conditions = []
        if start is not None:
            conditions.append(f"timestamp >= '{start.isoformat()}'::TIMESTAMPTZ")
        if end is not None:
            conditions.append(f"timestamp < '{end.isoformat()}'::TIMESTAMPTZ")
        return relation.filter(" AND ".join(conditions)) if conditions else relation

    def time_range(self) -> tuple[datetime, datetime] | None:
        """The first and the last event time (UTC), or ``None`` for an empty lake."""
        if not self.files():
            return None
        events = self.events(self.connect())
        ((first, last),) = events.select("min(timestamp), max(timestamp)").fetchall()
        if first is None or last is None:
            return None
        return as_utc(first), as_utc(last)

    def count(self) -> int:
        """Number of events in the lake."""
        return sum(self.rows_in(path) for path in self.files())

    def rows_in(self, path: str) -> int:
        """Rows of one file, from its footer."""
        with self.layout.fs.open(path, "rb") as fh:
            return int(pq.ParquetFile(fh).metadata.num_rows)

    def recent_message_ids(self, *, since_mtime: float, limit: int) -> list[str]:
        """Ids of files written after ``since_mtime``, the newest ``limit`` of them, returned
        oldest file first."""
        fs = self.layout.fs
        dated = [(_mtime(fs.info(path)), path) for path in self.files()]
        chunks: list[list[str]] = []
        total = 0
        for mtime, path in sorted(dated, reverse=True):
            if mtime < since_mtime or total >= limit:
                break
            ids = self.ids_in(path)
            chunks.append(ids[-(limit - total) :])
            total += len(chunks[-1])
        return [mid for chunk in reversed(chunks) for mid in chunk]

    def message_ids(self, since_mtime: float | None = None) -> Iterator[str]:
        """Message ids of files written after ``since_mtime`` (seconds since the epoch)."""
        fs = self.layout.fs
        for path in self.files():
            if since_mtime is not None and _mtime(fs.info(path)) < since_mtime:
                continue
            yield from self.ids_in(path)

    def ids_in(self, path: str) -> list[str]:
        """Message ids of one file, reading only that column."""
        with self.layout.fs.open(path, "rb") as fh:
            ids: list[str] = pq.read_table(fh, columns=["message_id"]).column(0).to_pylist()
        return ids


def as_utc(moment: datetime) -> datetime:
    """The same moment in UTC, whose date is the partition that holds it (a time without zone
    is UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def _mtime(info: dict[str, Any]) -> float:
    value = info.get("mtime", info.get("LastModified", info.get("created", 0)))
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value or 0)
