"""Dataset presets: each maps its source columns to native event fields with the right types."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from intentflow.collect.validate import Validator
from intentflow.config import CollectSettings, Settings
from intentflow.events import AddToCart, AddToWishlist, Event, ProductView, Purchase
from intentflow.ingest.importer import import_file
from intentflow.ingest.presets import PRESETS, Mapping
from intentflow.lake.reader import Lake

RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)


def validated(mapping: Mapping, table: pa.Table, source: str) -> list[Event]:
    """Map a table and validate its rows the way the importer does; every row must pass."""
    rows = mapping.apply(table).to_pylist()
    for n, row in enumerate(rows):
        row["message_id"] = f"m-{n}"
    checked = Validator(CollectSettings()).validate_rows(rows, received_at=RECEIVED, source=source)
    reasons = [item for item in checked if isinstance(item, str)]
    assert reasons == []
    return [item for item in checked if not isinstance(item, str)]


def lake_rows(settings: Settings, columns: str) -> list[tuple[Any, ...]]:
    """Some columns of every lake row, ordered by message id."""
    lake = Lake(settings.lake_dir)
    con = lake.connect()
    try:
        return lake.events(con).order("message_id").select(columns).fetchall()
    finally:
        con.close()


def test_every_preset_is_named_after_its_key() -> None:
    assert set(PRESETS) >= {"taobao", "yoochoose", "diginetica", "movielens"}
    for name in ("taobao", "yoochoose", "diginetica", "movielens"):
        assert PRESETS[name].name == name
        assert PRESETS[name].format == "csv"


def test_taobao_maps_behaviours_to_event_types() -> None:
    table = pa.table(
        {
            "user_id": ["7", "7", "8", "9"],
            "item_id": ["91", "92", "93", "94"],
            "category_id": ["3", "3", "4", "5"],
            "behavior": ["pv", "cart", "fav", "buy"],
            "ts": pa.array([1511658000, 1511658001, 1511658002, 1511665811], pa.int64()),
        }
    )
    mapped = PRESETS["taobao"].mapping.apply(table)
    assert mapped.column("type").to_pylist() == [
        "product_view",
        "add_to_cart",
        "add_to_wishlist",
        "purchase",
    ]
    assert pa.types.is_floating(mapped.schema.field("timestamp").type)
    events = validated(PRESETS["taobao"].mapping, table, "import:taobao")
    assert [type(e) for e in events] == [ProductView, AddToCart, AddToWishlist, Purchase]
    view, cart, _, buy = events
    assert isinstance(view, ProductView)
    assert (view.user_id, view.item_id, view.category) == ("7", "91", "3")
    assert view.timestamp == datetime(2017, 11, 26, 1, 0, tzinfo=UTC)
    assert buy.timestamp == datetime(2017, 11, 26, 3, 10, 11, tzinfo=UTC)
    assert isinstance(cart, AddToCart) and cart.quantity == 1
    assert isinstance(buy, Purchase) and buy.item_id == "94" and buy.currency == "USD"
    assert all(e.source == "import:taobao" and e.received_at == RECEIVED for e in events)


def test_taobao_ids_become_text_even_when_read_as_numbers() -> None:
    table = pa.table(
        {
            "user_id": pa.array([543462], pa.int64()),
            "item_id": pa.array([1715], pa.int64()),
            "category_id": pa.array([1464116], pa.int64()),
            "behavior": ["pv"],
            "ts": pa.array([1511658000], pa.int64()),
        }
    )
    mapped = PRESETS["taobao"].mapping.apply(table)
    for name in ("user_id", "item_id", "category"):
        assert mapped.schema.field(name).type == pa.string()
    (event,) = validated(PRESETS["taobao"].mapping, table, "import:taobao")
    assert (event.user_id, getattr(event, "item_id", None)) == ("543462", "1715")


def test_taobao_unknown_behaviour_is_refused_by_validation() -> None:
    table = pa.table(
        {
            "user_id": ["7"],
            "item_id": ["9"],
            "category_id": ["3"],
            "behavior": ["teleport"],
            "ts": pa.array([1511658000], pa.int64()),
        }
    )
    rows = PRESETS["taobao"].mapping.apply(table).to_pylist()
    (reason,) = Validator(CollectSettings()).validate_rows(
        rows, received_at=RECEIVED, source="import:taobao"
    )
    assert isinstance(reason, str) and "unknown event type 'teleport'" in reason


def test_yoochoose_clicks_are_anonymous_product_views_in_sessions() -> None:
    table = pa.table(
        {
            "SessionId": ["11", "11", "12"],
            "ItemId": ["214716935", "214774687", "214832672"],
            "Time": pa.array([1396314141.719, 1396314201.0, 1396850592.56], pa.float64()),
        }
    )
    mapped = PRESETS["yoochoose"].mapping.apply(table)
    assert mapped.column("anonymous_id").to_pylist() == ["yc-11", "yc-11", "yc-12"]
    events = validated(PRESETS["yoochoose"].mapping, table, "import:yoochoose")
    assert all(isinstance(e, ProductView) for e in events)
    first = events[0]
    assert isinstance(first, ProductView)
    assert (first.session_id, first.anonymous_id, first.user_id) == ("11", "yc-11", None)
    assert first.item_id == "214716935"
    assert first.timestamp == datetime(2014, 4, 1, 1, 2, 21, 719000, tzinfo=UTC)


def test_diginetica_time_is_the_day_plus_the_offset_in_the_session() -> None:
    table = pa.table(
        {
            "session_id": ["1", "1", "2"],
            "user_id": pa.array([None, None, "5"], pa.string()),
            "item_id": ["81766", "31331", "32118"],
            "timeframe": pa.array([526309, 1031018, 0], pa.int64()),
            "eventdate": ["2016-05-09", "2016-05-09", "2016-01-03"],
        }
    )
    mapped = PRESETS["diginetica"].mapping.apply(table)
    assert mapped.column("anonymous_id").to_pylist() == ["dg-1", "dg-1", "dg-2"]
    events = validated(PRESETS["diginetica"].mapping, table, "import:diginetica")
    assert all(isinstance(e, ProductView) for e in events)
    assert [e.timestamp for e in events] == [
        datetime(2016, 5, 9, 0, 8, 46, 309000, tzinfo=UTC),
        datetime(2016, 5, 9, 0, 17, 11, 18000, tzinfo=UTC),
        datetime(2016, 1, 3, tzinfo=UTC),
    ]
    assert [e.user_id for e in events] == [None, None, "5"]
    assert [e.session_id for e in events] == ["1", "1", "2"]


def test_movielens_ratings_are_views_that_keep_the_rating() -> None:
    table = pa.table(
        {
            "userId": ["1", "610"],
            "movieId": ["1", "170875"],
            "rating": pa.array([4.0, 3.5], pa.float64()),
            "timestamp": pa.array([964982703, 1493846415], pa.int64()),
        }
    )
    events = validated(PRESETS["movielens"].mapping, table, "import:movielens")
    assert all(isinstance(e, ProductView) for e in events)
    assert [(e.user_id, getattr(e, "item_id", None)) for e in events] == [
        ("1", "1"),
        ("610", "170875"),
    ]
    assert [e.properties for e in events] == [{"rating": 4.0}, {"rating": 3.5}]
    assert events[0].timestamp == datetime(2000, 7, 30, 18, 45, 3, tzinfo=UTC)


TINY_FILES: dict[str, tuple[str, str, int]] = {
    "taobao": (
        "UserBehavior.csv",
        "543462,1715,1464116,pv,1511658000\n"
        "662867,2244074,1575622,cart,1511658000\n"
        "561558,3611281,965809,buy,1511658001\n",
        3,
    ),
    "yoochoose": (
        "clicks.txt",
        "SessionId\tItemId\tTime\n1\t214536502\t1396321450.123\n1\t214536500\t1396321500.0\n",
        2,
    ),
    "diginetica": (
        "views.csv",
        "session_id;user_id;item_id;timeframe;eventdate\n"
        "1;NA;81766;526309;2016-05-09\n"
        "2;5;32118;0;2016-01-03\n",
        2,
    ),
    "movielens": (
        "ratings.csv",
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0,964981247\n",
        2,
    ),
}


@pytest.mark.parametrize("preset", sorted(TINY_FILES))
def test_a_tiny_file_in_the_preset_layout_imports_without_rejections(
    preset: str, tmp_path: Path, settings: Settings
) -> None:
    name, text, rows = TINY_FILES[preset]
    path = tmp_path / name
    path.write_text(text)
    report = import_file(path, settings, preset=preset, workers=1)
    assert (report.rows, report.accepted, report.quarantined) == (rows, rows, 0)
    stored = lake_rows(settings, "source, user_id, anonymous_id, item_id, timestamp")
    assert len(stored) == rows
    assert {row[0] for row in stored} == {f"import:{preset}"}
    assert all(row[1] or row[2] for row in stored)
    assert all(isinstance(row[3], str) and row[3].isdigit() for row in stored)
    if preset == "diginetica":
        assert sorted(stored, key=lambda r: r[2]) == [
            (
                "import:diginetica",
                None,
                "dg-1",
                "81766",
                datetime(2016, 5, 9, 0, 8, 46, 309000, tzinfo=UTC),
            ),
            ("import:diginetica", "5", "dg-2", "32118", datetime(2016, 1, 3, tzinfo=UTC)),
        ]
