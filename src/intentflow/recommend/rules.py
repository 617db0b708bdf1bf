"""Business rules on the candidates: the policy's (:class:`~intentflow.recommend.policy.Rules`)
and the request's, applied in one pass that says which rules took effect and what each removed.

A request may narrow the answer with a filter: conditions joined by commas, each a field, an
operator and a value. Fields: ``price`` (``<``, ``<=``, ``>``, ``>=``, ``=``, ``!=``),
``category`` and ``tag`` (``=``, ``!=``; a category matches any level of the item's path),
``in_stock`` (``=true`` or ``=false``).

>>> parse_filter("price<=50,tag=promotion")
[Condition(field='price', op='<=', value=50.0), Condition(field='tag', op='=', value='promotion')]
>>> parse_filter("colour=red")
Traceback (most recent call last):
intentflow.recommend.rules.FilterError: filter condition 'colour=red': unknown field 'colour' ...
"""

from __future__ import annotations

import math
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from intentflow.items.model import Facts
from intentflow.recommend.policy import Rules
from intentflow.recommend.sources import Candidate

_OPERATORS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "=": operator.eq,
}
_FIELDS: Final = {
    "price": tuple(_OPERATORS),
    "category": ("=", "!="),
    "tag": ("=", "!="),
    "in_stock": ("=",),
}
_CONDITION = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|!=|<|>|=)\s*(.*?)\s*$")


class FilterError(ValueError):
    """A request filter that cannot be read, or rules that contradict each other."""


@dataclass(frozen=True)
class Condition:
    """One condition of a request filter."""

    field: str
    op: str
    value: str | float | bool


def parse_filter(text: str | None) -> list[Condition]:
    """The conditions of a filter (see the module's doc); :class:`FilterError` with the
    reason when one cannot be read."""
    out: list[Condition] = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        match = _CONDITION.match(part)
        if match is None:
            raise FilterError(f"filter condition {part.strip()!r}: expected FIELD OP VALUE")
        name, op, raw = match.groups()
        where = f"filter condition {part.strip()!r}"
        if name not in _FIELDS:
            raise FilterError(f"{where}: unknown field {name!r} ({', '.join(_FIELDS)})")
        if op not in _FIELDS[name]:
            raise FilterError(f"{where}: {name} takes {' '.join(_FIELDS[name])}, not {op}")
        if not raw:
            raise FilterError(f"{where}: no value")
        value: str | float | bool = raw
        if name == "price":
            try:
                value = float(raw)
            except ValueError:
                raise FilterError(f"{where}: the price {raw!r} is not a number") from None
            if not math.isfinite(value):
                raise FilterError(f"{where}: the price must be a finite number")
        elif name == "in_stock":
            if raw.lower() not in ("true", "false"):
                raise FilterError(f"{where}: in_stock is true or false")
            value = raw.lower() == "true"
        out.append(Condition(name, op, value))
    return out


def _path(item: Facts | None, fallback: str | None) -> tuple[str, ...]:
    if item is not None and item.category_path:
        return item.category_path
    return () if fallback is None else (fallback,)


@dataclass
class Person:
    """What the rules know of the person asking."""

    bought: set[str] = field(default_factory=set)
    cart: set[str] = field(default_factory=set)
    viewed: set[str] = field(default_factory=set)


@dataclass
class Outcome:
    """The items kept, best first, and what the rules did."""

    kept: list[Candidate]
    removed: Counter[str]
    """How many candidates each rule removed."""
    boosted: int = 0


class RuleSet:
    """The policy's rules with one request's additions, for one person."""

    def __init__(
        self,
        rules: Rules,
        person: Person,
        *,
        category: str | None = None,
        exclude: Iterable[str] = (),
        conditions: Sequence[Condition] = (),
        category_of: Callable[[str], str | None] = lambda item: None,
    ):
        self.rules = rules
        self.category = category
        self.conditions = list(conditions)
        self.category_of = category_of
        if category is not None and category in rules.exclude_categories:
            raise FilterError(f"category {category!r} is excluded by the policy's rules")
        if (
            category is not None
            and rules.include_categories
            and category not in rules.include_categories
        ):
            raise FilterError(
                f"category {category!r} is outside the policy's categories "
                f"{rules.include_categories}"
            )
        self._include = frozenset(rules.include_categories)
        self._exclude = frozenset(rules.exclude_categories)
        self._boosts = [
            (frozenset(b.items), frozenset(b.categories), frozenset(b.tags), b.factor)
            for b in rules.boosts
        ]
        self.blocked: dict[str, str] = {}
        """Items left out before any metadata is read, with the rule that leaves them out."""
        for item in rules.blocked_items:
            self.blocked[item] = "blocked"
        for item in exclude:
            self.blocked.setdefault(item, "request_exclude")
        if rules.exclude_purchased:
            for item in person.bought:
                self.blocked.setdefault(item, "exclude_purchased")
        if rules.exclude_in_cart:
            for item in person.cart:
                self.blocked.setdefault(item, "exclude_in_cart")
        if rules.exclude_viewed:
            for item in person.viewed:
                self.blocked.setdefault(item, "exclude_viewed")

    def why_not(self, candidate: str, item: Facts | None) -> str | None:
        """The rule that leaves ``candidate`` out, or None."""
        rule = self.blocked.get(candidate)
        if rule is not None:
            return rule
        rules = self.rules
        if rules.exclude_out_of_stock and item is not None and not item.in_stock:
            return "exclude_out_of_stock"
        path = _path(item, self.category_of(candidate))
        if self._include and self._include.isdisjoint(path):
            return "include_categories"
        if self._exclude and not self._exclude.isdisjoint(path):
            return "exclude_categories"
        if self.category is not None and self.category not in path:
            return "request_category"
        price = None if item is None else item.price
        if price is not None:
            if rules.price_min is not None and price < rules.price_min:
                return "price_min"
            if rules.price_max is not None and price > rules.price_max:
                return "price_max"
        for condition in self.conditions:
            if not self._meets(condition, item, path):
                return "request_filter"
        return None

    def _meets(self, condition: Condition, item: Facts | None, path: tuple[str, ...]) -> bool:
        compare = _OPERATORS[condition.op]
        if condition.field == "price":
            price = None if item is None else item.price
            return price is not None and compare(price, condition.value)
        if condition.field == "category":
            return (condition.value in path) == (condition.op == "=")
        if condition.field == "tag":
            tags = () if item is None else item.tags
            return (condition.value in tags) == (condition.op == "=")
        in_stock = True if item is None else item.in_stock
        return in_stock == condition.value

    def boost(self, candidate: str, item: Facts | None) -> float:
        """The product of the boosts that match ``candidate``."""
        factor = 1.0
        if not self._boosts:
            return factor
        path = _path(item, self.category_of(candidate))
        tags = () if item is None else item.tags
        for items, categories, tagged, by in self._boosts:
            if candidate in items or not categories.isdisjoint(path) or not tagged.isdisjoint(tags):
                factor *= by
        return factor

    def apply(self, candidates: Sequence[Candidate], items: Mapping[str, Facts], n: int) -> Outcome:
        """The best ``n`` of ``candidates`` that the rules keep: left out by the rules, scored
        again by the boosts (a candidate's score is its place in the strategy's order, 1, 1/2,
        1/3..., times its boosts), then at most ``max_per_category`` of a category."""
        removed: Counter[str] = Counter()
        scored: list[tuple[float, int, Candidate]] = []
        boosted = 0
        for place, candidate in enumerate(candidates):
            item = items.get(candidate.item)
            rule = self.why_not(candidate.item, item)
            if rule is not None:
                removed[rule] += 1
                continue
            factor = self.boost(candidate.item, item)
            boosted += factor != 1.0
            score = factor / (place + 1)
            scored.append((-score, place, candidate._replace(score=round(score, 6))))
        scored.sort(key=lambda s: (s[0], s[1]))
        kept: list[Candidate] = []
        per: Counter[str | None] = Counter()
        limit = self.rules.max_per_category
        for _, _, candidate in scored:
            if len(kept) == n:
                break
            if limit:
                path = _path(items.get(candidate.item), self.category_of(candidate.item))
                category = path[-1] if path else None
                if per[category] >= limit:
                    removed["max_per_category"] += 1
                    continue
                per[category] += 1
            kept.append(candidate)
        return Outcome(kept, removed, boosted)
