"""The synthetic clickstream: deterministic, ordered, valid, realistic in shape, and lazy."""

from __future__ import annotations

import itertools
import random
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from intentflow.collect.validate import Validator
from intentflow.config import CollectSettings
from intentflow.events import decode_event, event_from_dict
from intentflow.simulate.clickstream import SimulationConfig, simulate
from intentflow.simulate.sinks import write_jsonl
from intentflow.simulate.world import USER_AGENTS, Catalog, Person, make_people

START = datetime(2026, 1, 5, tzinfo=UTC)
"""A Monday; fixed so that runs do not depend on today's date."""
MID = SimulationConfig(users=1_000, days=7, seed=11, start=START)
Event = dict[str, Any]


@pytest.fixture(scope="module")
def mid_run() -> list[Event]:
    """The mid-size run most shape checks look at (about 40,000 events)."""
    return list(simulate(MID))


@pytest.fixture(scope="module")
def mid_people() -> list[Person]:
    """The people of the mid-size run, rebuilt from the same seed the way the simulator does."""
    rng = random.Random(MID.seed)
    Catalog.build(rng, MID.items or max(500, 2 * MID.users))
    return make_people(rng, MID.users, MID.bot_share)


def small(seed: int) -> list[Event]:
    """A small run, for the determinism checks."""
    return list(simulate(SimulationConfig(users=60, days=3, seed=seed, start=START)))


def test_same_seed_gives_identical_events() -> None:
    first = small(5)
    assert len(first) > 500
    assert first == small(5)


def test_different_seed_gives_different_events() -> None:
    first, other = small(5), small(6)
    assert first != other
    assert {e["anonymous_id"] for e in first}.isdisjoint({e["anonymous_id"] for e in other})


def test_events_are_in_non_decreasing_timestamp_order(mid_run: list[Event]) -> None:
    stamps = [e["timestamp"] for e in mid_run]
    assert all(a <= b for a, b in itertools.pairwise(stamps))
    assert stamps[0] >= START
    assert all(ts.tzinfo is not None for ts in stamps)


def test_every_event_is_a_valid_native_event(mid_run: list[Event]) -> None:
    validator = Validator(CollectSettings())
    received = START + timedelta(days=MID.days + 1)
    reasons = Counter(
        item
        for e in mid_run
        if isinstance(item := validator.validate(e, received_at=received, source="sim"), str)
    )
    assert reasons == Counter()
    typed = [event_from_dict(e) for e in mid_run[:2_000]]
    assert [type(t).__struct_config__.tag for t in typed] == [e["type"] for e in mid_run[:2_000]]


def test_message_ids_are_unique(mid_run: list[Event]) -> None:
    ids = [e["message_id"] for e in mid_run]
    assert len(set(ids)) == len(ids)
    assert ids[0] == f"sim{MID.seed}-0000000000"


def test_funnel_narrows_from_views_to_carts_to_purchases(mid_run: list[Event]) -> None:
    counts = Counter(e["type"] for e in mid_run)
    assert counts["product_view"] > counts["add_to_cart"] > counts["purchase"] > 0
    assert counts["add_to_cart"] * 5 < counts["product_view"]


def test_purchase_revenue_is_the_sum_of_its_line_items(mid_run: list[Event]) -> None:
    purchases = [e for e in mid_run if e["type"] == "purchase"]
    assert len(purchases) > 50
    for purchase in purchases:
        lines = purchase["line_items"]
        assert lines
        total = sum(line["price"] * line["quantity"] for line in lines)
        assert purchase["revenue"] == pytest.approx(total, abs=0.005)
        assert purchase["currency"] == "USD"


def test_purchases_buy_exactly_what_the_cart_holds(mid_run: list[Event]) -> None:
    """Replay each person's cart (in the order their sessions happened): every purchase lists
    the items and quantities the carts and removals left in it."""
    by_person: dict[str, list[Event]] = defaultdict(list)
    for e in mid_run:
        if e["type"] in ("add_to_cart", "remove_from_cart", "purchase"):
            by_person[e["anonymous_id"]].append(e)
    checked = 0
    for events in by_person.values():
        events.sort(key=lambda e: (int(e["session_id"].rsplit("-", 1)[1]), e["timestamp"]))
        cart: Counter[str] = Counter()
        for e in events:
            if e["type"] == "add_to_cart":
                cart[e["item_id"]] += e["quantity"]
            elif e["type"] == "remove_from_cart":
                cart[e["item_id"]] -= e.get("quantity", 1)
                cart = +cart
            else:
                bought = Counter({li["item_id"]: li["quantity"] for li in e["line_items"]})
                assert bought == cart, e["order_id"]
                cart = Counter()
                checked += 1
    assert checked > 50


def test_abandoned_carts_exist(mid_run: list[Event]) -> None:
    kinds: dict[str, set[str]] = defaultdict(set)
    for e in mid_run:
        if "session_id" in e:
            kinds[e["session_id"]].add(e["type"])
    abandoned = [s for s, k in kinds.items() if "add_to_cart" in k and "purchase" not in k]
    bought = [s for s, k in kinds.items() if "purchase" in k]
    assert len(abandoned) > len(bought) > 0


def test_people_with_higher_intent_buy_more(mid_run: list[Event], mid_people: list[Person]) -> None:
    by_anonymous = {p.anonymous_id: p for p in mid_people}
    assert {e["anonymous_id"] for e in mid_run} <= set(by_anonymous)
    purchases = Counter(e["anonymous_id"] for e in mid_run if e["type"] == "purchase")
    humans = sorted((p for p in mid_people if not p.is_bot), key=lambda p: p.intent)
    quarter = len(humans) // 4
    bottom, top = humans[:quarter], humans[-quarter:]

    def buyer_rate(group: list[Person]) -> float:
        return sum(1 for p in group if purchases[p.anonymous_id]) / len(group)

    assert buyer_rate(top) > 3 * buyer_rate(bottom)
    assert sum(purchases[p.anonymous_id] for p in top) > 3 * sum(
        purchases[p.anonymous_id] for p in bottom
    )


def test_traffic_follows_the_time_of_day(mid_run: list[Event]) -> None:
    hours = Counter(e["timestamp"].hour for e in mid_run)
    assert hours[20] > 3 * hours[4]
    assert hours[20] > hours[12] > hours[4]


def test_bots_crawl_with_crawler_agents_and_never_scroll_or_buy(
    mid_run: list[Event], mid_people: list[Person]
) -> None:
    bots = {p.anonymous_id for p in mid_people if p.is_bot}
    assert bots
    bot_events = [e for e in mid_run if e["anonymous_id"] in bots]
    assert bot_events
    assert {e["context"]["user_agent"] for e in bot_events} <= set(USER_AGENTS["bot"])
    assert {e["type"] for e in bot_events} <= {"page_view", "product_view"}
    assert all("user_id" not in e for e in bot_events)
    human_agents = {
        e["context"]["user_agent"]
        for e in mid_run
        if e["anonymous_id"] not in bots and "context" in e
    }
    assert human_agents.isdisjoint(USER_AGENTS["bot"])


def test_identify_links_the_anonymous_id_and_later_events_carry_the_user_id(
    mid_run: list[Event],
) -> None:
    linked: dict[str, str] = {}
    unlinked_after: list[Event] = []
    for e in mid_run:
        anonymous = e["anonymous_id"]
        if e["type"] == "identify":
            assert e["user_id"].startswith("user-")
            assert linked.setdefault(anonymous, e["user_id"]) == e["user_id"]
        elif anonymous in linked and e.get("user_id") != linked[anonymous]:
            unlinked_after.append(e)
    assert len(linked) > 100
    assert unlinked_after == []


def test_email_campaigns_bring_opens_and_clicks(mid_run: list[Event]) -> None:
    emails = [e for e in mid_run if e["type"] in ("email_open", "email_click")]
    kinds = Counter(e["type"] for e in emails)
    assert kinds["email_open"] > kinds["email_click"] > 0
    assert {e["channel"] for e in emails} == {"email"}
    assert all(e["campaign_id"].startswith("cmp-") and e.get("user_id") for e in emails)
    clicks = [e for e in emails if e["type"] == "email_click"]
    assert all("utm_campaign=" + e["campaign_id"] in e["url"] for e in clicks)
    landings = [
        e
        for e in mid_run
        if e["type"] == "page_view" and "utm_campaign=" in e["context"]["page_url"]
    ]
    assert len(landings) == len(clicks)


def _consume(events: Iterator[Event], n: int) -> int:
    count = 0
    for _ in itertools.islice(events, n):
        count += 1
    return count


def test_a_large_stream_is_consumed_in_bounded_memory() -> None:
    """5,000 people for 30 days is about 850,000 events. Reading its first 100,000 (three days
    and more) lazily must take less memory than holding 10,000 events does: the simulator keeps
    one day's session starts and the sessions in flight, never the stream nor a day of it."""
    stream = simulate(SimulationConfig(users=5_000, days=30, seed=3, start=START))
    first = next(stream)  # builds the catalog and the people, which scale with users only
    tracemalloc.start()
    try:
        assert _consume(stream, 100_000) == 100_000
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    last = next(stream)
    assert last["timestamp"] - first["timestamp"] > timedelta(days=3)
    tracemalloc.start()
    try:
        held = list(itertools.islice(simulate(MID), 10_000))
        holding = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(held) == 10_000
    assert holding > 4 << 20
    assert peak < holding / 2


def test_write_jsonl_writes_lines_that_decode_to_the_same_events(tmp_path: Path) -> None:
    events = small(9)
    out = tmp_path / "events.jsonl"
    seen: list[int] = []
    assert write_jsonl(iter(events), str(out), progress=seen.append) == len(events)
    lines = out.read_bytes().splitlines()
    assert len(lines) == len(events) == sum(seen)
    for line, original in zip(lines, events, strict=True):
        assert decode_event(line) == event_from_dict(original)
        assert msgspec.json.decode(line)["message_id"] == original["message_id"]
