"""Reading the lake: partition pruning, time filters, an empty lake, ids and counts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from intentflow.events import LAKE_SCHEMA, event_from_dict, lake_lines
from intentflow.lake.layout import LakeLayout, partition_of
from intentflow.lake.reader import Lake
from intentflow.lake.writer import LakeWriter, table_from_lines

START = datetime(2026, 1, 4, 0, 0, tzinfo=UTC)
HOURS = 72  # one event an hour over 2026-01-04, -05 and -06


def write_events(root: str, hours: range, name: str, prefix: str = "m") -> list[str]:
    events = [
        event_from_dict(
            {
                "type": "search",
                "message_id": f"{prefix}-{h:03d}",
                "user_id": f"u{h % 4}",
                "query": f"q{h}",
                "timestamp": (START + timedelta(hours=h)).isoformat(),
            }
        )
        for h in hours
    ]
    return LakeWriter(LakeLayout(root), fsync=False).write(
        table_from_lines(lake_lines(events)), name
    )


@pytest.fixture
def root(tmp_path: Path) -> str:
    path = str(tmp_path / "lake")
    write_events(path, range(0, 40), "first")
    write_events(path, range(40, HOURS), "second")
    return path


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def ids(relation: duckdb.DuckDBPyRelation) -> list[str]:
    return sorted(str(row[0]) for row in relation.select("message_id").fetchall())


def hours_between(first: int, stop: int) -> list[str]:
    return [f"m-{h:03d}" for h in range(first, stop)]


def test_files_prunes_partitions_by_date(root: str) -> None:
    lake = Lake(root)
    every = lake.files()
    assert len(every) == 4  # "first" covers two days, "second" two
    assert {partition_of(f) for f in every} == {"2026-01-04", "2026-01-05", "2026-01-06"}
    one_day = lake.files(date(2026, 1, 5), date(2026, 1, 5))
    assert {partition_of(f) for f in one_day} == {"2026-01-05"}
    assert len(one_day) == 2
    assert {partition_of(f) for f in lake.files(start=date(2026, 1, 5))} == {
        "2026-01-05",
        "2026-01-06",
    }
    assert {partition_of(f) for f in lake.files(end=date(2026, 1, 4))} == {"2026-01-04"}
    assert lake.files(date(2026, 2, 1)) == []
    assert lake.files(date(2026, 1, 6), date(2026, 1, 5)) == []


def test_events_filters_by_time_start_inclusive_end_exclusive(
    root: str, con: duckdb.DuckDBPyConnection
) -> None:
    lake = Lake(root)
    assert ids(lake.events(con)) == hours_between(0, HOURS)
    start = START + timedelta(hours=10)
    end = START + timedelta(hours=30)
    assert ids(lake.events(con, start, end)) == hours_between(10, 30)
    assert ids(lake.events(con, start=START + timedelta(hours=70))) == hours_between(70, HOURS)
    assert ids(lake.events(con, end=START + timedelta(hours=1))) == hours_between(0, 1)
    # a window inside one day opens only that day's files, and still filters by time
    day = datetime(2026, 1, 5, 6, tzinfo=UTC)
    assert ids(lake.events(con, day, day + timedelta(hours=2))) == hours_between(30, 32)


def test_events_with_bounds_in_other_time_zones(root: str, con: duckdb.DuckDBPyConnection) -> None:
    """Pruning by date uses the UTC date of the bounds, as the partitions do."""
    lake = Lake(root)
    east = timezone(timedelta(hours=5))
    west = timezone(timedelta(hours=-5))
    # 2026-01-05 01:00+05:00 is 2026-01-04 20:00 UTC: hour 20, in the 2026-01-04 partition
    start = datetime(2026, 1, 5, 1, tzinfo=east)
    # 2026-01-05 22:00-05:00 is 2026-01-06 03:00 UTC: hour 51, in the 2026-01-06 partition
    end = datetime(2026, 1, 5, 22, tzinfo=west)
    assert ids(lake.events(con, start, end)) == hours_between(20, 51)


def test_events_with_naive_bounds_read_them_as_utc(
    root: str, con: duckdb.DuckDBPyConnection
) -> None:
    lake = Lake(root)
    con.execute("SET TimeZone = 'Asia/Tokyo'")  # the session's zone does not change the answer
    relation = lake.events(con, datetime(2026, 1, 4, 22), datetime(2026, 1, 5, 2))
    assert ids(relation) == hours_between(22, 26)


def test_events_carry_the_partition_column(root: str, con: duckdb.DuckDBPyConnection) -> None:
    lake = Lake(root)
    relation = lake.events(con)
    assert relation.columns == [*LAKE_SCHEMA.names, "event_date"]
    rows = relation.select("event_date, timestamp").fetchall()
    assert all(ts.astimezone(UTC).date() == day for day, ts in rows)


def test_an_empty_lake_reads_as_zero_rows_with_the_columns(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    lake = Lake(str(tmp_path / "nothing-here"))
    assert lake.files() == []
    assert lake.count() == 0
    assert list(lake.message_ids()) == []
    relation = lake.events(con)
    assert relation.columns == [*LAKE_SCHEMA.names, "event_date"]
    assert relation.count("*").fetchall() == [(0,)]
    bounded = lake.events(con, START, START + timedelta(days=1))
    assert bounded.columns == [*LAKE_SCHEMA.names, "event_date"]
    assert bounded.fetchall() == []


def test_a_window_without_files_reads_as_zero_rows(
    root: str, con: duckdb.DuckDBPyConnection
) -> None:
    lake = Lake(root)
    relation = lake.events(con, datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))
    assert relation.columns == [*LAKE_SCHEMA.names, "event_date"]
    assert relation.fetchall() == []


def test_staged_files_are_not_read(root: str, con: duckdb.DuckDBPyConnection) -> None:
    layout = LakeLayout(root)
    events = [
        event_from_dict(
            {
                "type": "custom",
                "name": "x",
                "user_id": "u",
                "message_id": "staged-only",
                "timestamp": START.isoformat(),
            }
        )
    ]
    LakeWriter(layout, fsync=False).stage(table_from_lines(lake_lines(events)), "staged")
    assert layout.staged_files() != []
    lake = Lake(root)
    assert lake.count() == HOURS
    assert "staged-only" not in ids(lake.events(con))


def test_count_rows_in_and_message_ids(root: str) -> None:
    lake = Lake(root)
    assert lake.count() == HOURS
    assert sum(lake.rows_in(f) for f in lake.files()) == HOURS
    assert sorted(lake.message_ids()) == hours_between(0, HOURS)


def test_message_ids_since_a_file_time(tmp_path: Path) -> None:
    path = str(tmp_path / "lake")
    old = write_events(path, range(0, 5), "old", prefix="old")
    for file in old:
        os.utime(file, (1_000_000, 1_000_000))
    write_events(path, range(5, 8), "new", prefix="new")
    lake = Lake(path)
    assert sorted(lake.message_ids(since_mtime=2_000_000)) == ["new-005", "new-006", "new-007"]
    assert len(list(lake.message_ids())) == 8


def test_connect_reads_the_lake(root: str) -> None:
    lake = Lake(root)
    connection = lake.connect()
    try:
        assert lake.events(connection).count("*").fetchall() == [(HOURS,)]
    finally:
        connection.close()
