"""Lake writes: rows split by UTC date and sorted, staged files hidden, publishing idempotent."""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from intentflow.events import LAKE_SCHEMA, event_from_dict, lake_lines
from intentflow.lake.layout import LakeLayout, partition_of
from intentflow.lake.reader import Lake
from intentflow.lake.writer import LakeWriter, split_by_date, table_from_lines

EAST = timezone(timedelta(hours=9))
WEST = timezone(timedelta(hours=-5))


def table_of(stamps: list[datetime], prefix: str = "m") -> pa.Table:
    events = [
        event_from_dict(
            {
                "type": "page_view",
                "message_id": f"{prefix}-{i}",
                "anonymous_id": f"a{i % 3}",
                "timestamp": stamp.isoformat(),
                "properties": {"i": i},
            }
        )
        for i, stamp in enumerate(stamps)
    ]
    return table_from_lines(lake_lines(events))


# shuffled, in several time zones, around two UTC midnights
STAMPS = [
    datetime(2026, 1, 6, 3, 0, tzinfo=UTC),
    datetime(2026, 1, 5, 23, 30, tzinfo=WEST),  # 2026-01-06 04:30 UTC
    datetime(2026, 1, 5, 8, 0, tzinfo=EAST),  # 2026-01-04 23:00 UTC
    datetime(2026, 1, 5, 0, 0, tzinfo=UTC),
    datetime(2026, 1, 5, 23, 59, 59, tzinfo=UTC),
    datetime(2026, 1, 6, 0, 0, tzinfo=UTC),
    datetime(2026, 1, 5, 12, 0, tzinfo=UTC),
    datetime(2026, 1, 4, 1, 0, tzinfo=UTC),
]


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda row: str(row["message_id"]))


@pytest.fixture
def layout(tmp_path: Path) -> LakeLayout:
    return LakeLayout(str(tmp_path / "lake"))


def _by_day(parts: list[tuple[str, pa.Table]]) -> dict[str, list[datetime]]:
    days = [day for day, _ in parts]
    assert len(days) == len(set(days)), "a date is yielded once"
    return {day: sorted(part.column("timestamp").to_pylist()) for day, part in parts}


def test_split_by_date_groups_rows_by_utc_date() -> None:
    table = table_of(STAMPS)
    parts = list(split_by_date(table))
    expected: dict[str, list[datetime]] = {}
    for stamp in sorted(s.astimezone(UTC) for s in STAMPS):
        expected.setdefault(stamp.date().isoformat(), []).append(stamp)
    assert _by_day(parts) == expected
    assert sorted(expected) == ["2026-01-04", "2026-01-05", "2026-01-06"]
    # every row once, with all its columns
    assert sum(part.num_rows for _, part in parts) == len(STAMPS)
    assert _rows(pa.concat_tables(part for _, part in parts)) == _rows(table)


def test_split_by_date_sorts_a_table_of_many_days_by_timestamp() -> None:
    base = datetime(2026, 3, 1, 12, tzinfo=UTC)
    # 30 days, each with three events, shuffled deterministically
    stamps = [base + timedelta(days=(7 * i) % 30, hours=(5 * i) % 3) for i in range(90)]
    parts = list(split_by_date(table_of(stamps)))
    assert [day for day, _ in parts] == sorted(day for day, _ in parts)
    assert len(parts) == 30
    for day, part in parts:
        got = part.column("timestamp").to_pylist()
        assert got == sorted(got)
        assert all(s.date().isoformat() == day for s in got)
    assert sum(part.num_rows for _, part in parts) == 90


def test_split_by_date_of_one_day_and_of_nothing() -> None:
    one_day = table_of([datetime(2026, 2, 1, h, tzinfo=UTC) for h in (5, 1, 3)])
    parts = list(split_by_date(one_day))
    assert [day for day, _ in parts] == ["2026-02-01"]
    assert sorted(s.hour for s in parts[0][1].column("timestamp").to_pylist()) == [1, 3, 5]
    assert list(split_by_date(LAKE_SCHEMA.empty_table())) == []


def test_table_from_lines_keeps_the_lake_schema() -> None:
    assert table_from_lines(b"").schema == LAKE_SCHEMA
    assert table_from_lines(b"").num_rows == 0
    table = table_of(STAMPS[:2])
    assert table.schema == LAKE_SCHEMA
    assert table.column("properties").to_pylist() == ['{"i":0}', '{"i":1}']


def test_staged_files_are_hidden_until_published(layout: LakeLayout) -> None:
    writer = LakeWriter(layout, fsync=False)
    table = table_of(STAMPS)
    renames = writer.stage(table, "batch-1")
    assert len(renames) == 3
    for staged, final in renames:
        assert posixpath.basename(staged).startswith(".")
        assert posixpath.dirname(staged) == posixpath.dirname(final)
        assert Path(staged).is_file()
        assert not Path(final).exists()
    assert layout.committed_files() == []
    assert sorted(layout.staged_files()) == sorted(s for s, _ in renames)
    assert Lake(layout.root).count() == 0
    # dataset readers of the bare directory skip names starting with "." as well
    assert ds.dataset(layout.events_dir, format="parquet", partitioning="hive").files == []

    writer.publish(renames)
    assert layout.staged_files() == []
    assert layout.committed_files() == sorted(f for _, f in renames)
    assert Lake(layout.root).count() == len(STAMPS)
    dataset = ds.dataset(layout.events_dir, format="parquet", partitioning="hive")
    assert dataset.count_rows() == len(STAMPS)


def test_publish_is_safe_to_repeat(layout: LakeLayout) -> None:
    writer = LakeWriter(layout, fsync=True)
    renames = writer.stage(table_of(STAMPS), "batch-1")
    writer.publish(renames)
    writer.publish(renames)
    # a crash halfway through: one rename done, the others not
    more = writer.stage(table_of(STAMPS, "n"), "batch-2")
    writer.publish(more[:1])
    writer.publish(more)
    assert layout.staged_files() == []
    assert Lake(layout.root).count() == 2 * len(STAMPS)


def test_publish_of_a_file_compacted_away_is_logged_not_fatal(
    layout: LakeLayout, caplog: pytest.LogCaptureFixture
) -> None:
    """A committed rename whose file compaction has since merged away must not stop recovery."""
    writer = LakeWriter(layout, fsync=False)
    staged = layout.staged_path("2026-01-05", "ghost")
    final = layout.final_path("2026-01-05", "ghost")
    writer.publish([(staged, final)])
    assert "published and compacted already" in caplog.text


def test_written_files_hold_the_rows_of_their_date(layout: LakeLayout) -> None:
    writer = LakeWriter(layout, compression="zstd", fsync=False)
    finals = writer.write(table_of(STAMPS), "w")
    assert sorted(partition_of(f) for f in finals) == ["2026-01-04", "2026-01-05", "2026-01-06"]
    for path in finals:
        table = pq.read_table(path)
        assert table.schema == LAKE_SCHEMA
        stamps = table.column("timestamp").to_pylist()
        assert {s.date().isoformat() for s in stamps} == {partition_of(path)}
        metadata = pq.ParquetFile(path).metadata
        assert metadata.row_group(0).column(0).compression == "ZSTD"


def test_discard_staged_removes_only_the_given_prefix(layout: LakeLayout) -> None:
    writer = LakeWriter(layout, fsync=False)
    ours = writer.stage(table_of(STAMPS), "abcd1234-000000000001-000000000000")
    theirs = writer.stage(table_of(STAMPS), "c-compaction")
    kept = writer.write(table_of(STAMPS, "k"), "abcd1234-000000000000-000000000000")
    removed = writer.discard_staged(prefix="abcd1234")
    assert sorted(removed) == sorted(s for s, _ in ours)
    assert sorted(layout.staged_files()) == sorted(s for s, _ in theirs)
    assert all(Path(f).is_file() for f in kept)


def test_put_writes_a_small_file_atomically(layout: LakeLayout) -> None:
    writer = LakeWriter(layout, fsync=False)
    Path(layout.journal_dir).mkdir(parents=True)
    path = posixpath.join(layout.journal_dir, "compact-x.json")
    writer.put(path, b'{"a": 1}')
    writer.put(path, b'{"a": 2}')
    assert Path(path).read_bytes() == b'{"a": 2}'
    assert sorted(p.name for p in Path(layout.journal_dir).iterdir()) == ["compact-x.json"]


def test_layout_paths(layout: LakeLayout) -> None:
    assert layout.is_local
    final = layout.final_path("2026-01-05", "x")
    staged = layout.staged_path("2026-01-05", "x")
    assert final.endswith("/events/event_date=2026-01-05/part-x.parquet")
    assert staged.endswith("/events/event_date=2026-01-05/.part-x.parquet.tmp")
    assert layout.qualified(final) == final
    assert partition_of(staged) == "2026-01-05"
    with pytest.raises(ValueError, match="not inside"):
        partition_of("lake/events/part-x.parquet")


def test_round_trip_keeps_every_column(layout: LakeLayout) -> None:
    table = table_of(STAMPS)
    LakeWriter(layout, fsync=False).write(table, "rt")
    back = pa.concat_tables(pq.read_table(p) for p in layout.committed_files())
    assert _rows(back) == _rows(table)
