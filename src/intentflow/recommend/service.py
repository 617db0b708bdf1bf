"""Recommendations for one request: route the person to a strategy, draw its sources'
candidates, apply the rules, fall back when too few are left, and say what was done.

Routing follows the policy (:mod:`.policy`). A request never fails for want of data: a person
without state, a missing intent model or segments, or an empty lake each lead to a fallback that
the answer names. When the rules leave fewer items than asked for, the popular and trending
sources fill the answer (``fallback`` says so); when they leave none at all, the answer is empty
and ``detail`` says which rules removed what.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

from intentflow.features.kinds import MICROS
from intentflow.features.online import Catalog, OnlinePerson
from intentflow.items.base import ItemStore
from intentflow.items.model import Facts
from intentflow.models.champion import Champion
from intentflow.models.segments.model import Assignment, SegmentModel
from intentflow.recommend.lists import Learner
from intentflow.recommend.policy import Policy
from intentflow.recommend.rules import Outcome, Person, RuleSet, parse_filter
from intentflow.recommend.sources import SOURCES, Candidate, Context, Draw, Trends
from intentflow.state.base import StateStore

ROUTING: Final = ("events_30d", "top_category_1", "top_category_2", "top_category_3")
"""The features routing and the sources read."""

FALLBACK: tuple[str, ...] = ("popular", "trending")
"""The sources that fill an answer the rules left short."""

MAX_CACHED_ITEMS = 200_000
"""The most items whose facts are kept in memory (all are forgotten past it)."""

MAX_POOL = 500
"""The most candidates drawn for one answer."""


@dataclass(frozen=True)
class Ask:
    """One request for recommendations."""

    user_id: str
    n: int = 10
    context_item: str | None = None
    category: str | None = None
    exclude: tuple[str, ...] = ()
    filter: str | None = None


@dataclass(frozen=True)
class Route:
    """The strategy chosen for a person, and why."""

    strategy: str
    reasons: list[str]
    person_id: str
    person: OnlinePerson | None = None
    values: dict[str, Any] = field(default_factory=dict)
    segment: Assignment | None = None


@dataclass(frozen=True)
class Answer:
    """What the API answers (see :meth:`Recommender.recommend`)."""

    user_id: str
    rec_id: str
    strategy: str
    reasons: list[str]
    items: list[Candidate]
    rules: dict[str, int]
    """Each rule that took effect, with how many candidates it removed (boosts: boosted)."""
    fallback: str | None = None
    detail: str | None = None
    segment: str | None = None
    intent: float | None = None


class Recommender:
    """Serves recommendations (see the module's doc)."""

    def __init__(
        self,
        policy: Policy,
        items: ItemStore,
        learner: Learner,
        trends: Trends,
        *,
        people: StateStore | None = None,
        segments: Champion[SegmentModel] | None = None,
        now_us: Callable[[], int] = lambda: int(time.time() * MICROS),
        items_ttl_s: float = 10.0,
    ):
        self.policy = policy
        self.items = items
        self.learner = learner
        self.trends = trends
        self.people = people
        self.segments = segments
        self.now_us = now_us
        self.items_ttl_s = items_ttl_s
        self._facts: dict[str, tuple[float, Facts | None]] = {}

    def person(self, user_id: str) -> tuple[str, OnlinePerson | None]:
        """A person's id (the user an anonymous id is linked to) and online state."""
        if self.people is None:
            return user_id, None
        return self.people.find(user_id)

    def facts(self, ids: Sequence[str]) -> dict[str, Facts]:
        """What the rules read of the known items of ``ids``, kept ``items_ttl_s`` in memory
        (a change to an item reaches answers within that time)."""
        now = time.monotonic()
        cache = self._facts
        out: dict[str, Facts] = {}
        missing = []
        for item in ids:
            held = cache.get(item)
            if held is not None and now - held[0] < self.items_ttl_s:
                if held[1] is not None:
                    out[item] = held[1]
            else:
                missing.append(item)
        if missing:
            found = self.items.facts_many(missing)
            if len(cache) > MAX_CACHED_ITEMS:
                cache.clear()
            for item in missing:
                facts = found.get(item)
                cache[item] = (now, facts)
                if facts is not None:
                    out[item] = facts
        return out

    def route(self, user_id: str, now_us: int) -> Route:
        """The person's strategy (see :mod:`.policy`)."""
        person_id, person = self.person(user_id)
        if person is None:
            return Route("sparse", ["no events of this person yet"], person_id)
        model = None if self.segments is None else self.segments.current()
        # a segment reads every feature; routing alone, four of them
        values = person.values(now_us, None if model else _routing_keys(person.catalog))
        segment = None if model is None else model.assign_one(values)

        def made(strategy: str, reasons: list[str]) -> Route:
            return Route(strategy, reasons, person_id, person, values, segment)

        events = int(values.get("events_30d") or 0)
        if events < self.policy.min_events:
            return made(
                "sparse", [f"{events} events in 30 days, fewer than {self.policy.min_events}"]
            )
        score = person.intent
        if score is not None and score.high_intent:
            return made(
                "high_intent", [f"high intent: {score.score:.2f} (model {score.model_version})"]
            )
        reasons = ["not scored yet" if score is None else f"casual: intent {score.score:.2f}"]
        if segment is not None:
            mapped = self.policy.segments.get(segment.name) or self.policy.segments.get(
                str(segment.segment)
            )
            if mapped is not None:
                return made(mapped, [*reasons, f"segment {segment.name!r}"])
        return made("casual", reasons)

    def context(self, ask: Ask, route: Route, now_us: int) -> Context:
        """What the sources know of the request: the person's latest items, cart and top
        categories, and the page's item and category."""
        trail = None if route.person is None else route.person.trail
        category = ask.category
        if category is None and ask.context_item is not None:
            # through the facts kept in memory: a page's item is asked for on every request
            facts = self.facts([ask.context_item]).get(ask.context_item)
            category = (
                facts.category_path[-1] if facts and facts.category_path else None
            ) or self.learner.lists.affinity.category_of_.get(ask.context_item)
        return Context(
            history=[] if trail is None else trail.history(),
            cart=[] if trail is None else trail.cart(),
            categories=[
                str(route.values[f"top_category_{rank}"])
                for rank in (1, 2, 3)
                if route.values.get(f"top_category_{rank}") is not None
            ],
            context_item=ask.context_item,
            context_category=category,
            now_us=now_us,
        )

    def recommend(self, ask: Ask) -> Answer:
        """The answer to ``ask``: raises :class:`~intentflow.recommend.rules.FilterError` for a
        filter that cannot be read or that contradicts the policy's rules."""
        conditions = parse_filter(ask.filter)
        now_us = self.now_us()
        route = self.route(ask.user_id, now_us)
        context = self.context(ask, route, now_us)
        trail = None if route.person is None else route.person.trail
        lists = self.learner.lists
        rules = RuleSet(
            self.policy.rules,
            Person(
                bought=set() if trail is None else set(trail.bought()),
                cart=set(context.cart),
                viewed=set(context.history),
            ),
            category=ask.category,
            exclude=[*ask.exclude, *([ask.context_item] if ask.context_item else [])],
            conditions=conditions,
            category_of=lists.affinity.category_of_.get,
        )
        draw = Draw(context, lists, self.trends, self.policy.trending_window)
        pool = self._draw(draw, self.policy.strategies[route.strategy], rules, ask.n)
        metadata = self.facts([c.item for c in pool])
        outcome = rules.apply(pool, metadata, ask.n)
        fallback = None
        if len(outcome.kept) < ask.n:
            extra = self._draw(draw, FALLBACK, rules, ask.n, taken={c.item for c in pool})
            if extra:
                metadata.update(self.facts([c.item for c in extra]))
                own = len(outcome.kept)
                outcome = rules.apply([*pool, *extra], metadata, ask.n)
                if len(outcome.kept) > own:
                    fallback = _short(route.strategy, own, ask.n, outcome)
        applied: dict[str, int] = dict(outcome.removed)
        if outcome.boosted:
            applied["boosts"] = outcome.boosted
        intent = None if route.person is None else route.person.intent
        return Answer(
            user_id=route.person_id,
            rec_id=uuid.uuid4().hex,
            strategy=route.strategy,
            reasons=route.reasons,
            items=outcome.kept,
            rules=applied,
            fallback=fallback,
            detail=None if outcome.kept else _why_empty(pool, outcome, rules),
            segment=None if route.segment is None else route.segment.name,
            intent=None if intent is None else intent.score,
        )

    def _draw(
        self,
        draw: Draw,
        sources: Sequence[str],
        rules: RuleSet,
        n: int,
        taken: set[str] | None = None,
    ) -> list[Candidate]:
        """Candidates from ``sources`` in turn, none of the blocked ones, until there are
        enough for the rules to cut (three times ``n``, and twenty more)."""
        want = min(MAX_POOL, max(3 * n, n + 20))
        seen = set(rules.blocked) | (taken or set())
        pool: list[Candidate] = []
        for name in sources:
            if len(pool) >= want:
                break
            for candidate in SOURCES[name](draw, want - len(pool), seen):
                seen.add(candidate.item)
                pool.append(candidate)
        return pool

    def similar(self, item_id: str, n: int) -> tuple[bool, list[Candidate], str | None]:
        """Items that go with ``item_id``: its co-visitation neighbours, then the best of its
        category when it has too few. Whether the item is known at all (put, imported, seen in
        events or learned from the lake), the items, and why the list is empty, if it is."""
        lists = self.learner.lists
        item = self.items.get(item_id)
        category = (item.category if item else None) or lists.affinity.category_of_.get(item_id)
        if item is None and category is None and item_id not in lists.covisitation.neighbours_:
            return False, [], None
        rules = RuleSet(self.policy.rules, Person(), exclude=[item_id])
        context = Context(context_item=item_id, context_category=category, now_us=self.now_us())
        draw = Draw(context, lists, self.trends, self.policy.trending_window)
        pool = self._draw(draw, ("context",), rules, n)
        outcome = rules.apply(pool, self.facts([c.item for c in pool]), n)
        return True, outcome.kept, None if outcome.kept else _why_empty(pool, outcome, rules)


@cache
def _routing_keys(catalog: Catalog) -> frozenset[str]:
    return catalog.keys_for(ROUTING)


def _short(strategy: str, own: int, n: int, outcome: Outcome) -> str:
    removed = ", ".join(f"{rule} {count}" for rule, count in outcome.removed.most_common())
    why = f" (rules removed: {removed})" if removed else ""
    return f"{strategy} gave {own} of {n} items{why}: filled with popular and trending items"


def _why_empty(pool: list[Candidate], outcome: Outcome, rules: RuleSet) -> str:
    if outcome.removed:
        parts = ", ".join(
            f"{rule} removed {count}" for rule, count in outcome.removed.most_common()
        )
        return f"every candidate was filtered out: {parts}"
    if rules.blocked:
        return (
            f"no candidates beyond the {len(rules.blocked)} items left out from the start "
            "(blocked, bought, in the cart or asked to exclude)"
        )
    return "no candidates: nothing is known of items yet (no events in the lake or the stream)"
