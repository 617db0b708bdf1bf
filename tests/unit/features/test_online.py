"""Every online feature equals its batch twin, on random histories fed out of order, and what
slides out of a window is forgotten."""

from __future__ import annotations

import math
import random
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from intentflow.features.build import build_features
from intentflow.features.catalog import COUNTED_TYPES, FEATURES
from intentflow.features.kinds import (
    DAYS_30,
    HOUR,
    MICROS,
    Count,
    Distinct,
    Ratio,
    SessionAggregate,
    Window,
)
from intentflow.features.online import (
    BucketedWindow,
    Catalog,
    OnlinePerson,
    online_features,
    replay,
)
from intentflow.lake.reader import Lake
from intentflow.simulate.clickstream import SimulationConfig, simulate
from tests.unit.features.test_catalog import write_lake

START = datetime(2026, 1, 1, tzinfo=UTC)
TYPES = (*COUNTED_TYPES, "email_open", "email_click")


def _history(seed: int, events: int = 600) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(events):
        kind = rng.choice(TYPES)
        moment = START + timedelta(seconds=rng.uniform(0, 100 * 86_400))
        event: dict[str, Any] = {
            "type": kind,
            "user_id": f"u{rng.randrange(4)}",
            "timestamp": moment.isoformat(),
        }
        if kind in ("product_view", "add_to_cart", "remove_from_cart", "add_to_wishlist"):
            event |= {"item_id": str(rng.randrange(30)), "category": f"c{rng.randrange(5)}"}
        if kind == "scroll":
            event["depth_percent"] = rng.randrange(101)
        if kind == "search":
            event["query"] = "shoes"
        if kind == "purchase":
            event["revenue"] = round(rng.uniform(1, 200), 2)
        if kind in ("email_open", "email_click"):
            event["campaign_id"] = "c1"
        out.append(event)
    # bursts a few seconds apart, so the short windows hold several events
    base = START + timedelta(days=99, hours=23)
    for i in range(40):
        out.append(
            {
                "type": rng.choice(("page_view", "click")),
                "user_id": "u0",
                "timestamp": (base + timedelta(seconds=37 * i)).isoformat(),
            }
        )
    return out


def _online_row(event: dict[str, Any]) -> dict[str, Any]:
    moment = datetime.fromisoformat(event["timestamp"])
    return {**event, "person": event["user_id"], "us": int(moment.timestamp() * MICROS)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_online_equals_batch_at_every_cutoff_even_fed_out_of_order(
    seed: int, tmp_path: Path
) -> None:
    history = _history(seed)
    lake = write_lake(tmp_path / "lake", history)
    rows = sorted((_online_row(e) for e in history), key=lambda r: r["us"])
    rng = random.Random(seed)
    features = online_features()
    # sessions take late events among their latest SLACK_S only (tested below)
    sessions = {f.name for f in features if isinstance(f, SessionAggregate)}
    names = [
        f.name
        for f in features
        if f.name not in sessions and not (isinstance(f, Ratio) and f.denominator in sessions)
    ]
    people: dict[str, OnlinePerson] = {}
    fed = 0
    cutoffs = [START + timedelta(days=d) for d in (20, 61.5)] + [
        START + timedelta(days=99, hours=23, minutes=12),
        START + timedelta(days=100, seconds=1),
    ]
    for cutoff in cutoffs:
        cutoff_us = int(cutoff.timestamp() * MICROS)
        batch = [r for r in rows[fed:] if r["us"] < cutoff_us]
        fed += len(batch)
        for i in range(len(batch) - 1):  # arrive a little out of order
            if rng.random() < 0.3:
                batch[i], batch[i + 1] = batch[i + 1], batch[i]
        for row in batch:
            people.setdefault(row["person"], OnlinePerson(features)).update(row)
        assert _compare(lake, people, cutoff, names) >= len(people) * len(names)


def _compare(
    lake: Lake, people: dict[str, OnlinePerson], cutoff: datetime, names: list[str]
) -> int:
    """Compare the online features with the batch ones at ``cutoff``; how many values."""
    cutoff_us = int(cutoff.timestamp() * MICROS)
    expected = build_features(lake, cutoff).select(["user_id", *names]).to_pylist()
    assert {r["user_id"] for r in expected} == set(people)
    compared = 0
    for row in expected:
        got = people[row["user_id"]].values(cutoff_us)
        for name in names:
            if row[name] is None or got[name] is None:
                assert row[name] is got[name], (cutoff, row["user_id"], name, row[name], got[name])
            elif isinstance(row[name], str):  # a ranking's value
                assert row[name] == got[name], (cutoff, row["user_id"], name, row[name], got[name])
            else:
                assert math.isclose(row[name], got[name], abs_tol=1e-9), (
                    cutoff,
                    row["user_id"],
                    name,
                    row[name],
                    got[name],
                )
            compared += 1
    return compared


@pytest.mark.parametrize("seed", [3, 4])
def test_session_features_equal_batch_with_events_late_within_the_slack(
    seed: int, tmp_path: Path
) -> None:
    """Simulated visits (tracker session ids for some people, visits cut by inactivity for the
    others, scrolls, carts, purchases), fed with each event up to 10 minutes late."""
    rng = random.Random(seed)
    history = []
    for simulated in simulate(SimulationConfig(users=60, days=3, seed=seed)):
        person = simulated.get("user_id") or simulated["anonymous_id"]
        event = {**simulated, "user_id": person, "anonymous_id": None}  # no links to follow
        if zlib.crc32(person.encode()) % 2:
            event["session_id"] = None
        history.append(event)
    lake = write_lake(tmp_path / "lake", history)
    rows = [
        {**e, "person": e["user_id"], "us": int(e["timestamp"].timestamp() * MICROS)}
        for e in history
    ]
    arrival = sorted(rows, key=lambda r: r["us"] + rng.uniform(0, 600 * MICROS))
    first, last = min(r["us"] for r in rows), max(r["us"] for r in rows)
    features = online_features()
    catalog = Catalog.of(features, slack_s=600)
    sessions = [f.name for f in features if isinstance(f, SessionAggregate)]
    assert len(sessions) == 14
    people: dict[str, OnlinePerson] = {}
    compared = going_on = 0
    times = sorted(r["us"] for r in rows)
    # cutoffs anywhere, and half a minute after busy moments, when many visits go on
    cutoffs = [first + int(share * (last + 1 - first)) for share in (0.3, 0.7, 1.0)]
    cutoffs += [times[len(times) * k // 5] + 30 * MICROS for k in (1, 2, 4)]
    for cutoff_us in sorted(cutoffs):
        while arrival and arrival[0]["us"] < cutoff_us:
            row = arrival.pop(0)
            people.setdefault(row["person"], OnlinePerson(catalog)).update(row)
        held_late = [r for r in arrival if r["us"] < cutoff_us]
        for row in held_late:  # what arrives after the cutoff's first later event
            arrival.remove(row)
            people.setdefault(row["person"], OnlinePerson(catalog)).update(row)
        cutoff = datetime.fromtimestamp(cutoff_us / MICROS, UTC)
        compared += _compare(lake, people, cutoff, [f.name for f in features])
        now = [p.values(cutoff_us) for p in people.values()]
        going_on += sum((v["current_session_events"] or 0) > 1 for v in now)
    assert len(people) >= 30 and compared > 60 * len(features)
    assert going_on > 5  # visits going on at the cutoffs are among those compared
    final = [person.values(last + 1) for person in people.values()]
    assert sum(v["mean_dwell_seconds_30d"] is not None for v in final) > 20
    assert sum((v["sessions_30d"] or 0) > 1 for v in final) > 10


def test_the_online_features_are_the_catalogs_event_aggregates_and_their_ratios() -> None:
    names = {f.name for f in online_features()}
    assert {"events_15m", "add_to_carts_1h", "revenue_90d", "distinct_categories_viewed_30d"} <= (
        names
    )
    assert {"days_since_last_visit", "view_to_cart_30d", "trend_7d"} <= names
    assert {"sessions_30d", "views_per_session_30d", "mean_dwell_seconds_30d"} <= names
    assert {"top_category_1", "top_category_2_share", "preferred_hour"} <= names
    # features over the whole population: not online
    assert not {"recency_score", "frequency_score", "monetary_score"} & names
    assert [f.name for f in FEATURES if f.name in names] == [f.name for f in online_features()]


def test_what_leaves_a_window_is_forgotten() -> None:
    views = Count(name="v", description="", types=("product_view",), window=HOUR)
    items = Distinct(name="i", description="", column="item_id", window=DAYS_30)
    events = [
        {"person": "p", "type": "product_view", "us": minute * 60 * MICROS, "item_id": str(minute)}
        for minute in range(0, 24 * 60 * 40, 7)
    ]
    people = replay(events, [views, items])
    person = people["p"]
    now = 24 * 60 * 40 * 60 * MICROS
    values = person.values(now)
    assert values["v"] == 9  # a view every 7 minutes: 9 in the last hour
    start, _ = DAYS_30.bounds(now)  # the bucket holding ``now`` ends the window
    assert values["i"] == sum(1 for e in events if e["us"] >= start)
    state = person.states["i"]
    assert len(state.latest) == values["i"]  # type: ignore[attr-defined]
    bucketed = BucketedWindow(DAYS_30, integer=True)
    for hour in range(24 * 90):
        bucketed.update(hour * 3600 * MICROS, 1)
    # at a cutoff on a bucket's edge the window ends with that bucket: 719 full hours before
    assert bucketed.value(24 * 90 * 3600 * MICROS) == 30 * 24 - 1
    assert len(bucketed.keys) == len(bucketed.sums) <= 30 * 24 + 1


def test_stored_type_numbers_cover_every_event_type_and_others_travel_by_name() -> None:
    from intentflow.events import EVENT_TYPES
    from intentflow.features.kinds import PREVIOUS_WEEK
    from intentflow.features.online import TYPE_NAMES, ExactCounts, WindowCounts

    assert set(EVENT_TYPES) <= set(TYPE_NAMES)

    def fresh(window: Window) -> WindowCounts | ExactCounts:
        return WindowCounts([window]) if window.bucket_seconds else ExactCounts([window])

    for window in (HOUR, DAYS_30, PREVIOUS_WEEK):
        counts = fresh(window)
        for i, kind in enumerate(["page_view", "renamed_later", "purchase"] * 40):
            counts.update(i * 3 * 3600 * MICROS, kind)
        again = fresh(window)
        again.load(counts.dump())
        cutoff = 121 * 3 * 3600 * MICROS
        assert again.counts(cutoff) == counts.counts(cutoff)
    assert again.counts(cutoff)[window.name]["renamed_later"] > 0


def test_a_bot_burst_is_held_bounded() -> None:
    from intentflow.features.kinds import HELD_MAX
    from intentflow.features.online import Catalog
    from intentflow.state.base import encode

    catalog = Catalog.of(online_features())
    bot, shopper = OnlinePerson(catalog), OnlinePerson(catalog)
    burst = HELD_MAX + 2_500
    for n in range(burst):  # one event every 50 ms: 10 minutes, each a new item
        event = {"type": "product_view", "us": n * 50_000, "item_id": f"i{n}", "category": "c"}
        bot.update(event)
    for n in range(3):
        shopper.update({"type": "product_view", "us": n * MICROS, "item_id": "i", "category": "c"})
    cutoff = burst * 50_000
    values = bot.values(cutoff)
    assert values["product_views_15m"] == values["events_1h"] == HELD_MAX  # capped, not burst
    assert values["distinct_items_viewed_30d"] == HELD_MAX
    assert shopper.values(cutoff)["product_views_15m"] == 3
    # a bot twice as busy takes no more room
    twice = OnlinePerson(catalog)
    for n in range(2 * burst):
        twice.update(
            {"type": "product_view", "us": n * 25_000, "item_id": f"i{n}", "category": "c"}
        )
    # item ids one character longer, and twice the events of the last minute, held whole for
    # late ones in the sessions (up to HELD_MAX)
    assert len(encode(twice)) <= 1.25 * len(encode(bot))


@pytest.mark.parametrize("seed", range(6))
def test_shared_window_counts_equal_a_recount_with_late_events_between_reads(seed: int) -> None:
    from intentflow.features.kinds import DAY, MINUTES_15, PREVIOUS_WEEK, WEEK
    from intentflow.features.online import ExactCounts, WindowCounts

    rng = random.Random(seed)
    groups = [[MINUTES_15, HOUR], [WEEK, PREVIOUS_WEEK, DAYS_30], [DAY]]
    spans = {MINUTES_15.name: 1800, HOUR.name: 1800, DAY.name: 86400}
    for windows in groups:
        state = WindowCounts(windows) if windows[0].bucket_seconds else ExactCounts(windows)
        span = spans.get(windows[0].name, 40 * 86400) * MICROS
        held: list[tuple[int, str]] = []
        starts: dict[str, int] = {}
        now = 0
        for _ in range(400):
            now += rng.randrange(span // 50)
            us = max(0, now - rng.choice([0, 0, 0, rng.randrange(span)]))  # some arrive late
            kind = rng.choice(["product_view", "add_to_cart", "purchase"])
            state.update(us, kind)
            held.append((us, kind))
            if rng.random() < 0.2:
                cutoff = now + 1
                got = state.counts(cutoff)
                for window in windows:
                    start, end = window.bounds(cutoff)
                    bucket = window.bucket_seconds * MICROS
                    if bucket:  # windows hold whole buckets
                        start, end = start // bucket * bucket, -(-end // bucket) * bucket
                    start = starts[window.name] = max(start, starts.get(window.name, start))
                    want: dict[str, int] = {}
                    for t, k in held:
                        if start <= t < end:
                            want[k] = want.get(k, 0) + 1
                    have = {k: n for k, n in got[window.name].items() if n}
                    assert have == want, (window.name, cutoff)


def test_a_late_event_after_a_burst_beyond_the_bound_keeps_the_counts_right() -> None:
    """A read moves the 15-minute window ahead; a burst over HELD_MAX is counted before that
    window, and a late event before it comes after: every count stays the recount's."""
    from intentflow.features.kinds import HELD_MAX, MINUTES_15
    from intentflow.features.online import ExactCounts

    hour = 3600 * MICROS
    counts = ExactCounts([MINUTES_15, HOUR])
    counts.counts(2 * hour)  # the 15-minute window starts at 1:45
    for i in range(HELD_MAX + 1):
        counts.update(hour + i, "a")  # in order, before 1:45; the last one passes the bound
    counts.update(hour + 5_000, "b")  # late, before 1:45 too
    found = counts.counts(2 * hour + 1)
    assert found["15m"] == {"a": 0, "b": 0} or not any(found["15m"].values())
    assert found["1h"]["a"] + found["1h"]["b"] == HELD_MAX
    assert min(found["1h"].values()) >= 0


def test_distinct_values_with_long_numbers_after_their_beginning_are_stored() -> None:
    from intentflow.state.base import decode, encode

    catalog = Catalog.of(online_features())
    for items in (
        ["18446744073709551616", "28446744073709551617"],  # past what msgpack holds as numbers
        ["sku-7", "sku-07", "sku-0"],
        ["sku-100", "sku-120"],
        ["same"],
    ):
        person = OnlinePerson(catalog)
        for i, item in enumerate(items):
            event = {"type": "product_view", "us": 1_767_225_600 * MICROS + i, "item_id": item}
            person.update(event)
        back = decode(catalog, encode(person))
        assert list(back.states["distinct_items_viewed_30d"].latest) == items  # type: ignore[attr-defined]
