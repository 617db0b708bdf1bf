"""What is trending: items and categories scored over sliding windows, the same in every backend.

An event adds its type's weight (a purchase counts more than an add-to-cart, which counts more
than a view: :data:`WEIGHTS`) to its item and its category, in the time bucket of its event time.
A window (15 minutes, 1 hour, 24 hours) holds its last :attr:`TrendWindow.buckets` buckets, and
a bucket counts less the older it is: its total times ``0.5 ** (age / half_life)``, its age
taken from the end of the bucket to the moment asked about. Top lists are asked for overall or
within a category.

>>> window = WINDOWS["15m"]
>>> window.bucket_us, window.first_bucket(20 * 60 * 10**6)
(60000000, 6)
>>> round(window.decay(bucket=19, now_us=20 * 60 * 10**6), 3)  # the current bucket: no decay
1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

from intentflow.features.kinds import MICROS

WEIGHTS: Final = {"purchase": 5.0, "add_to_cart": 3.0, "add_to_wishlist": 2.0, "product_view": 1.0}
"""How much an event of each type adds to its item's score (other types add nothing)."""


@dataclass(frozen=True)
class TrendWindow:
    """A sliding window of time buckets, with decay."""

    name: str
    seconds: int
    buckets: int

    @cached_property
    def bucket_us(self) -> int:
        return self.seconds * MICROS // self.buckets

    @property
    def half_life_us(self) -> float:
        """A third of the window: what happened at its start counts an eighth as much as now."""
        return self.seconds * MICROS / 3

    def bucket(self, us: int) -> int:
        """The bucket an event time falls in."""
        return us // self.bucket_us

    def first_bucket(self, now_us: int) -> int:
        """The oldest bucket the window holds at ``now_us``."""
        return self.bucket(now_us) - self.buckets + 1

    def decay(self, bucket: int, now_us: int) -> float:
        """What a bucket's total counts for at ``now_us``."""
        age = max(0, now_us - (bucket + 1) * self.bucket_us)
        return float(0.5 ** (age / self.half_life_us))


WINDOWS: Final = {
    w.name: w
    for w in (
        TrendWindow("15m", 15 * 60, 15),
        TrendWindow("1h", 3600, 12),
        TrendWindow("24h", 86_400, 24),
    )
}
"""The trending windows, by name."""


@dataclass(frozen=True)
class Hit:
    """What one event adds: its weight to its item (and category), in its bucket."""

    us: int
    item: str
    category: str | None
    weight: float


def hit(event: Mapping[str, Any]) -> Hit | None:
    """What an event adds to trending, or None (no item, or a type that does not count)."""
    weight = WEIGHTS.get(str(event.get("type")))
    item = event.get("item_id")
    if weight is None or item is None:
        return None
    category = event.get("category")
    return Hit(int(event["us"]), str(item), None if category is None else str(category), weight)
