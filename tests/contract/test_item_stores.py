"""One contract, every item catalog: the data directory's file and a real Redis server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intentflow.features.kinds import MICROS
from intentflow.items.base import ItemStore
from intentflow.items.local import LocalItems
from intentflow.items.model import Item
from intentflow.items.redis import RedisItems


@pytest.fixture(params=["local", "redis"])
def items(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ItemStore]:
    if request.param == "local":
        store: ItemStore = LocalItems(tmp_path / "items")
    else:
        url = request.getfixturevalue("redis_url")
        store = RedisItems(url, namespace=f"test-{uuid.uuid4().hex}")
    yield store
    store.close()


def _view(item: str, us: int, category: str | None = "c1", price: float | None = 5.0) -> dict:
    return {"type": "product_view", "item_id": item, "us": us, "category": category, "price": price}


def test_items_seen_in_events_appear_with_category_price_and_first_time(items: ItemStore) -> None:
    assert items.get("a") is None
    assert items.observe([_view("a", 10 * MICROS), _view("b", 11 * MICROS, None, None)]) == 2
    assert items.observe([_view("a", 20 * MICROS, "c2", 7.5)]) == 1
    assert items.observe([_view("a", 30 * MICROS, "c2", 7.5)]) == 0  # nothing new to say
    a, b = items.get("a"), items.get("b")
    assert a is not None and b is not None
    assert (a.category_path, a.price, a.seen_only) == (["c2"], 7.5, True)
    assert a.created == datetime.fromtimestamp(10, UTC)
    assert (b.category, b.price) == (None, None)
    assert items.observe([_view("b", 5 * MICROS, None, 3.0)]) == 1  # earlier: first time moves
    b = items.get("b")
    assert b is not None and b.price == 3.0 and b.created == datetime.fromtimestamp(5, UTC)
    assert items.counts() == {"put": 0, "seen": 2}


def test_items_put_replace_what_events_said_and_are_not_changed_by_them(
    items: ItemStore,
) -> None:
    items.observe([_view("a", MICROS)])
    put = Item(
        item_id="a",
        category_path=["shoes", "running"],
        price=80,
        in_stock=False,
        tags=["promotion"],
    )
    items.put_many([put])
    items.observe([_view("a", 2 * MICROS, "c9", 1.0)])
    assert items.get("a") == put
    assert items.get_many(["a", "zz"]) == {"a": put}
    again = put.model_copy(update={"price": 70.0})
    items.put_many([again])
    assert items.get("a") == again
    assert items.counts() == {"put": 1, "seen": 0}


def test_a_second_local_catalog_on_the_same_folder_sees_the_first_ones_writes(
    tmp_path: Path,
) -> None:
    first, second = LocalItems(tmp_path / "items"), LocalItems(tmp_path / "items")
    first.put_many([Item(item_id="a", price=1.0)])
    first.observe([_view("b", MICROS)])
    assert second.get("a") == Item(item_id="a", price=1.0)
    assert second.get("b") is not None
    # many replaced lines: opening again rewrites the file, the same items in it
    for price in range(1_200):
        first.put_many([Item(item_id="a", price=float(price))])
    lines = (tmp_path / "items" / "items.jsonl").read_text().count("\n")
    third = LocalItems(tmp_path / "items")
    assert (tmp_path / "items" / "items.jsonl").read_text().count("\n") == 2 < lines
    assert third.get("a") == Item(item_id="a", price=1_199.0)
    assert second.get("a") == Item(item_id="a", price=1_199.0)  # it follows the rewrite
