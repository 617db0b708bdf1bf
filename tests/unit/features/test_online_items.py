"""A person's item trail: latest items, cart, purchases; any order of events; merging; and its
compact encoding."""

from __future__ import annotations

import random

from intentflow.features.online import Catalog, OnlinePerson, online_features
from intentflow.features.online_items import LIMIT, ItemTrail

CATALOG = Catalog.of(online_features())


def _trail(events: list[tuple[int, str, str]]) -> ItemTrail:
    trail = ItemTrail()
    for us, kind, item in events:
        trail.update(us, {"type": kind, "item_id": item, "category": f"c-{item}"})
    return trail


def test_the_cart_holds_what_was_added_and_not_removed_or_bought() -> None:
    trail = _trail(
        [
            (1, "add_to_cart", "a"),
            (2, "add_to_cart", "b"),
            (3, "remove_from_cart", "b"),
            (4, "add_to_cart", "c"),
            (5, "purchase", "c"),
            (6, "add_to_cart", "c"),  # bought, then put in the cart again
            (7, "product_view", "d"),
        ]
    )
    assert trail.cart() == ["c", "a"]
    assert trail.bought() == ["c"]
    assert trail.recent() == ["d", "c", "b", "a"]
    assert trail.history() == ["a", "b", "c", "d"]
    assert trail.categories()["d"] == "c-d"


def test_an_orders_line_items_are_bought() -> None:
    trail = ItemTrail()
    trail.update(5, {"type": "purchase", "line_items": [{"item_id": "x"}, {"item_id": "y"}]})
    assert sorted(trail.bought()) == ["x", "y"]


def test_the_order_of_events_does_not_matter_and_merging_equals_one_history() -> None:
    rng = random.Random(3)
    kinds = ["product_view", "add_to_cart", "remove_from_cart", "purchase", "add_to_wishlist"]
    for _ in range(50):
        events = [
            (rng.randrange(100), rng.choice(kinds), f"i{rng.randrange(40)}") for _ in range(60)
        ]
        ordered = _trail(sorted(events))
        shuffled = list(events)
        rng.shuffle(shuffled)
        cut = rng.randrange(len(events))
        first, second = _trail(shuffled[:cut]), _trail(shuffled[cut:])
        first.merge(second)
        if len({item for _, _, item in events}) <= LIMIT:  # nothing dropped on either side
            assert _trail(shuffled).entries == ordered.entries
            assert first.entries == ordered.entries
        assert len(first.entries) <= LIMIT


def test_the_trail_keeps_the_latest_items_and_round_trips_through_the_encoding() -> None:
    trail = _trail([(us, "product_view", f"i{us}") for us in range(LIMIT + 5)])
    assert len(trail.entries) == LIMIT and trail.recent(2) == [f"i{LIMIT + 4}", f"i{LIMIT + 3}"]
    person = OnlinePerson(CATALOG)
    person.update({"type": "add_to_cart", "item_id": "a", "category": "c", "us": 10**15})
    person.update({"type": "product_view", "item_id": "b", "us": 10**15 + 7})
    person.update({"type": "purchase", "item_id": "b", "us": 10**15 + 9})
    loaded = OnlinePerson.load(CATALOG, person.dump())
    assert loaded.trail is not None and person.trail is not None
    assert loaded.trail.entries == person.trail.entries
    assert (loaded.trail.cart(), loaded.trail.bought()) == (["a"], ["b"])


def test_an_anonymous_ids_trail_joins_its_users() -> None:
    user, anonymous = OnlinePerson(CATALOG), OnlinePerson(CATALOG)
    anonymous.update({"type": "add_to_cart", "item_id": "a", "us": 1})
    user.update({"type": "product_view", "item_id": "b", "us": 2})
    user.absorb(anonymous)
    assert user.trail is not None and user.trail.cart() == ["a"]
    assert user.trail.recent() == ["b", "a"]


def test_values_of_some_states_equal_those_of_all() -> None:
    person = OnlinePerson(CATALOG)
    kinds = ["product_view", "add_to_cart", "purchase", "page_view"]
    for n in range(40):
        person.update(
            {
                "type": kinds[n % 4],
                "item_id": f"i{n % 6}",
                "category": f"c{n % 3}",
                "us": 10**15 + n * 60 * 10**6,
            }
        )
    at = 10**15 + 3 * 3600 * 10**6
    names = (
        "events_30d",
        "top_category_1",
        "top_category_2",
        "preferred_hour",
        "views_per_session_30d",
    )
    some = person.values(at, CATALOG.keys_for(names))
    every = person.values(at)
    assert {n: some[n] for n in names} == {n: every[n] for n in names}
    assert some["top_category_1"] is not None and some["events_30d"] == 40
    assert CATALOG.keys_for(["no such feature"]) == frozenset()
