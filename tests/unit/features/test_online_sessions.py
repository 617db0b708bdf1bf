"""A person's sessions online: how visits are cut, how views dwell, late events among the held
ones, the bound for bots, and the stored form."""

from __future__ import annotations

import random
from typing import Any

import pytest

from intentflow.features.catalog import FEATURES
from intentflow.features.kinds import HELD_MAX, MICROS, SessionAggregate
from intentflow.features.online_sessions import Sessions

SESSION_FEATURES = [f for f in FEATURES if isinstance(f, SessionAggregate)]
MINUTE = 60 * MICROS
DAY0 = 1_780_000_000 * MICROS


def _feed(sessions: Sessions, events: list[tuple[float, str, dict[str, Any]]]) -> None:
    for minute, kind, extra in events:
        sessions.update(DAY0 + int(minute * MINUTE), {"type": kind, **extra})


def _at(sessions: Sessions, minute: float) -> dict[str, Any]:
    return sessions.values(DAY0 + int(minute * MINUTE))


def test_visits_split_after_the_gap_and_tracker_sessions_by_id() -> None:
    sessions = Sessions(SESSION_FEATURES)
    _feed(
        sessions,
        [
            (0, "page_view", {}),
            (10, "product_view", {}),
            (20, "add_to_cart", {}),
            (51, "product_view", {}),  # 31 minutes later: a new visit
            (52, "purchase", {}),
            (53, "page_view", {"session_id": "s1"}),  # the tracker's session
            (55, "scroll", {"session_id": "s1", "depth_percent": 40.0}),
        ],
    )
    values = _at(sessions, 60)
    assert values["sessions_30d"] == 3
    assert values["abandoned_carts_30d"] == 1  # the first visit carted and did not buy
    assert values["pages_per_session_30d"] == pytest.approx(4 / 3)
    assert values["mean_scroll_depth_30d"] == 40  # one session scrolled
    assert values["bounce_rate_30d"] == 0
    assert values["mean_session_seconds_30d"] == pytest.approx((20 + 1 + 2) * 60 / 3)
    assert values["median_session_seconds_30d"] == pytest.approx(120)
    # views dwell until the next later event of their session: 10 minutes, then 1 minute
    assert values["mean_dwell_seconds_30d"] == pytest.approx((600 + 60) / 2)


def test_a_view_dwells_until_a_later_time_whatever_the_order_of_ties() -> None:
    for order in (("product_view", "purchase"), ("purchase", "product_view")):
        sessions = Sessions(SESSION_FEATURES)
        _feed(sessions, [(0, order[0], {}), (0, order[1], {}), (3, "click", {})])
        assert _at(sessions, 5)["mean_dwell_seconds_30d"] == pytest.approx(180)


def test_an_event_late_within_the_slack_takes_its_place() -> None:
    events = [(0, "product_view", {}), (3, "scroll", {}), (40, "page_view", {}), (41, "click", {})]
    late_click = (5, "click", {})
    on_time = Sessions(SESSION_FEATURES)
    _feed(on_time, [*events[:2], late_click, *events[2:]])
    within = Sessions(SESSION_FEATURES, slack_s=3600)
    _feed(within, [*events, late_click])
    assert _at(within, 42) == _at(on_time, 42)
    assert _at(within, 42)["mean_dwell_seconds_30d"] == pytest.approx(180)  # to the scroll
    assert _at(within, 42)["mean_session_seconds_30d"] == pytest.approx((300 + 60) / 2)
    # with no slack the events before the latest are summed up: the late click is left out
    beyond = Sessions(SESSION_FEATURES, slack_s=0)
    _feed(beyond, [*events, late_click])
    assert _at(beyond, 42)["mean_session_seconds_30d"] == pytest.approx((180 + 60) / 2)


def test_sessions_leave_the_window_and_a_bot_is_held_bounded() -> None:
    sessions = Sessions(SESSION_FEATURES)
    for day in range(40):
        _feed(sessions, [(day * 1440, "page_view", {}), (day * 1440 + 1, "page_view", {})])
    assert _at(sessions, 39 * 1440 + 2)["sessions_30d"] == 30
    assert len(sessions.sessions) <= 31
    bot = Sessions(SESSION_FEATURES)
    _feed(bot, [(i / 1000, "product_view", {}) for i in range(HELD_MAX + 500)])
    assert len(bot.held) <= HELD_MAX
    assert _at(bot, 1)["sessions_30d"] == 1


@pytest.mark.parametrize("seed", range(4))
def test_the_stored_form_gives_back_the_same_sessions(seed: int) -> None:
    rng = random.Random(seed)
    sessions = Sessions(SESSION_FEATURES, slack_s=300)
    minute = 0.0
    for _ in range(300):
        minute += rng.expovariate(1 / 8)
        extra: dict[str, Any] = {}
        if rng.random() < 0.5:
            extra["session_id"] = f"s{rng.randrange(6)}"
        if rng.random() < 0.3:
            extra["depth_percent"] = rng.choice([25.0, 50.5, 100.0])
        kind = rng.choice(["page_view", "product_view", "add_to_cart", "purchase", "scroll"])
        late = rng.uniform(0, 4) if rng.random() < 0.2 else 0.0
        _feed(sessions, [(minute - late, kind, extra)])
        if rng.random() < 0.1:
            copy = Sessions(SESSION_FEATURES, slack_s=300)
            copy.load(sessions.dump())
            assert copy.dump() == sessions.dump()
            assert _at(copy, minute + 1) == _at(sessions, minute + 1)


def test_a_window_back_in_time_counts_the_sessions_started_in_it_only() -> None:
    from intentflow.features.kinds import PREVIOUS_WEEK
    from intentflow.features.online_sessions import is_online

    before = SessionAggregate(name="b", description="", window=PREVIOUS_WEEK, how="count")
    sessions = Sessions([before])
    day = 1440
    _feed(sessions, [(0, "page_view", {}), (10 * day, "page_view", {})])
    assert _at(sessions, 10 * day + 5) == {"b": 1}  # the visit 10 days ago, not today's
    # a sum over a column sessions may lack is empty in batch where online would say 0
    scroll = SessionAggregate(name="s", description="", how="sum", column="max_scroll")
    assert not is_online(scroll)
