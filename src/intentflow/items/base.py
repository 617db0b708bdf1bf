"""The contract every item catalog keeps.

Two kinds of knowledge are kept apart: items *put* (through the API or an import), which are
authoritative and replaced whole, and items *seen* in events (:class:`Seen`: the latest category
and price events gave, and when the item was first and last seen). An item read is the one put
when there is one, else the one seen.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from intentflow.features.kinds import MICROS
from intentflow.items.model import Facts, Item


@dataclass(frozen=True)
class Seen:
    """What events said of an item."""

    category: str | None
    price: float | None
    first_us: int
    last_us: int

    def merge(self, other: Seen) -> Seen:
        """Both sightings as one: the later one's category and price where it has them."""
        later, earlier = (other, self) if other.last_us >= self.last_us else (self, other)
        return Seen(
            later.category if later.category is not None else earlier.category,
            later.price if later.price is not None else earlier.price,
            min(self.first_us, other.first_us),
            later.last_us,
        )

    @property
    def described(self) -> tuple[str | None, float | None, int]:
        """What a sighting says of the item (a later time alone is not worth a write)."""
        return self.category, self.price, self.first_us

    @property
    def facts(self) -> Facts:
        """What the rules read of the item."""
        return Facts(() if self.category is None else (self.category,), self.price)

    def item(self, item_id: str) -> Item:
        """The item as events describe it."""
        return Item(
            item_id=item_id,
            category_path=[] if self.category is None else [self.category],
            price=self.price,
            created=datetime.fromtimestamp(self.first_us / MICROS, UTC),
            seen_only=True,
        )

    def to_list(self) -> list[Any]:
        return [self.category, self.price, self.first_us, self.last_us]

    @classmethod
    def from_list(cls, data: Sequence[Any]) -> Seen:
        return cls(data[0], data[1], int(data[2]), int(data[3]))


def sightings(events: Iterable[Mapping[str, Any]]) -> dict[str, Seen]:
    """What a batch of events (with ``us``, ``item_id``, ``category``, ``price``) says of each
    item it names."""
    out: dict[str, Seen] = {}
    for event in events:
        item = event.get("item_id")
        if item is None:
            continue
        us = int(event["us"])
        price = event.get("price")
        category = event.get("category")
        seen = Seen(
            None if category is None else str(category),
            None if price is None else float(price),
            us,
            us,
        )
        held = out.get(str(item))
        out[str(item)] = seen if held is None else held.merge(seen)
    return out


class ItemStore(ABC):
    """The item catalog (see the module's doc)."""

    @abstractmethod
    def put_many(self, items: Sequence[Item]) -> None:
        """Store ``items`` whole, durably, in place of what was put or seen of them."""

    @abstractmethod
    def read(self, ids: Sequence[str]) -> tuple[dict[str, Item], dict[str, Seen]]:
        """The items of ``ids`` put, and those seen."""

    @abstractmethod
    def write_seen(self, seen: Mapping[str, Seen]) -> None:
        """Store what events said of items (replacing what was stored)."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """How many items were put (``put``) and seen (``seen``)."""

    def get_many(self, ids: Sequence[str]) -> dict[str, Item]:
        """The known items of ``ids`` (put, else seen)."""
        put, seen = self.read(ids)
        for item_id, sighting in seen.items():
            if item_id not in put:
                put[item_id] = sighting.item(item_id)
        return put

    def facts_many(self, ids: Sequence[str]) -> dict[str, Facts]:
        """What the rules read of the known items of ``ids``."""
        put, seen = self.read(ids)
        out = {item_id: item.facts for item_id, item in put.items()}
        for item_id, sighting in seen.items():
            out.setdefault(item_id, sighting.facts)
        return out

    def get(self, item_id: str) -> Item | None:
        """One item, if known."""
        return self.get_many([item_id]).get(item_id)

    def observe(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Learn the items ``events`` name; returns how many sightings changed (stored only
        when their category, price or first time did: the time of the latest sighting is
        refreshed with them)."""
        found = sightings(events)
        if not found:
            return 0
        _, held = self.read(list(found))
        changed = {}
        for item_id, seen in found.items():
            before = held.get(item_id)
            after = seen if before is None else before.merge(seen)
            if before is None or after.described != before.described:
                changed[item_id] = after
        if changed:
            self.write_seen(changed)
        return len(changed)

    def close(self) -> None:  # noqa: B027 (a no-op unless the backend holds connections)
        """Release files or connections."""
