"""``lake_stats`` on a small lake whose every number is known in advance."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from intentflow.events import event_from_dict, lake_lines
from intentflow.lake.layout import LakeLayout
from intentflow.lake.reader import Lake
from intentflow.lake.stats import lake_stats
from intentflow.lake.writer import LakeWriter, table_from_lines

EVENTS: list[dict[str, Any]] = [
    # 2026-01-05: u1 and the anonymous a1
    {"type": "page_view", "user_id": "u1", "timestamp": "2026-01-05T08:00:00Z"},
    {
        "type": "product_view",
        "user_id": "u1",
        "item_id": "sku-1",
        "timestamp": "2026-01-05T08:01:00Z",
    },
    {"type": "page_view", "anonymous_id": "a1", "timestamp": "2026-01-05T09:00:00Z"},
    # 2026-01-06: u1, a1 and u2 (u2 also has an anonymous id, but counts once as u2)
    {
        "type": "add_to_cart",
        "user_id": "u1",
        "item_id": "sku-1",
        "timestamp": "2026-01-06T10:00:00Z",
    },
    {
        "type": "product_view",
        "anonymous_id": "a1",
        "item_id": "sku-2",
        "timestamp": "2026-01-06T11:00:00Z",
    },
    {
        "type": "search",
        "user_id": "u2",
        "anonymous_id": "a2",
        "query": "shoes",
        "timestamp": "2026-01-06T12:00:00Z",
    },
    # 02:30+05:00 on the 7th is 21:30 UTC on the 6th
    {
        "type": "purchase",
        "user_id": "u2",
        "item_id": "sku-1",
        "price": 10.0,
        "timestamp": "2026-01-07T02:30:00+05:00",
    },
]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    root = str(tmp_path / "lake")
    events = [event_from_dict({"message_id": f"m{i}", **e}) for i, e in enumerate(EVENTS)]
    writer = LakeWriter(LakeLayout(root), fsync=False)
    writer.write(table_from_lines(lake_lines(events[:4])), "first")
    writer.write(table_from_lines(lake_lines(events[4:])), "second")
    return Lake(root)


def test_totals_by_type_and_by_day(lake: Lake) -> None:
    stats = lake_stats(lake)
    assert stats["events"] == 7
    assert stats["by_type"] == {
        "page_view": 2,
        "product_view": 2,
        "add_to_cart": 1,
        "search": 1,
        "purchase": 1,
    }
    assert stats["by_day"] == [
        {"date": "2026-01-05", "events": 3, "people": 2},
        {"date": "2026-01-06", "events": 4, "people": 3},
    ]
    assert list(stats["by_type"].values()) == sorted(stats["by_type"].values(), reverse=True)


def test_people_items_and_time_range(lake: Lake) -> None:
    stats = lake_stats(lake)
    assert stats["people"] == 3  # u1, u2, a1
    assert stats["users"] == 2
    assert stats["anonymous_ids"] == 2  # a1, a2
    assert stats["items"] == 2  # sku-1, sku-2
    assert datetime.fromisoformat(stats["first_event"]) == datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert datetime.fromisoformat(stats["last_event"]) == datetime(2026, 1, 6, 21, 30, tzinfo=UTC)


def test_files_partitions_and_bytes(lake: Lake) -> None:
    stats = lake_stats(lake)
    files = lake.files()
    assert stats["files"] == len(files) == 3  # "first" spans both days, "second" only the 6th
    assert stats["partitions"] == 2
    assert stats["bytes"] == sum(Path(f).stat().st_size for f in files)
    assert stats["lake"] == lake.layout.url


def test_an_empty_lake(tmp_path: Path) -> None:
    stats = lake_stats(Lake(str(tmp_path / "empty")))
    assert stats["events"] == 0
    assert stats["by_type"] == {}
    assert stats["by_day"] == []
    assert stats["people"] == stats["users"] == stats["anonymous_ids"] == stats["items"] == 0
    assert stats["first_event"] is None
    assert stats["last_event"] is None
    assert stats["files"] == stats["partitions"] == stats["bytes"] == 0
