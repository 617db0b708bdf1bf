"""Atomic writes of event files into date partitions.

A write happens in two steps. :meth:`LakeWriter.stage` writes each partition's rows under a hidden
staging name; :meth:`LakeWriter.publish` renames the staged files to their final names. A reader
never sees half a file, and a caller that records the staged-to-final renames durably before
publishing (the log flusher does) gets exactly-once commits across crashes.
"""

from __future__ import annotations

import io
import logging
import os
import posixpath
from collections.abc import Iterable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from intentflow.config import Settings
from intentflow.durable import fsync_dir, write_atomic
from intentflow.events import LAKE_SCHEMA
from intentflow.lake.layout import LakeLayout

log = logging.getLogger(__name__)

_FILTER_DAYS = 8
"""Up to this many dates a table is split by filtering; beyond, by sorting once."""


def _duckdb_type(kind: pa.DataType) -> str:
    if pa.types.is_string(kind):
        return "VARCHAR"
    if pa.types.is_float64(kind):
        return "DOUBLE"
    if pa.types.is_int64(kind):
        return "BIGINT"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ"
    if pa.types.is_struct(kind):
        fields = ", ".join(f'"{f.name}" {_duckdb_type(f.type)}' for f in kind)
        return f"STRUCT({fields})"
    if pa.types.is_list(kind):
        return _duckdb_type(kind.value_type) + "[]"
    raise TypeError(f"no DuckDB type for {kind}")


LAKE_COLUMNS = {f.name: _duckdb_type(f.type) for f in LAKE_SCHEMA}
"""The lake's columns as DuckDB types, for reading lake lines with ``read_json``."""


class LineParser:
    """Parses NDJSON lake lines (see :func:`intentflow.events.lake_lines`) into lake tables.

    DuckDB's JSON reader does the parsing, outside the interpreter lock and about three times
    faster than pyarrow's on events with nested context. A parser keeps its DuckDB database for
    all its calls (a database made per call spends about a microsecond per event in fresh
    memory); use it from one thread at a time, and close it before the process forks.
    """

    def __init__(self) -> None:
        self._con = duckdb.connect(config={"threads": 1})

    def parse(self, lines: bytes) -> pa.Table:
        """The lake table of ``lines``."""
        if not lines.strip():
            return LAKE_SCHEMA.empty_table()
        relation = self._con.read_json(
            io.BytesIO(lines), format="newline_delimited", columns=LAKE_COLUMNS
        )
        return relation.to_arrow_table().cast(LAKE_SCHEMA)

    def close(self) -> None:
        """Release the database."""
        self._con.close()

    def __enter__(self) -> LineParser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def table_from_lines(lines: bytes) -> pa.Table:
    """Parse lake lines once (see :class:`LineParser` to parse many batches)."""
    with LineParser() as parser:
        return parser.parse(lines)


def split_by_date(table: pa.Table) -> Iterable[tuple[str, pa.Table]]:
    """Yield ``(YYYY-MM-DD, rows)`` per UTC event date (rows keep their order when the table
    spans few dates, and are sorted by time when it spans many)."""
    if table.num_rows == 0:
        return
    dates = pc.cast(table["timestamp"], pa.date32())
    low, high = pc.min_max(dates).values()
    if low == high:
        yield low.as_py().isoformat(), table
        return
    days = pc.unique(dates)
    if len(days) <= _FILTER_DAYS:
        for date in days.to_pylist():
            yield date.isoformat(), table.filter(pc.equal(dates, pa.scalar(date, pa.date32())))
        return
    table = table.sort_by([("timestamp", "ascending")])
    runs = pc.value_counts(pc.cast(table["timestamp"], pa.date32()))
    offset = 0
    for date, count in zip(
        runs.field("values").to_pylist(), runs.field("counts").to_pylist(), strict=True
    ):
        yield date.isoformat(), table.slice(offset, count)
        offset += count


class LakeWriter:
    """Stages and publishes event files."""

    def __init__(
        self,
        layout: LakeLayout,
        *,
        compression: str = "zstd",
        compression_level: int | None = 1,
        fsync: bool = True,
    ):
        self.layout = layout
        self.compression = compression
        self.compression_level = compression_level
        self.fsync = fsync
        """fsync each local file and its directory (an import that can simply be re-run turns
        this off and syncs once at the end)."""

    @classmethod
    def from_settings(cls, settings: Settings, *, fsync: bool = True) -> LakeWriter:
        """A writer for the configured lake, codec and level."""
        return cls(
            LakeLayout(settings.lake_dir, settings.lake.storage_options),
            compression=settings.lake.compression,
            compression_level=settings.lake.compression_level,
            fsync=fsync,
        )

    def stage(self, table: pa.Table, name: str) -> list[tuple[str, str]]:
        """Write each date's rows to a staged file; return ``(staged, final)`` pairs."""
        renames = []
        for date, part in split_by_date(table):
            renames.extend(self.stage_partition(part, date, name))
        return renames

    def stage_partition(self, table: pa.Table, date: str, name: str) -> list[tuple[str, str]]:
        """Write rows that all belong to partition ``date`` to one staged file."""
        staged = self.layout.staged_path(date, name)
        self.layout.fs.makedirs(posixpath.dirname(staged), exist_ok=True)
        if self.layout.is_local:
            with open(staged, "wb") as fh:
                pq.write_table(
                    table,
                    fh,
                    compression=self.compression,
                    compression_level=self.compression_level,
                )
                if self.fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            if self.fsync:
                fsync_dir(posixpath.dirname(staged))
        else:
            with self.layout.fs.open(staged, "wb") as fh:
                pq.write_table(
                    table,
                    fh,
                    compression=self.compression,
                    compression_level=self.compression_level,
                )
        return [(staged, self.layout.final_path(date, name))]

    def put(self, path: str, data: bytes) -> None:
        """Write a small file (a journal) durably."""
        if self.layout.is_local:
            write_atomic(path, data)
        else:
            with self.layout.fs.open(path, "wb") as fh:
                fh.write(data)

    def publish(self, renames: Iterable[tuple[str, str]]) -> None:
        """Move staged files to their final names. Safe to repeat after a crash."""
        fs = self.layout.fs
        for staged, final in renames:
            if fs.exists(staged):
                fs.mv(staged, final)
            elif not fs.exists(final):
                # Committed, renamed, then merged away by compaction before the commit was
                # cleared: the rows live on in the merged file.
                log.warning("%s was published and compacted already", final)
        if self.layout.is_local and self.fsync:
            for directory in {posixpath.dirname(final) for _, final in renames}:
                fsync_dir(directory)

    def write(self, table: pa.Table, name: str) -> list[str]:
        """Stage and publish at once; returns the final paths."""
        renames = self.stage(table, name)
        self.publish(renames)
        return [final for _, final in renames]

    def discard_staged(self, prefix: str) -> list[str]:
        """Delete staged files whose name starts with ``prefix``, left behind by a crash."""
        marker = f"/.part-{prefix}"
        removed = [p for p in self.layout.staged_files() if marker in p]
        for path in removed:
            self.layout.fs.rm(path)
        return removed
