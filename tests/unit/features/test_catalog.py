"""The catalog on DuckDB over a small, hand-checked history: people, identity, sessions, windows,
scores, affinity, and no leak from events at or after the cutoff."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from intentflow.events import LAKE_SCHEMA, event_from_dict, lake_lines
from intentflow.features.build import (
    AS_OF_KEY,
    VERSION_KEY,
    build_features,
    build_sessions,
    cutoff_us,
)
from intentflow.features.catalog import BY_NAME, FEATURES, catalog_version
from intentflow.features.kinds import DAY, HOUR, WEEK, Window
from intentflow.lake.layout import LakeLayout
from intentflow.lake.reader import Lake
from intentflow.lake.writer import LakeWriter, table_from_lines

CUTOFF = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # a Monday
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


def at(**delta: float) -> str:
    return (CUTOFF - timedelta(**delta)).isoformat()


def history() -> list[dict[str, Any]]:
    """Three people: ``u-a`` browsed anonymously, logged in and bought; ``anon-b`` never logged
    in; ``u-c`` bought twice long ago."""
    a = {"anonymous_id": "anon-a"}
    shoes = {"category": "shoes"}
    return [
        {"type": "product_view", **a, "item_id": "1", **shoes, "timestamp": at(hours=2)},
        {"type": "product_view", **a, "item_id": "2", **shoes, "timestamp": at(minutes=115)},
        {"type": "add_to_cart", **a, "item_id": "2", **shoes, "timestamp": at(minutes=114)},
        {
            "type": "page_view",
            **a,
            "timestamp": at(minutes=70),
            "context": {"user_agent": IPHONE, "page_url": "https://shop.example/"},
        },
        {"type": "identify", **a, "user_id": "u-a", "timestamp": at(minutes=69)},
        {
            "type": "purchase",
            "user_id": "u-a",
            "item_id": "2",
            **shoes,
            "revenue": 30.0,
            "timestamp": at(minutes=10),
        },
        {
            "type": "product_view",
            "anonymous_id": "anon-b",
            "item_id": "9",
            "category": "bags",
            "session_id": "s-b",
            "timestamp": at(days=2),
        },
        {
            "type": "scroll",
            "anonymous_id": "anon-b",
            "depth_percent": 40,
            "session_id": "s-b",
            "timestamp": at(days=2, minutes=-1),
        },
        {
            "type": "email_open",
            "anonymous_id": "anon-b",
            "campaign_id": "c1",
            "timestamp": at(days=1, hours=3),
        },
        {"type": "purchase", "user_id": "u-c", "revenue": 100.0, "timestamp": at(days=3)},
        {"type": "purchase", "user_id": "u-c", "revenue": 50.0, "timestamp": at(days=20)},
    ]


def lake_table(events: list[dict[str, Any]], name: str = "history") -> pa.Table:
    """Events as lake rows (ids ``<name>-<n>`` where they have none)."""
    parsed = [event_from_dict({"message_id": f"{name}-{i:03d}", **e}) for i, e in enumerate(events)]
    return table_from_lines(lake_lines(parsed))


def write_lake(root: Path, events: list[dict[str, Any]] | pa.Table, name: str = "history") -> Lake:
    table = events if isinstance(events, pa.Table) else lake_table(events, name)
    LakeWriter(LakeLayout(str(root)), fsync=False).write(table, name)
    return Lake(str(root))


def by_person(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {row["user_id"]: row for row in table.to_pylist()}


@pytest.fixture
def features(tmp_path: Path) -> dict[str, dict[str, Any]]:
    return by_person(build_features(write_lake(tmp_path / "lake", history()), CUTOFF))


def test_one_row_per_person_with_every_feature_and_the_version(tmp_path: Path) -> None:
    table = build_features(write_lake(tmp_path / "lake", history()), CUTOFF)
    assert table.column_names == ["user_id", *(f.name for f in FEATURES)]
    assert sorted(table["user_id"].to_pylist()) == ["anon-b", "u-a", "u-c"]
    assert table.schema.metadata[VERSION_KEY] == catalog_version().encode()


def test_anonymous_history_counts_once_the_person_is_identified(
    features: dict[str, dict[str, Any]],
) -> None:
    a = features["u-a"]
    assert (a["product_views_24h"], a["add_to_carts_24h"], a["purchases_24h"]) == (2, 1, 1)
    assert a["events_24h"] == 6
    assert a["days_since_first_seen"] == pytest.approx(2 / 24)


def test_windows_count_what_they_hold(features: dict[str, dict[str, Any]]) -> None:
    a, b, c = features["u-a"], features["anon-b"], features["u-c"]
    assert (a["events_15m"], a["events_1h"], a["purchases_15m"]) == (1, 1, 1)
    assert (b["events_24h"], b["events_7d"], b["email_opens_30d"]) == (0, 3, 1)
    assert (c["orders_30d"], c["revenue_30d"], c["orders_90d"]) == (2, 150.0, 2)
    assert c["events_7d"] == 1 and c["events_7d_before"] == 0
    assert a["days_since_last_purchase"] == pytest.approx(10 / 1440)
    assert c["days_since_last_purchase"] == pytest.approx(3.0)
    assert b["days_since_last_purchase"] is None
    assert b["days_since_last_visit"] == pytest.approx(2 - 1 / 1440)  # the email open is no visit


def test_rfm_scores_rank_everyone_at_the_cutoff(features: dict[str, dict[str, Any]]) -> None:
    scores = {
        p: (r["recency_score"], r["frequency_score"], r["monetary_score"])
        for p, r in features.items()
    }
    assert scores == {"u-a": (5, 3, 3), "anon-b": (1, 1, 1), "u-c": (1, 5, 5)}


def test_sessions_split_on_inactivity_and_keep_tracker_ids(
    features: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    a, b = features["u-a"], features["anon-b"]
    # u-a: 10:00-10:06 (views, cart), 10:50 (page; the identify call is no visit), 11:50
    # (purchase)
    assert a["sessions_30d"] == 3
    assert a["abandoned_carts_30d"] == 1
    assert a["bounce_rate_30d"] == pytest.approx(2 / 3)
    assert a["mean_session_seconds_30d"] == pytest.approx((360 + 0 + 0) / 3)
    assert a["median_session_seconds_30d"] == pytest.approx(0)
    assert a["mean_dwell_seconds_30d"] == pytest.approx((300 + 60) / 2)
    assert a["views_per_session_30d"] == pytest.approx(2 / 3)
    # anon-b: the tracker's session s-b; the email open after it is no session
    assert b["sessions_30d"] == 1
    assert b["mean_scroll_depth_30d"] == pytest.approx(40)
    sessions = build_sessions(Lake(str(tmp_path / "lake")), CUTOFF).to_pylist()
    mine = sorted((s for s in sessions if s["person"] == "u-a"), key=lambda s: s["start_us"])
    assert [s["events"] for s in mine] == [3, 1, 1]
    assert mine[1]["device"] == "mobile"
    assert mine[1]["entry_page"] == "https://shop.example/"
    assert {s["session"] for s in sessions if s["person"] == "anon-b"} == {"s-b"}


def test_ratios_affinity_time_and_email(features: dict[str, dict[str, Any]]) -> None:
    a, b = features["u-a"], features["anon-b"]
    assert (a["view_to_cart_30d"], a["cart_to_purchase_30d"]) == (0.5, 1.0)
    assert (a["distinct_items_viewed_30d"], a["distinct_categories_viewed_30d"]) == (2, 1)
    assert (a["top_category_1"], a["top_category_1_share"]) == ("shoes", 1.0)
    assert a["top_category_2"] is None
    assert (a["preferred_hour"], a["preferred_weekday"]) == (10, 0)
    assert a["trend_7d"] == 1.0
    assert b["email_ctr_30d"] == 0.0
    assert features["u-c"]["email_ctr_30d"] is None


def test_events_at_or_after_the_cutoff_change_nothing(tmp_path: Path) -> None:
    lake = write_lake(tmp_path / "lake", history())
    before = build_features(lake, CUTOFF)
    sessions_before = build_sessions(lake, CUTOFF)
    later = [
        {"type": "purchase", "user_id": "u-a", "revenue": 99.0, "timestamp": at(minutes=0)},
        {"type": "purchase", "user_id": "u-c", "revenue": 5.0, "timestamp": at(minutes=-1)},
        {"type": "identify", "anonymous_id": "anon-b", "user_id": "u-b", "timestamp": at(days=-1)},
        {"type": "product_view", "user_id": "u-new", "item_id": "3", "timestamp": at(days=-40)},
    ]
    write_lake(tmp_path / "lake", later, name="later")
    assert build_features(lake, CUTOFF).equals(before)
    assert build_sessions(lake, CUTOFF).equals(sessions_before)
    after = by_person(build_features(lake, CUTOFF + timedelta(days=2)))
    assert "u-b" in after and "anon-b" not in after  # identified later: merged from then on


def test_an_empty_lake_gives_an_empty_table(tmp_path: Path) -> None:
    table = build_features(Lake(str(tmp_path / "empty")), CUTOFF)
    assert table.num_rows == 0
    assert table.column_names == ["user_id", *(f.name for f in FEATURES)]


@pytest.mark.parametrize(
    ("window", "cutoff", "start", "end"),
    [
        (HOUR, "12:34:56", "11:34:56", "12:34:56"),
        (DAY, "12:34:56", "2026-01-04T12:35:00", "12:34:56"),  # 5-minute buckets
        (WEEK, "12:34:56", "2025-12-29T13:00:00", "12:34:56"),  # hourly buckets
        (
            Window("7d_before", 7 * 86_400, 3_600, 7 * 86_400),
            "12:00:00",
            "2025-12-22T13:00:00",
            "2025-12-29T13:00:00",
        ),
    ],
)
def test_window_bounds(window: Window, cutoff: str, start: str, end: str) -> None:
    def moment(text: str) -> int:
        full = text if "T" in text else f"2026-01-05T{text}"
        return cutoff_us(datetime.fromisoformat(full).replace(tzinfo=UTC))

    assert window.bounds(moment(cutoff)) == (moment(start), moment(end))


def test_the_version_changes_with_a_definition_not_a_description() -> None:
    from dataclasses import replace

    feature = BY_NAME["events_1h"]
    reworded = replace(feature, description="something else")
    rewindowed = replace(feature, window=DAY)
    assert catalog_version((reworded,)) == catalog_version((feature,))
    assert catalog_version((rewindowed,)) != catalog_version((feature,))


def test_a_cutoff_without_zone_is_utc_whatever_the_local_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = write_lake(tmp_path / "lake", history())
    aware = build_features(lake, CUTOFF)
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        naive = build_features(lake, CUTOFF.replace(tzinfo=None))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert naive == aware
    assert naive.schema.metadata[AS_OF_KEY] == aware.schema.metadata[AS_OF_KEY]


def test_an_unknown_event_type_is_a_visit_for_sessions_and_recency_alike(tmp_path: Path) -> None:
    rows = lake_table(
        [
            {"type": "page_view", "user_id": "u", "timestamp": at(days=3)},
            {"type": "page_view", "user_id": "u", "timestamp": at(hours=1)},
        ]
    ).to_pylist()
    rows[1]["type"] = "video_play"  # written to the lake by another tool
    lake = write_lake(tmp_path / "lake", pa.Table.from_pylist(rows, schema=LAKE_SCHEMA))
    [row] = build_features(lake, CUTOFF).to_pylist()
    assert row["sessions_30d"] == 2
    assert row["days_since_last_visit"] == pytest.approx(1 / 24)
    assert (row["events_30d"], row["page_views_30d"]) == (2, 1)
