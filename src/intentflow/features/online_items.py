"""A person's latest items, kept beside their features for recommendations: what they looked
at, what is in their cart and what they bought.

Per item the trail keeps its category and the latest time of each kind of interaction: any
(a view, a wishlist, a cart or a purchase), an add to the cart, a removal from it or a purchase,
and a purchase. An item is in the cart when its latest add is later than its latest removal or
purchase. Times are maxima, so events may come in any order and two trails merge exactly (an
anonymous id's, once it is linked to its user). At most :data:`LIMIT` items are kept: the one
touched longest ago goes first.

>>> trail = ItemTrail()
>>> for us, kind, item in [(1, "product_view", "a"), (2, "add_to_cart", "a"),
...                        (3, "product_view", "b"), (4, "add_to_cart", "b"), (5, "purchase", "b")]:
...     trail.update(us, {"type": kind, "item_id": item})
>>> trail.recent(), trail.cart(), trail.bought()
(['b', 'a'], ['a'], ['b'])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

LIMIT: Final = 30
"""The most items a trail keeps."""

TYPES: Final = frozenset(
    {"product_view", "add_to_wishlist", "add_to_cart", "remove_from_cart", "purchase"}
)
"""The event types a trail takes in (the interactions recommendations learn from, and the
removals that take an item out of the cart)."""

_LAST, _CART, _OUT, _BOUGHT, _CATEGORY = range(5)


def _items_of(event: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    """The items an event is about, with their categories (an order's line items too)."""
    item = event.get("item_id")
    if item is not None:
        category = event.get("category")
        yield str(item), None if category is None else str(category)
    for line in event.get("line_items") or ():
        if isinstance(line, Mapping) and line.get("item_id") is not None:
            category = line.get("category")
            yield str(line["item_id"]), None if category is None else str(category)


class ItemTrail:
    """A person's latest items (see the module's doc)."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: dict[str, list[Any]] = {}
        """Per item: its latest interaction, add to the cart, removal or purchase, and purchase
        (epoch microseconds, 0 for none), and its category."""

    def update(self, us: int, event: Mapping[str, Any]) -> None:
        """Take in one event of :data:`TYPES` at ``us``."""
        kind = event["type"]
        for item, category in _items_of(event):
            entry = self.entries.get(item)
            if entry is None:
                entry = self.entries[item] = [0, 0, 0, 0, category]
            if us >= entry[_LAST]:
                entry[_LAST] = us
                if category is not None:
                    entry[_CATEGORY] = category
            elif entry[_CATEGORY] is None:
                entry[_CATEGORY] = category
            if kind == "add_to_cart":
                entry[_CART] = max(entry[_CART], us)
            elif kind == "remove_from_cart":
                entry[_OUT] = max(entry[_OUT], us)
            elif kind == "purchase":
                entry[_OUT] = max(entry[_OUT], us)
                entry[_BOUGHT] = max(entry[_BOUGHT], us)
        self._trim()

    def merge(self, other: ItemTrail) -> None:
        """Take in ``other``'s items, as if their events had been this person's."""
        for item, theirs in other.entries.items():
            mine = self.entries.get(item)
            if mine is None:
                self.entries[item] = list(theirs)
                continue
            newer, older = (theirs, mine) if theirs[_LAST] > mine[_LAST] else (mine, theirs)
            times = [max(a, b) for a, b in zip(mine[:_CATEGORY], theirs[:_CATEGORY], strict=True)]
            category = newer[_CATEGORY] if newer[_CATEGORY] is not None else older[_CATEGORY]
            self.entries[item] = [*times, category]
        self._trim()

    def _trim(self) -> None:
        while len(self.entries) > LIMIT:
            oldest = min(self.entries, key=lambda item: (self.entries[item][_LAST], item))
            del self.entries[oldest]

    def _latest_first(self, items: Iterable[str], key: int) -> list[str]:
        return sorted(items, key=lambda item: (-self.entries[item][key], item))

    def recent(self, limit: int = LIMIT) -> list[str]:
        """The items, the latest touched first (ties: the smaller id first)."""
        return self._latest_first(self.entries, _LAST)[:limit]

    def history(self) -> list[str]:
        """The items, oldest first: a history for the candidate generators."""
        return self.recent()[::-1]

    def cart(self) -> list[str]:
        """The items in the cart, the latest added first."""
        held = [i for i, e in self.entries.items() if e[_CART] > e[_OUT]]
        return self._latest_first(held, _CART)

    def bought(self) -> list[str]:
        """The items bought, the latest first."""
        return self._latest_first([i for i, e in self.entries.items() if e[_BOUGHT]], _BOUGHT)

    def categories(self) -> dict[str, str]:
        """Each item's category, where known."""
        return {i: e[_CATEGORY] for i, e in self.entries.items() if e[_CATEGORY] is not None}

    def dump(self) -> list[Any]:
        """The trail as a flat list: per item, oldest first, its id, category, the time since
        the previous item's latest interaction, and how long before its own latest its add,
        removal and purchase were (-1: none)."""
        out: list[Any] = []
        previous = 0
        for item in self.history():
            last, cart, gone, bought, category = self.entries[item]
            out += [item, category, last - previous]
            out += [last - t if t else -1 for t in (cart, gone, bought)]
            previous = last
        return out

    def load(self, data: list[Any]) -> None:
        """Restore the trail :meth:`dump` gave."""
        previous = 0
        for at in range(0, len(data), 6):
            item, category, gap, *before = data[at : at + 6]
            last = previous + gap
            self.entries[item] = [last, *(0 if b < 0 else last - b for b in before), category]
            previous = last
