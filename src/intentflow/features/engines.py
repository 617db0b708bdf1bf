"""Where the catalog's query runs: DuckDB in-process (the default), or Spark.

Both engines take the query of :mod:`intentflow.features.query`, expose the lake's events before
``end`` as the relation ``events`` (the query applies the cutoff itself; ``end`` only spares
reading later partitions), and return an Arrow table. The Spark engine transpiles the
query with sqlglot; its session runs with UTC as its time zone so that times mean the same on both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa

from intentflow.config import Settings
from intentflow.features.query import to_dialect
from intentflow.lake.reader import Lake, as_utc


class Engine(Protocol):
    """Runs a feature query over a lake's events before ``end``."""

    name: str

    def run(self, sql: str, lake: Lake, end: datetime) -> pa.Table:
        """The result of ``sql`` (DuckDB dialect) as an Arrow table."""
        ...


class DuckDBEngine:
    """The embedded engine: one DuckDB connection per query, all cores."""

    name = "duckdb"

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None):
        self.threads = threads
        self.memory_limit = memory_limit

    def run(self, sql: str, lake: Lake, end: datetime) -> pa.Table:
        con = lake.connect()
        try:
            con.execute("SET preserve_insertion_order = false")
            if self.threads:
                con.execute(f"SET threads = {int(self.threads)}")
            if self.memory_limit:
                con.execute(f"SET memory_limit = '{self.memory_limit}'")
            lake.events(con, end=end).create_view("events")
            return con.sql(sql).to_arrow_table()
        finally:
            con.close()


def spark_session(master: str, **config: str) -> Any:
    """A Spark session on ``master`` (``local[2]``, ``spark://host:7077``, ``yarn``...) with the
    console progress bar off, plus any ``config`` options."""
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName("intentflow-features")
        .config("spark.ui.showConsoleProgress", "false")
    )
    for key, value in config.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


class SparkEngine:
    """The scale-out engine: a Spark session (``local[2]``, or a cluster's master URL)."""

    name = "spark"

    def __init__(self, session: Any):
        self.session = session
        session.conf.set("spark.sql.session.timeZone", "UTC")

    def run(self, sql: str, lake: Lake, end: datetime) -> pa.Table:
        files = [lake.layout.qualified(p) for p in lake.files(end=as_utc(end).date())]
        if files:
            frame = self.session.read.option("basePath", lake.layout.events_dir).parquet(*files)
        else:
            from pyspark.sql.pandas.types import from_arrow_schema

            from intentflow.events import LAKE_SCHEMA

            frame = self.session.createDataFrame([], from_arrow_schema(LAKE_SCHEMA))
        frame.createOrReplaceTempView("events")
        result = self.session.sql(to_dialect(sql, "spark"))
        return result.toArrow()


def configured_engine(settings: Settings, name: str | None = None) -> Engine:
    """The configured engine, or the one named; Spark starts a session on the configured
    master."""
    chosen = name or settings.features.engine
    if chosen == "duckdb":
        return DuckDBEngine(memory_limit=settings.features.duckdb_memory_limit)
    if chosen == "spark":
        return SparkEngine(spark_session(settings.features.spark_master))
    raise ValueError(f"unknown engine {chosen!r}: duckdb or spark")
