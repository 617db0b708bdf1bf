"""The stream processor: batches of accepted events in, people's online features out.

A batch comes from a source (the collector's log in-process, or a Kafka partition) with the
position it ends at. The processor keys each event by person, reads those people's state in one
round trip, applies the events in event-time order and writes the people back with the new
position, atomically (see :mod:`intentflow.state.base`).

- **Exactly once.** Each event carries its source partition and offset. An event at or before
  the position the state already includes is skipped: a source that delivers a batch again after
  a crash (Kafka resumes from its last committed offset, the log from its checkpoint) changes
  nothing. Within a batch, a repeated ``message_id`` counts once.
- **Event time, late events.** Windows follow event time. The watermark is the latest event time
  seen minus the allowed lateness; an event older than the watermark is *late*: it is counted and
  left out of the online state and of trending (it is in the lake all the same, and the batch
  features hold it).
- **Identity.** An event that carries both an anonymous id and a user id links them, as the
  batch features do (the latest link wins): the anonymous id's state is taken in by the user's
  (:meth:`~intentflow.features.online.OnlinePerson.absorb`) and forgotten, and its later events
  without a user id are the user's, through the link the store keeps. A link to another user
  later sends the id's new events there; what it had before stays with the first user (the batch
  features move it). Through Kafka, an anonymous id's events and its user's may come on two
  partitions, to two processors: a shared store writes a person only if they are as read
  (:class:`~intentflow.state.base.StateConflictError` otherwise, and the batch is applied
  again).
- **Failures.** Nothing the processor keeps moves before the states and positions are written:
  a batch that fails can be given again. Trending takes the batch's hits in the same write
  (one atomic Redis script call, when trending lives on the state's server; see
  :meth:`~intentflow.state.base.StateStore.commit`), so a redelivered batch adds nothing to it
  either; a scoring failure is logged and the people keep their previous scores. After a
  batch that failed, the stored positions are read again before the next: a write whose reply
  was lost is not applied twice. (The memory store hands out the states it holds, so there
  nothing may fail between their change and their write; nothing does.)

>>> from intentflow.features.online import Catalog, online_features
>>> from intentflow.state.memory import MemoryStore
>>> store = MemoryStore(Catalog.of(online_features()), ttl_s=3600, max_people=10)
>>> processor = Processor(store, lateness_s=60)
>>> view = {"type": "product_view", "item_id": "1", "user_id": "ada"}
>>> processor.process([{**view, "message_id": "a", "us": 0, "partition": "log", "offset": 1},
...                    {**view, "message_id": "b", "us": 10**6, "partition": "log", "offset": 2}])
Applied(events=2, people=1, late=0, repeated=0, scored=0)
>>> store.get("ada").values(2 * 10**6)["product_views_15m"]
2
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from intentflow.features.kinds import MICROS
from intentflow.features.online import OnlinePerson
from intentflow.items.base import ItemStore
from intentflow.state.base import StateStore, TrendingStore
from intentflow.stream.scoring import Scorer
from intentflow.stream.trending import Hit, hit

log = logging.getLogger(__name__)


def person_of(event: Mapping[str, Any], aliases: Mapping[str, str] | None = None) -> str | None:
    """Whom an event belongs to online: its user id, else the user its anonymous id is linked
    to (in ``aliases``), else its anonymous id."""
    user, anonymous = event.get("user_id"), event.get("anonymous_id")
    if user:
        return str(user)
    if not anonymous:
        return None
    return (aliases or {}).get(anonymous) or str(anonymous)


@dataclass(frozen=True)
class Applied:
    """What one batch did."""

    events: int
    """Events applied to people's state."""
    people: int
    late: int
    """Events behind the watermark: in the lake, not in the online state."""
    repeated: int
    """Events the state already held (redelivered after a crash, or repeated in the batch)."""
    scored: int = 0
    """People whose intent was scored again."""


class Processor:
    """Applies batches of events to people's online state (see the module's doc)."""

    def __init__(
        self,
        store: StateStore,
        *,
        lateness_s: float = 60.0,
        trending: TrendingStore | None = None,
        scorer: Scorer | None = None,
        items: ItemStore | None = None,
    ):
        if lateness_s > store.catalog.slack_s:
            raise ValueError(
                f"a lateness of {lateness_s} s needs a catalog whose sessions wait as long "
                f"(its slack_s is {store.catalog.slack_s})"
            )
        self.store = store
        self.trending = trending
        self.scorer = scorer
        self.items = items
        """The item catalog, told of the items events name (after the states are written)."""
        self.lateness_us = int(lateness_s * MICROS)
        self.positions = store.positions()
        """The position the stored state includes, per source partition."""
        self.latest_us: int | None = None
        """The latest event time seen."""
        self.late = 0
        self._unsure = False
        """Whether the last batch failed: its write may have happened all the same (a reply
        lost on the way back), so the stored positions are read again before the next one."""

    def resume(self, positions: Mapping[str, int]) -> None:
        """Skip what ``positions`` include too (a source's own record of what was applied, for a
        store that starts empty)."""
        for partition, offset in positions.items():
            self.positions[partition] = max(offset, self.positions.get(partition, -1))

    def reload(self) -> None:
        """Read the stored positions again: another processor may have moved some in a shared
        store before this one took their partitions over."""
        self.resume(self.store.positions())

    def _links(
        self, events: Sequence[Mapping[str, Any]]
    ) -> tuple[dict[str, str], dict[str, str], list[str]]:
        """The users the anonymous ids of ``events`` are linked to (an event with both ids links
        them, the latest link wins, ties by message id, as in the batch features; else the
        store's link); the links to write (every link these events use: a link is kept as long
        as its id is in use); and the anonymous ids these events link anew (to a user, or to
        another one), whose own state moves to that user."""
        linked: dict[str, str] = {}
        marks: dict[str, tuple[int, str]] = {}
        alone: set[str] = set()
        for event in events:
            anonymous, user = event.get("anonymous_id"), event.get("user_id")
            if anonymous and user:
                mark = (int(event["us"]), str(event["message_id"]))
                if mark >= marks.get(str(anonymous), mark):
                    marks[str(anonymous)], linked[str(anonymous)] = mark, str(user)
            elif anonymous:
                alone.add(str(anonymous))
        if not linked and not alone:
            return {}, {}, []
        known = self.store.aliases(sorted(alone | set(linked)))
        moved = [a for a, user in linked.items() if known.get(a) != user and a != user]
        links = {**known, **linked}
        written = {a: links[a] for a in [*linked, *(a for a in alone if a in links)]}
        return links, written, moved

    @property
    def watermark_us(self) -> int | None:
        """Events before this time are late: the latest event time seen minus the lateness."""
        return None if self.latest_us is None else self.latest_us - self.lateness_us

    def process(self, events: Sequence[Mapping[str, Any]]) -> Applied:
        """Apply a batch; each event has ``us`` (event time, epoch microseconds), ``type``,
        ``message_id``, ``partition`` and ``offset``, and the lake's columns. A batch that
        raises (the store unreachable, or a person another processor wrote meanwhile:
        :class:`~intentflow.state.base.StateConflictError`) can be given again."""
        if self._unsure:
            self.reload()
        self._unsure = True
        applied = self._apply(events)
        self._unsure = False
        return applied

    def _apply(self, events: Sequence[Mapping[str, Any]]) -> Applied:
        fresh, seen, reached = [], set(), dict(self.positions)
        repeated = late = 0
        for event in events:
            partition, offset = str(event["partition"]), int(event["offset"])
            if offset <= self.positions.get(partition, -1):
                repeated += 1
                continue
            # the position covers every event delivered, repeats included: a repeat at the
            # batch's last offset must not come back after a restart without its first copy
            reached[partition] = max(reached.get(partition, -1), offset)
            if event["message_id"] in seen:
                repeated += 1
                continue
            seen.add(event["message_id"])
            fresh.append(event)
        fresh.sort(key=lambda e: int(e["us"]))
        accepted: list[Mapping[str, Any]] = []
        hits: list[Hit] = []
        latest = self.latest_us
        for event in fresh:
            us = int(event["us"])
            if latest is not None and us < latest - self.lateness_us:
                late += 1
                continue
            latest = us if latest is None else max(latest, us)
            accepted.append(event)
            if self.trending is not None and (found := hit(event)) is not None:
                hits.append(found)
        links, written, moved = self._links(fresh)  # a late login links all the same
        by_person: dict[str, list[Mapping[str, Any]]] = {}
        for event in accepted:
            person = person_of(event, links)
            if person is not None:
                by_person.setdefault(person, []).append(event)
        held = self.store.get_many([*by_person, *moved])
        changed = {}
        for anonymous in moved:  # their history becomes their user's
            own = held.pop(anonymous, None)
            if own is not None:
                user = links[anonymous]
                into = changed[user] = held.setdefault(user, OnlinePerson(self.store.catalog))
                into.absorb(own)
        for person, own_events in by_person.items():
            state = held.get(person) or OnlinePerson(self.store.catalog)
            for event in own_events:
                state.update(event)
            changed[person] = state
        scored = 0
        if self.scorer is not None and changed and latest is not None:
            scored = self.scorer.score(changed, latest + 1)
        updates = {p: o for p, o in reached.items() if o != self.positions.get(p)}
        self.store.commit(changed, updates, self.trending, hits, links=written, gone=moved)
        # what follows the write cannot undo it: nothing before it moved
        self.positions, self.latest_us = reached, latest
        if self.items is not None and accepted:
            try:
                self.items.observe(accepted)
            except Exception as exc:  # the batch is applied: it must not come again
                log.error("cannot tell the item catalog of %d events: %s", len(accepted), exc)
        self.late += late
        applied = sum(len(own) for own in by_person.values())
        return Applied(applied, len(changed), late, repeated, scored)
