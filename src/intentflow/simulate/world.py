"""The simulated shop: a category tree of items with power-law popularity, and its people.

Everything is drawn from one seeded :class:`random.Random`, so a seed gives the same world.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field

CATEGORIES: dict[str, tuple[tuple[str, ...], float]] = {
    "electronics": (("phones", "laptops", "audio", "cameras", "accessories"), 180.0),
    "fashion": (("women", "men", "shoes", "bags", "kids"), 45.0),
    "home": (("kitchen", "furniture", "decor", "bedding", "garden"), 60.0),
    "beauty": (("skincare", "makeup", "fragrance", "haircare"), 25.0),
    "sports": (("running", "cycling", "fitness", "outdoor"), 55.0),
    "books": (("fiction", "nonfiction", "children", "comics"), 14.0),
    "toys": (("games", "puzzles", "lego", "dolls"), 30.0),
    "grocery": (("snacks", "drinks", "coffee", "organic"), 8.0),
}
"""Top-level category: (subcategories, typical price)."""

USER_AGENTS = {
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15",
    ),
    "mobile": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0 Mobile Safari/537.36",
    ),
    "bot": (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "python-requests/2.32",
    ),
}


@dataclass(frozen=True)
class Item:
    """A product."""

    item_id: str
    category: str
    """``top/sub``, e.g. ``electronics/phones``."""
    price: float


@dataclass
class Catalog:
    """Items by subcategory, with cumulative popularity weights for fast weighted draws."""

    items: list[Item]
    by_category: dict[str, list[Item]]
    _cumulative: dict[str, list[float]]

    @classmethod
    def build(cls, rng: random.Random, n_items: int, zipf_s: float = 1.1) -> Catalog:
        """``n_items`` items spread over the category tree, popularity ~ 1 / rank^s."""
        subcats = [(top, sub) for top, (subs, _) in CATEGORIES.items() for sub in subs]
        items: list[Item] = []
        for n in range(n_items):
            top, sub = subcats[n % len(subcats)] if n < len(subcats) else rng.choice(subcats)
            base = CATEGORIES[top][1]
            price = round(math.exp(rng.gauss(math.log(base), 0.6)), 2)
            items.append(Item(f"sku-{n:06d}", f"{top}/{sub}", max(price, 0.99)))
        by_category: dict[str, list[Item]] = {}
        for item in items:
            by_category.setdefault(item.category, []).append(item)
        cumulative = {}
        for category, members in by_category.items():
            rng.shuffle(members)
            weights = [1.0 / (rank + 1) ** zipf_s for rank in range(len(members))]
            cumulative[category] = list(itertools.accumulate(weights))
        return cls(items, by_category, cumulative)

    def pick(self, rng: random.Random, category: str) -> Item:
        """A popularity-weighted item of ``category``."""
        cumulative = self._cumulative[category]
        index = bisect.bisect_left(cumulative, rng.random() * cumulative[-1])
        return self.by_category[category][min(index, len(cumulative) - 1)]

    def subcategories(self, top: str) -> list[str]:
        """Subcategories of a top-level category that hold items."""
        return [c for c in self.by_category if c.startswith(top + "/")]


@dataclass
class Person:
    """A simulated visitor with latent traits that drive behaviour."""

    index: int
    anonymous_id: str
    user_id: str | None
    """Set for people with an account; they log in during their first session."""
    intent: float
    """Latent purchase intent in [0, 1]."""
    tastes: list[tuple[str, float]]
    """Preferred top-level categories with weights."""
    sessions_per_day: float
    device: str
    is_bot: bool = False
    logged_in: bool = False
    session_count: int = 0
    cart: dict[str, tuple[Item, int]] = field(default_factory=dict)
    """Items in the cart with their quantities, by item id."""


def make_people(rng: random.Random, n: int, bot_share: float) -> list[Person]:
    """``n`` people: most casual, a few keen buyers, a share of bots."""
    tops = list(CATEGORIES)
    people = []
    for i in range(n):
        is_bot = rng.random() < bot_share
        k = rng.choice((1, 1, 2, 2, 3))
        tastes = [(top, rng.uniform(0.5, 1.0)) for top in rng.sample(tops, k)]
        registered = not is_bot and rng.random() < 0.6
        people.append(
            Person(
                index=i,
                anonymous_id=f"anon-{rng.getrandbits(48):012x}",
                user_id=f"user-{i:07d}" if registered else None,
                intent=0.0 if is_bot else rng.betavariate(1.3, 5.0),
                tastes=tastes,
                sessions_per_day=(
                    rng.uniform(0.5, 2.0) if is_bot else math.exp(rng.gauss(math.log(0.25), 0.9))
                ),
                device="bot" if is_bot else ("mobile" if rng.random() < 0.55 else "desktop"),
                is_bot=is_bot,
            )
        )
    return people
