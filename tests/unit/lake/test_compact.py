"""Compaction merges small files without loss or duplicates, and recovers from crashes both ways."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from intentflow.events import event_from_dict, lake_lines
from intentflow.lake.compact import compact, recover
from intentflow.lake.layout import LakeLayout, partition_of
from intentflow.lake.reader import Lake
from intentflow.lake.writer import LakeWriter, table_from_lines

DAY_ONE = datetime(2026, 1, 5, tzinfo=UTC)
DAY_TWO = datetime(2026, 1, 6, tzinfo=UTC)
COLUMNS = ["message_id", "type", "user_id", "timestamp", "item_id", "price", "properties"]


class CrashError(Exception):
    """The injected crash."""


def table(
    prefix: str, count: int, day: datetime, *, minute: int = 0, step_s: int = 180
) -> pa.Table:
    events = [
        event_from_dict(
            {
                "type": "add_to_cart",
                "message_id": f"{prefix}-{i:05d}",
                "user_id": f"user-{prefix}-{i % 11}",
                "item_id": f"sku-{(i * 7) % 13}",
                "price": round(1.5 + i, 2),
                "quantity": 1 + i % 3,
                "timestamp": (day + timedelta(minutes=minute, seconds=i * step_s)).isoformat(),
                "properties": {"n": i, "tag": prefix},
            }
        )
        for i in range(count)
    ]
    return table_from_lines(lake_lines(events))


def small_lake(root: str) -> LakeWriter:
    """Three small files on each of two days, written as three separate batches."""
    writer = LakeWriter(LakeLayout(root), fsync=False)
    for n in range(3):
        both_days = pa.concat_tables(
            [table(f"a{n}", 5, DAY_ONE, minute=n), table(f"b{n}", 4, DAY_TWO, minute=n)]
        )
        writer.write(both_days, f"batch-{n}")
    return writer


def rows(lake: Lake) -> list[tuple[Any, ...]]:
    con = lake.connect()
    try:
        relation = lake.events(con).select(", ".join(COLUMNS)).order("message_id")
        return [tuple(row) for row in relation.fetchall()]
    finally:
        con.close()


def size(path: str) -> int:
    return Path(path).stat().st_size


def journals(layout: LakeLayout) -> list[str]:
    return sorted(layout.fs.glob(posixpath.join(layout.journal_dir, "compact-*.json")))


def crash_on(monkeypatch: pytest.MonkeyPatch, owner: type, name: str, *, after: bool) -> None:
    """Make ``owner.name`` raise :class:`CrashError` on its first call, before or after its work."""
    original: Callable[..., Any] = getattr(owner, name)
    calls: list[int] = []

    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1 and not after:
            raise CrashError(name)
        result = original(self, *args, **kwargs)
        if len(calls) == 1 and after:
            raise CrashError(name)
        return result

    monkeypatch.setattr(owner, name, patched)


def test_small_files_merge_into_one_per_partition(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    small_lake(root)
    lake = Lake(root)
    before = rows(lake)
    assert len(lake.files()) == 6
    reports = compact(lake, target_bytes=10 << 20)
    assert [(r["date"], r["inputs"], r["rows"]) for r in reports] == [
        ("2026-01-05", 3, 15),
        ("2026-01-06", 3, 12),
    ]
    files = lake.files()
    assert len(files) == 2
    assert sorted(r["output"] for r in reports) == files
    assert {partition_of(f) for f in files} == {"2026-01-05", "2026-01-06"}
    # no row lost, none duplicated, every value the same
    after = rows(lake)
    assert after == before
    assert len({row[0] for row in after}) == len(after) == 27
    # the merged file is sorted by time, and nothing is left behind
    for path in files:
        stamps = pq.read_table(path, columns=["timestamp"]).column("timestamp").to_pylist()
        assert stamps == sorted(stamps)
    assert lake.layout.staged_files() == []
    assert journals(lake.layout) == []
    # a second run has nothing to do
    assert compact(lake, target_bytes=10 << 20) == []
    assert rows(lake) == before


def test_big_files_are_left_alone(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    writer = LakeWriter(LakeLayout(root), fsync=False)
    (big,) = writer.write(table("big", 3000, DAY_ONE, step_s=10), "big")
    smalls = [writer.write(table(f"s{n}", 3, DAY_ONE, minute=n), f"s{n}")[0] for n in range(3)]
    target = size(big)
    assert sum(size(p) for p in smalls) < target
    lake = Lake(root)
    before = rows(lake)
    big_bytes = Path(big).read_bytes()

    reports = compact(lake, target_bytes=target)
    assert len(reports) == 1
    assert reports[0]["inputs"] == 3
    assert Path(big).read_bytes() == big_bytes
    assert sorted(lake.files()) == sorted([big, reports[0]["output"]])
    assert all(not Path(p).exists() for p in smalls)
    assert rows(lake) == before


def test_groups_stay_under_the_target(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    writer = LakeWriter(LakeLayout(root), fsync=False)
    paths = [writer.write(table(f"g{n}", 3, DAY_ONE, minute=n), f"g{n}")[0] for n in range(6)]
    largest = max(size(p) for p in paths)
    lake = Lake(root)
    before = rows(lake)
    # room for two files per group, not three
    reports = compact(lake, target_bytes=2 * largest + 1)
    assert len(reports) == 3
    assert all(r["inputs"] == 2 for r in reports)
    assert rows(lake) == before


def test_a_lone_small_file_is_not_rewritten(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    writer = LakeWriter(LakeLayout(root), fsync=False)
    (only,) = writer.write(table("only", 4, DAY_ONE), "only")
    lake = Lake(root)
    assert compact(lake, target_bytes=10 << 20) == []
    assert lake.files() == [only]


def test_compaction_of_one_date_only(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    small_lake(root)
    lake = Lake(root)
    before = rows(lake)
    reports = compact(lake, target_bytes=10 << 20, date="2026-01-06")
    assert [r["date"] for r in reports] == ["2026-01-06"]
    assert len(lake.files()) == 4
    assert rows(lake) == before


def test_crash_after_output_is_in_place_rolls_forward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Journal written and output published, inputs not yet deleted."""
    root = str(tmp_path / "lake")
    small_lake(root)
    lake = Lake(root)
    before = rows(lake)
    inputs = lake.files(end=DAY_ONE.date())
    crash_on(monkeypatch, LakeWriter, "publish", after=True)
    with pytest.raises(CrashError):
        compact(lake, target_bytes=10 << 20)
    monkeypatch.undo()

    layout = lake.layout
    (journal,) = journals(layout)
    entry = json.loads(Path(journal).read_text())
    assert sorted(entry["inputs"]) == sorted(inputs)
    assert Path(entry["output"]).is_file()
    assert all(Path(p).is_file() for p in inputs)
    # in between, readers see the output instead of its inputs: nothing counted twice
    assert entry["output"] in lake.files()
    assert not set(inputs) & set(lake.files())
    assert lake.count() == len(before)
    assert rows(lake) == before
    assert sorted(lake.message_ids()) == sorted(row[0] for row in before)

    assert recover(layout) == 1
    assert journals(layout) == []
    assert all(not Path(p).exists() for p in inputs)
    assert Path(entry["output"]).is_file()
    assert rows(lake) == before
    assert recover(layout) == 0


def test_crash_before_output_is_in_place_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Journal written and output staged, but never renamed into place."""
    root = str(tmp_path / "lake")
    small_lake(root)
    lake = Lake(root)
    before = rows(lake)
    files_before = lake.files()
    crash_on(monkeypatch, LakeWriter, "publish", after=False)
    with pytest.raises(CrashError):
        compact(lake, target_bytes=10 << 20)
    monkeypatch.undo()

    layout = lake.layout
    (journal,) = journals(layout)
    entry = json.loads(Path(journal).read_text())
    assert Path(entry["staged"]).is_file()
    assert not Path(entry["output"]).exists()
    assert lake.files() == files_before
    assert rows(lake) == before

    assert recover(layout) == 1
    assert journals(layout) == []
    assert not Path(entry["staged"]).exists()
    assert layout.staged_files() == []
    assert lake.files() == files_before
    assert rows(lake) == before


def test_crash_before_the_output_is_staged_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Journal written, nothing else: recovery only removes the journal."""
    root = str(tmp_path / "lake")
    small_lake(root)
    lake = Lake(root)
    before = rows(lake)
    crash_on(monkeypatch, LakeWriter, "stage_partition", after=False)
    with pytest.raises(CrashError):
        compact(lake, target_bytes=10 << 20)
    monkeypatch.undo()
    assert len(journals(lake.layout)) == 1
    assert recover(lake.layout) == 1
    assert journals(lake.layout) == []
    assert len(lake.files()) == 6
    assert rows(lake) == before


@pytest.mark.parametrize("after", [True, False], ids=["roll-forward", "roll-back"])
def test_the_next_compaction_recovers_and_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: bool
) -> None:
    root = str(tmp_path / "lake")
    small_lake(root)
    lake = Lake(root)
    before = rows(lake)
    crash_on(monkeypatch, LakeWriter, "publish", after=after)
    with pytest.raises(CrashError):
        compact(lake, target_bytes=10 << 20)
    monkeypatch.undo()
    compact(lake, target_bytes=10 << 20)
    assert len(lake.files()) == 2
    assert journals(lake.layout) == []
    assert lake.layout.staged_files() == []
    assert rows(lake) == before


def test_crash_while_deleting_inputs_rolls_forward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some inputs deleted, others not: recovery deletes the rest and keeps the output."""
    root = str(tmp_path / "lake")
    small_lake(root)
    lake = Lake(root)
    before = rows(lake)
    fs = lake.layout.fs
    original_rm: Callable[..., Any] = fs.rm
    removed: list[str] = []

    def rm_then_crash(path: str, *args: Any, **kwargs: Any) -> Any:
        if removed:
            raise CrashError(path)
        removed.append(path)
        return original_rm(path, *args, **kwargs)

    monkeypatch.setattr(fs, "rm", rm_then_crash)
    with pytest.raises(CrashError):
        compact(lake, target_bytes=10 << 20)
    monkeypatch.undo()
    assert len(removed) == 1
    assert rows(lake) == before
    assert recover(lake.layout) == 1
    assert rows(lake) == before
    assert len(lake.files()) == 4  # day one merged into one file, day two's three untouched
