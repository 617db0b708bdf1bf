"""The feature catalog: every user-level feature intentflow computes, in one declarative list.

Each entry is a feature kind from :mod:`intentflow.features.kinds` with its name, description and
window. The batch engines (DuckDB, Spark) render this list as one query; the online engine updates
the same definitions per event. ``intentflow features list`` prints it, and its
:func:`catalog_version` stamps every feature table, so a model can tell whether it reads the
features it was trained on.
"""

from __future__ import annotations

import hashlib
from typing import Final

from intentflow.features.kinds import (
    DAY,
    DAYS_30,
    DAYS_90,
    HOUR,
    MINUTES_15,
    OFF_SITE,
    PREVIOUS_WEEK,
    WEEK,
    Count,
    DaysSince,
    Distinct,
    Dtype,
    Feature,
    QuantileScore,
    Ranked,
    Ratio,
    SessionAggregate,
    SessionHow,
    Sum,
    TimePart,
    Trend,
)

COUNTED_TYPES: Final = (
    "page_view",
    "product_view",
    "click",
    "scroll",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "add_to_wishlist",
    "purchase",
)
"""Event types counted per window (email events have their own group)."""

COUNT_WINDOWS: Final = (MINUTES_15, HOUR, DAY, WEEK, DAYS_30)
PRODUCT_TYPES: Final = ("product_view", "add_to_cart", "add_to_wishlist", "purchase")
"""Events that show interest in a product (for category affinity)."""


PLURALS: Final = {
    "page_view": "page_views",
    "product_view": "product_views",
    "click": "clicks",
    "scroll": "scrolls",
    "search": "searches",
    "add_to_cart": "add_to_carts",
    "remove_from_cart": "removes_from_cart",
    "add_to_wishlist": "wishlist_adds",
    "purchase": "purchases",
}
"""Feature-name stems of the counted types."""

HOUR_OF_DAY: Final = TimePart("hour")
DAY_OF_WEEK: Final = TimePart("weekday")
"""Monday is 0 (1970-01-01, epoch day 0, was a Thursday)."""


def _counts() -> list[Feature]:
    out: list[Feature] = []
    for window in COUNT_WINDOWS:
        out.append(
            Count(
                name=f"events_{window.name}", description=f"events in {window.name}", window=window
            )
        )
        for kind in COUNTED_TYPES:
            out.append(
                Count(
                    name=f"{PLURALS[kind]}_{window.name}",
                    description=f"{kind.replace('_', ' ')} events in {window.name}",
                    types=(kind,),
                    window=window,
                )
            )
    return out


def _rfm() -> list[Feature]:
    out: list[Feature] = [
        DaysSince(
            name="days_since_last_purchase",
            description="days from the last purchase to the cutoff (empty: never bought)",
            types=("purchase",),
        ),
        DaysSince(
            name="days_since_last_visit",
            description="days from the last visit (any event but emails and identify calls)",
            except_types=OFF_SITE,
        ),
    ]
    for window in (DAYS_30, DAYS_90):
        out.append(
            Count(
                name=f"orders_{window.name}",
                description=f"purchases in {window.name}",
                types=("purchase",),
                window=window,
            )
        )
        out.append(
            Sum(
                name=f"revenue_{window.name}",
                description=f"revenue of purchases in {window.name}",
                column="revenue",
                types=("purchase",),
                window=window,
            )
        )
    scored = [
        ("recency_score", "days_since_last_purchase", True),
        ("frequency_score", "orders_90d", False),
        ("monetary_score", "revenue_90d", False),
    ]
    for name, of, lower in scored:
        out.append(
            QuantileScore(
                name=name,
                description=f"1-5 quantile score of {of} among everyone at the cutoff (5: best)",
                of=of,
                lower_is_better=lower,
            )
        )
    return out


def _engagement() -> list[Feature]:
    return [
        Distinct(
            name="distinct_items_viewed_30d",
            description="distinct products viewed in 30d",
            column="item_id",
            types=("product_view",),
            window=DAYS_30,
        ),
        Distinct(
            name="distinct_categories_viewed_30d",
            description="distinct categories of products viewed in 30d",
            column="category",
            types=("product_view",),
            window=DAYS_30,
        ),
        Ratio(
            name="views_per_session_30d",
            description="product views per session in 30d",
            numerator="product_views_30d",
            denominator="sessions_30d",
        ),
        Ratio(
            name="cart_to_purchase_30d",
            description="purchases per add-to-cart in 30d",
            numerator="purchases_30d",
            denominator="add_to_carts_30d",
        ),
        Ratio(
            name="view_to_cart_30d",
            description="add-to-carts per product view in 30d",
            numerator="add_to_carts_30d",
            denominator="product_views_30d",
        ),
    ]


def _sessions() -> list[Feature]:
    window = DAYS_30

    def agg(
        name: str,
        description: str,
        how: SessionHow,
        column: str | None = None,
        per: str | None = None,
        dtype: Dtype = "double",
        current: bool = False,
    ) -> SessionAggregate:
        return SessionAggregate(
            name=name,
            description=description,
            window=None if current else window,
            how=how,
            column=column,
            per=per,
            value_dtype=dtype,
            current=current,
        )

    return [
        agg("sessions_30d", "sessions started in 30d", "count", dtype="int"),
        agg(
            "abandoned_carts_30d",
            "sessions in 30d with an add-to-cart and no purchase",
            "sum",
            "abandoned",
            dtype="int",
        ),
        agg(
            "mean_session_seconds_30d",
            "mean session duration in 30d, seconds",
            "mean",
            "duration_s",
        ),
        agg(
            "median_session_seconds_30d",
            "median session duration in 30d, seconds",
            "median",
            "duration_s",
        ),
        agg(
            "mean_scroll_depth_30d",
            "mean of the deepest scroll of each session in 30d, percent",
            "mean",
            "max_scroll",
        ),
        agg("bounce_rate_30d", "share of sessions in 30d with a single event", "mean", "bounced"),
        agg("pages_per_session_30d", "page and product views per session in 30d", "mean", "views"),
        agg(
            "mean_dwell_seconds_30d",
            "mean time from a product view to the next later event of its session, in 30d, seconds",
            "per",
            "dwell_s",
            "dwelled",
        ),
        # the visit going on at the cutoff (none: 0, or empty for the mean and the rate)
        agg(
            "current_session_events",
            "events in the session going on (its last event at most the session gap ago)",
            "sum",
            "events",
            dtype="int",
            current=True,
        ),
        agg(
            "current_session_seconds",
            "duration of the session going on so far, seconds",
            "sum",
            "duration_s",
            current=True,
        ),
        agg(
            "current_session_views",
            "page and product views in the session going on",
            "sum",
            "views",
            dtype="int",
            current=True,
        ),
        agg(
            "current_session_abandoned_cart",
            "1 when the session going on has an add-to-cart and no purchase",
            "sum",
            "abandoned",
            dtype="int",
            current=True,
        ),
        agg(
            "current_session_max_scroll",
            "deepest scroll in the session going on, percent",
            "mean",
            "max_scroll",
            current=True,
        ),
        agg(
            "session_activity_score",
            "events per minute in the session going on (a session under a minute counts one)",
            "per",
            "events",
            "minutes",
            current=True,
        ),
    ]


def _time() -> list[Feature]:
    return [
        Ranked(
            name="preferred_hour",
            description="hour of day (UTC) with the most events in 30d",
            key=HOUR_OF_DAY,
            window=DAYS_30,
            value_dtype="int",
        ),
        Ranked(
            name="preferred_weekday",
            description="day of week (0 Monday) with the most events in 30d",
            key=DAY_OF_WEEK,
            window=DAYS_30,
            value_dtype="int",
        ),
        DaysSince(
            name="days_since_first_seen",
            description="days from the first event to the cutoff",
            first=True,
        ),
        Count(
            name="events_7d_before",
            description="events in the 7d before the last 7d",
            window=PREVIOUS_WEEK,
        ),
        Trend(
            name="trend_7d",
            description="(events in 7d - in the 7d before) / their sum: -1 to +1",
            recent="events_7d",
            before="events_7d_before",
        ),
    ]


def _affinity(top: int = 3) -> list[Feature]:
    out: list[Feature] = []
    for rank in range(1, top + 1):
        for column, what in (("value", "category"), ("share", "share of product events")):
            out.append(
                Ranked(
                    name=f"top_category_{rank}" + ("_share" if column == "share" else ""),
                    description=f"{what} of the person's top-{rank} category in 30d",
                    key="category",
                    types=PRODUCT_TYPES,
                    window=DAYS_30,
                    rank=rank,
                    column=column,  # type: ignore[arg-type]
                )
            )
    return out


def _email() -> list[Feature]:
    return [
        Count(
            name="email_opens_30d",
            description="emails opened in 30d",
            types=("email_open",),
            window=DAYS_30,
        ),
        Count(
            name="email_clicks_30d",
            description="email links clicked in 30d",
            types=("email_click",),
            window=DAYS_30,
        ),
        Ratio(
            name="email_ctr_30d",
            description="email clicks per open in 30d",
            numerator="email_clicks_30d",
            denominator="email_opens_30d",
        ),
    ]


FEATURES: Final[tuple[Feature, ...]] = (
    *_rfm(),
    *_counts(),
    *_engagement(),
    *_sessions(),
    *_time(),
    *_affinity(),
    *_email(),
)
"""Every feature, in output column order."""

BY_NAME: Final = {f.name: f for f in FEATURES}
assert len(BY_NAME) == len(FEATURES), "feature names must be unique"


def catalog_version(features: tuple[Feature, ...] = FEATURES) -> str:
    """A hash of the definitions (not the descriptions): it changes when any feature would
    compute something else."""
    text = "\n".join(f.definition() for f in features)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
