"""Feature tables: the catalog at one cutoff, written as Parquet with the catalog's version.

>>> from datetime import UTC, datetime
>>> cutoff_us(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC))
1000000
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from intentflow.durable import write_atomic
from intentflow.events import EVENT_TYPES
from intentflow.features.catalog import FEATURES, catalog_version
from intentflow.features.engines import DuckDBEngine, Engine
from intentflow.features.kinds import MICROS, SESSION_GAP_S, Feature
from intentflow.features.query import feature_query, sessions_query
from intentflow.lake.reader import CorruptFileError, Lake, as_utc

VERSION_KEY = b"intentflow.catalog_version"
AS_OF_KEY = b"intentflow.as_of"
SKIPPED_KEY = b"intentflow.skipped_files"

log = logging.getLogger(__name__)


def run_query(
    engine: Engine, sql: str, lake: Lake, end: datetime, *, skip_corrupt: bool = False
) -> pa.Table:
    """``sql`` on ``engine`` over the lake's events before ``end``. When it fails on corrupt
    files, the error names them (:class:`~intentflow.lake.reader.CorruptFileError`); with
    ``skip_corrupt`` they are left out with a warning, and listed in the table's metadata under
    ``intentflow.skipped_files``."""
    end = as_utc(end)
    try:
        return engine.run(sql, lake, end)
    except (MemoryError, duckdb.OutOfMemoryException, duckdb.InterruptException):
        raise
    except Exception as exc:  # DuckDB's and Spark's read errors have no common type
        problems = lake.corrupt_files(end=end.date())
        if not problems:
            raise
        if not skip_corrupt:
            raise CorruptFileError(problems) from exc
    for path, reason in problems:
        log.warning("skipping corrupt lake file %s: %s", path, reason)
    table = engine.run(sql, lake.excluding({path for path, _ in problems}), end)
    skipped = ",".join(path for path, _ in problems).encode()
    return table.replace_schema_metadata({**(table.schema.metadata or {}), SKIPPED_KEY: skipped})


def skipped_files(table: pa.Table) -> list[str]:
    """The corrupt lake files a table was built without (see :func:`run_query`)."""
    listed = (table.schema.metadata or {}).get(SKIPPED_KEY, b"").decode()
    return [path for path in listed.split(",") if path]


def cutoff_us(moment: datetime) -> int:
    """A cutoff in epoch microseconds (a time without zone is UTC)."""
    delta = as_utc(moment) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * MICROS + delta.microseconds


def build_features(
    lake: Lake,
    as_of: datetime,
    *,
    engine: Engine | None = None,
    features: Sequence[Feature] = FEATURES,
    gap_s: int = SESSION_GAP_S,
    skip_corrupt: bool = False,
) -> pa.Table:
    """Everyone's features at ``as_of`` from events strictly before it, stamped with the catalog
    version and the cutoff (``skip_corrupt``: see :func:`run_query`)."""
    as_of = as_utc(as_of)
    sql = feature_query(features, cutoff_us(as_of), gap_s=gap_s)
    table = run_query(engine or DuckDBEngine(), sql, lake, as_of, skip_corrupt=skip_corrupt)
    metadata = {
        VERSION_KEY: catalog_version(tuple(features)).encode(),
        AS_OF_KEY: as_of.isoformat().encode(),
    }
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})


def build_sessions(
    lake: Lake,
    as_of: datetime,
    *,
    engine: Engine | None = None,
    gap_s: int = SESSION_GAP_S,
    skip_corrupt: bool = False,
) -> pa.Table:
    """The sessions table from events strictly before ``as_of``."""
    sql = sessions_query(cutoff_us(as_of), gap_s=gap_s)
    return run_query(engine or DuckDBEngine(), sql, lake, as_of, skip_corrupt=skip_corrupt)


def type_counts(lake: Lake, as_of: datetime) -> dict[str, int]:
    """Events per type before ``as_of``, most frequent first."""
    con = lake.connect()
    try:
        rows = (
            lake.events(con, end=as_of)
            .aggregate("type, COUNT(*) AS n", "type")
            .order("n DESC, type")
            .fetchall()
        )
    finally:
        con.close()
    return {str(kind): int(n) for kind, n in rows}


def unknown_types(counts: dict[str, int]) -> dict[str, int]:
    """The types among ``counts`` that intentflow does not know: features that count every
    event count them, and the rest ignore them.

    >>> unknown_types({"page_view": 3, "video_play": 2})
    {'video_play': 2}
    """
    return {kind: n for kind, n in counts.items() if kind not in EVENT_TYPES}


def write_table(table: pa.Table, path: str) -> None:
    """Write a feature table to ``path`` atomically (its metadata kept)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    write_atomic(path, sink.getvalue().to_pybytes())


def default_path(features_dir: str, as_of: datetime, version: str) -> str:
    """``FEATURES/as_of_date=YYYY-MM-DD/features-<version>-<HHMMSS>.parquet``."""
    moment = as_utc(as_of)
    return os.path.join(
        features_dir,
        f"as_of_date={moment.date().isoformat()}",
        f"features-{version}-{moment.strftime('%H%M%S')}.parquet",
    )


def table_version(path: str) -> str | None:
    """The catalog version a feature file was built with."""
    metadata = pq.read_schema(path).metadata or {}
    value = metadata.get(VERSION_KEY)
    return value.decode() if value else None
