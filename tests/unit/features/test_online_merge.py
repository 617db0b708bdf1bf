"""A person who takes in another id's history (an anonymous id, once linked) holds what one
person with both histories would: every online feature, on random histories of two ids that
follow each other (browsing on one device, then going on as the user on another)."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from intentflow.features.kinds import MICROS
from intentflow.features.online import Catalog, OnlinePerson, online_features

CATALOG = Catalog.of(online_features())
MINUTE = 60 * MICROS
KINDS = ("page_view", "product_view", "product_view", "add_to_cart", "purchase", "scroll")


def _events(rng: random.Random, start: int, count: int, sessions: bool) -> list[dict[str, Any]]:
    out, us = [], start
    for _ in range(count):
        us += int(rng.choice((0.1, 0.5, 2, 8, 45, 600)) * MINUTE * rng.random())
        kind = rng.choice(KINDS)
        out.append(
            {
                "type": kind,
                "us": us,
                "item_id": f"sku-{rng.randrange(9)}",
                "category": f"c{rng.randrange(3)}",
                "revenue": 20.0 if kind == "purchase" else None,
                "depth_percent": rng.choice((25, 50, 90)) if kind == "scroll" else None,
                "session_id": f"s{rng.randrange(2)}" if sessions else None,
            }
        )
    return out


def _same(one: OnlinePerson, other: OnlinePerson, at: int) -> None:
    mine, theirs = one.values(at), other.values(at)
    for name, value in theirs.items():
        if value is None or mine[name] is None or isinstance(value, str):
            assert mine[name] == value, (name, mine[name], value)
        else:
            assert math.isclose(mine[name], value, abs_tol=1e-9), (name, mine[name], value)


@pytest.mark.parametrize("sessions", [False, True])
def test_a_merged_history_is_the_history_of_one_person(sessions: bool) -> None:
    rng = random.Random(7 + sessions)
    joined_visits = 0
    for _ in range(150):
        start = 100 * 86_400 * MICROS
        user = _events(rng, start, rng.randrange(0, 25), sessions)
        then = (user[-1]["us"] if user else start) + int(rng.uniform(0, 40) * MINUTE)
        anonymous = _events(rng, then, rng.randrange(1, 25), sessions)
        merged_at = anonymous[-1]["us"] + int(rng.uniform(0, 3) * MINUTE)
        later = _events(rng, merged_at, rng.randrange(0, 10), sessions)
        if rng.random() < 0.5:  # the anonymous id's history may be the earlier one
            user, anonymous = anonymous, user
        one, own, other = OnlinePerson(CATALOG), OnlinePerson(CATALOG), OnlinePerson(CATALOG)
        for event in sorted(user + anonymous, key=lambda e: e["us"]) + later:
            one.update(event)
        for event in user:
            own.update(event)
        for event in anonymous:
            other.update(event)
        own.absorb(other)
        for event in later:
            own.update(event)
        end = max(e["us"] for e in [*user, *anonymous, *later])
        for at in (merged_at + 1, end + 1, end + 20 * MINUTE, end + 2 * 86_400 * MICROS):
            if at > merged_at:
                _same(own, one, at)
        both = user and anonymous
        if both and abs(anonymous[0]["us"] - user[-1]["us"]) < 30 * MINUTE:
            joined_visits += 1
    assert joined_visits > 20  # the two ids' visits often meet within the session gap
