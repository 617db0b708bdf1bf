"""A realistic synthetic clickstream, in event-time order, in bounded memory.

Each day, every person starts a number of sessions drawn from their activity rate, at times drawn
from a diurnal curve (quiet nights, a lunch peak, an evening peak; busier weekends). A session is a
funnel: a landing page, searches, product views with scrolling and clicks, carts, and a purchase
with a probability that grows with the person's latent intent, or abandonment. Registered people
log in (an identify event) and carry their user id from then on. Weekly email campaigns bring
opens, clicks and the sessions those clicks start. Bots browse fast, deep and without dwelling.

Events are produced by a heap that merges open sessions by time, so memory holds one day's session
starts and the sessions in flight, never the whole stream.

>>> events = list(simulate(SimulationConfig(users=20, days=2, seed=7)))
>>> events == list(simulate(SimulationConfig(users=20, days=2, seed=7)))
True
>>> all(a["timestamp"] <= b["timestamp"] for a, b in zip(events, events[1:]))
True
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from intentflow.simulate.world import USER_AGENTS, Catalog, Item, Person, make_people

HOURLY = (
    0.15,
    0.08,
    0.05,
    0.04,
    0.05,
    0.1,
    0.25,
    0.5,
    0.8,
    0.9,
    1.0,
    1.1,
    1.35,
    1.3,
    1.0,
    0.95,
    1.0,
    1.1,
    1.3,
    1.55,
    1.7,
    1.5,
    1.0,
    0.45,
)
"""Relative traffic per hour of the day."""
_HOURS = list(itertools.accumulate(HOURLY))
REFERRERS = (
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://www.facebook.com/",
    "https://t.co/",
    "",
    "",
    "",
)
SEARCH_WORDS = {
    "phones": "smartphone",
    "laptops": "laptop 16gb",
    "audio": "wireless headphones",
    "running": "running shoes",
    "coffee": "espresso beans",
    "lego": "lego set",
    "skincare": "face cream",
    "fiction": "new novels",
}


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate."""

    users: int = 1_000
    days: int = 7
    seed: int = 42
    start: datetime | None = None
    """First simulated midnight (UTC); defaults to ``days`` before today."""
    items: int | None = None
    """Catalog size; defaults to twice the number of users, at least 500."""
    bot_share: float = 0.01
    campaign_every_days: int = 7


def simulate(config: SimulationConfig) -> Iterator[dict[str, Any]]:
    """Native events in timestamp order, with message ids ``sim<seed>-<n>``."""
    for n, event in enumerate(_ordered(config)):
        del event["_t"]
        event["message_id"] = f"sim{config.seed}-{n:010d}"
        yield event


def _ordered(config: SimulationConfig) -> Iterator[dict[str, Any]]:
    rng = random.Random(config.seed)
    catalog = Catalog.build(rng, config.items or max(500, 2 * config.users))
    people = make_people(rng, config.users, config.bot_share)
    start = config.start or (
        datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        - timedelta(days=config.days)
    )
    origin = start.timestamp()
    counter = itertools.count()
    heap: list[tuple[float, int, dict[str, Any]]] = []
    for day in range(config.days):
        day_start = origin + day * 86_400
        weekday = datetime.fromtimestamp(day_start, UTC).weekday()
        busy = 1.15 if weekday >= 5 else 1.0
        starts: list[tuple[float, int, str | None]] = []
        for person in people:
            for _ in range(_poisson(rng, person.sessions_per_day * busy)):
                starts.append((day_start + _time_of_day(rng), person.index, None))
        if config.campaign_every_days and day % config.campaign_every_days == 3:
            starts.extend(_campaign(rng, people, day_start + 10 * 3600, day, heap, counter))
        starts.sort()
        for when, index, campaign in starts:
            while heap and heap[0][0] <= when:
                yield heapq.heappop(heap)[2]
            for event in _session(rng, catalog, people[index], when, campaign):
                heapq.heappush(heap, (event["_t"], next(counter), event))
        end_of_day = day_start + 86_400
        while heap and heap[0][0] < end_of_day:
            yield heapq.heappop(heap)[2]
    while heap:
        yield heapq.heappop(heap)[2]


def _poisson(rng: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, rng.random()
    while p > threshold:
        k += 1
        p *= rng.random()
    return k


def _time_of_day(rng: random.Random) -> float:
    hour = _bisect(_HOURS, rng.random() * _HOURS[-1])
    return hour * 3600 + rng.random() * 3600


def _bisect(cumulative: list[float], x: float) -> int:
    import bisect

    return min(bisect.bisect_left(cumulative, x), len(cumulative) - 1)


def _campaign(
    rng: random.Random,
    people: list[Person],
    sent: float,
    day: int,
    heap: list[tuple[float, int, dict[str, Any]]],
    counter: Iterator[int],
) -> list[tuple[float, int, str | None]]:
    """Opens and clicks of one email campaign; returns the sessions the clicks start."""
    campaign_id = f"cmp-{day:03d}"
    follow_ups: list[tuple[float, int, str | None]] = []
    for person in people:
        if person.user_id is None or rng.random() > 0.4:
            continue
        if rng.random() < 0.22 + 0.2 * person.intent:
            # The shop mails an account, so email events carry its user id (the person may log
            # in on the site before the open, after this event is made).
            opened = sent + rng.expovariate(1 / 7200)
            event = _event(
                person,
                "email_open",
                opened,
                channel="email",
                campaign_id=campaign_id,
                user_id=person.user_id,
            )
            heapq.heappush(heap, (opened, next(counter), event))
            if rng.random() < 0.25 + 0.3 * person.intent:
                clicked = opened + rng.uniform(5, 120)
                event = _event(
                    person,
                    "email_click",
                    clicked,
                    channel="email",
                    campaign_id=campaign_id,
                    user_id=person.user_id,
                    url=f"https://shop.example/sale?utm_campaign={campaign_id}",
                )
                heapq.heappush(heap, (clicked, next(counter), event))
                follow_ups.append((clicked + 2.0, person.index, campaign_id))
    return follow_ups


def _event(person: Person, kind: str, t: float, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "anonymous_id": person.anonymous_id,
        "timestamp": datetime.fromtimestamp(t, UTC),
        "_t": t,
    }
    if person.logged_in and person.user_id:
        event["user_id"] = person.user_id
    event.update(fields)
    return event


def _session(
    rng: random.Random, catalog: Catalog, person: Person, t: float, campaign: str | None
) -> list[dict[str, Any]]:
    person.session_count += 1
    session_id = f"s-{person.index}-{person.session_count}"
    ua = rng.choice(USER_AGENTS[person.device])
    referrer = "https://mail.example/" if campaign else rng.choice(REFERRERS)
    channel = "mobile" if person.device == "mobile" and rng.random() < 0.5 else "web"
    base_context = {
        "user_agent": ua,
        "ip": f"10.{person.index % 250}.{rng.randrange(250)}.7",
        "locale": "en-US",
    }
    out: list[dict[str, Any]] = []

    def emit(kind: str, page: str, **fields: Any) -> None:
        context = {**base_context, "page_url": page}
        if not out and referrer:
            context["referrer"] = referrer
        out.append(
            _event(
                person, kind, t, session_id=session_id, channel=channel, context=context, **fields
            )
        )

    landing = "https://shop.example/" + (f"sale?utm_campaign={campaign}" if campaign else "")
    emit("page_view", landing, name="home")
    if person.is_bot:
        for _ in range(rng.randint(20, 100)):
            t += rng.uniform(0.2, 1.0)
            item = catalog.items[rng.randrange(len(catalog.items))]
            emit("product_view", f"https://shop.example/p/{item.item_id}", **_product(item))
        return out
    if person.user_id and not person.logged_in and rng.random() < 0.7:
        t += rng.uniform(3, 20)
        person.logged_in = True
        emit(
            "identify",
            landing,
            traits={"plan": rng.choice(("free", "plus")), "email_opt_in": rng.random() < 0.6},
        )
    top = _weighted(rng, person.tastes)
    subs = catalog.subcategories(top)
    if rng.random() < 0.3:
        sub = rng.choice(subs)
        t += math.exp(rng.gauss(2.0, 0.6))
        emit(
            "search",
            "https://shop.example/search",
            query=SEARCH_WORDS.get(sub.split("/")[1], sub.split("/")[1]),
        )
    views = 1 + int(rng.expovariate(1 / (1.5 + 7 * person.intent)))
    bought_session = rng.random() < 0.05 + 0.45 * person.intent
    for _ in range(views):
        if rng.random() < 0.15:
            top = _weighted(rng, person.tastes)
            subs = catalog.subcategories(top)
        item = catalog.pick(rng, rng.choice(subs))
        page = f"https://shop.example/p/{item.item_id}"
        t += math.exp(rng.gauss(2.3, 0.7))
        emit("click", page, item_id=item.item_id, category=item.category, target="product-tile")
        t += rng.uniform(0.3, 1.5)
        emit("product_view", page, **_product(item))
        dwell = math.exp(rng.gauss(3.0 + person.intent, 0.8))
        for depth in (25, 50, 75, 100):
            if rng.random() > 0.55 + 0.35 * person.intent:
                break
            emit("scroll", page, depth_percent=float(depth))
        t += dwell
        roll = rng.random()
        if roll < 0.015 + 0.22 * person.intent and len(person.cart) < 6:
            quantity = 1 if rng.random() < 0.85 else 2
            held = person.cart.get(item.item_id, (item, 0))[1]
            person.cart[item.item_id] = (item, held + quantity)
            emit("add_to_cart", page, **_line(item, quantity))
        elif roll > 0.97:
            emit("add_to_wishlist", page, **_product(item))
    if person.cart and rng.random() < 0.08:
        item_id, (item, quantity) = next(iter(person.cart.items()))
        del person.cart[item_id]
        t += rng.uniform(2, 15)
        emit("remove_from_cart", "https://shop.example/cart", **_line(item, quantity))
    if person.cart and bought_session:
        t += rng.uniform(20, 120)
        lines = [_line(item, quantity) for item, quantity in person.cart.values()]
        emit(
            "purchase",
            "https://shop.example/checkout/done",
            order_id=f"o-{person.index}-{person.session_count}",
            revenue=round(sum(li["price"] * li["quantity"] for li in lines), 2),
            currency="USD",
            line_items=lines,
        )
        person.cart.clear()
    return out


def _product(item: Item) -> dict[str, Any]:
    """The fields an event about ``item`` carries."""
    return {"item_id": item.item_id, "category": item.category, "price": item.price}


def _line(item: Item, quantity: int) -> dict[str, Any]:
    """``item`` with a quantity: a cart change or a purchase line."""
    return {**_product(item), "quantity": quantity}


def _weighted(rng: random.Random, choices: list[tuple[str, float]]) -> str:
    total = sum(w for _, w in choices)
    x = rng.random() * total
    for value, weight in choices:
        x -= weight
        if x <= 0:
            return value
    return choices[-1][0]
