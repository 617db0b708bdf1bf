"""The catalog's features updated per event: the same definitions as the batch query, online.

Each feature kind of :mod:`intentflow.features.kinds` that aggregates a person's events has an
online state here, built from the feature itself (its types, window and column), so there is no
second list of features:

- ``Count`` and ``Sum``: a running total; over an exact window (15 minutes, 1 hour) a queue of the
  events inside it; over a bucketed window (24 hours and longer) one total per time bucket, cut
  exactly as the batch query cuts them, so both agree to the event;
- ``Distinct``: each value's latest time, oldest first, forgotten once it leaves the window;
- ``DaysSince``: the latest (or first) time of a matching event;
- ``SessionAggregate``: the person's sessions, each summed up
  (:mod:`intentflow.features.online_sessions`);
- ``Ranked``: per value of its key (a column, or the hour or weekday of the event), its count in
  the window's time buckets, as for counts; read most frequent first;
- ``Ratio`` and ``Trend``: computed from the features they divide, when those are online.

An update costs O(1) amortized (what slides out of a window is dropped once) and the memory is
bounded by the window. Reads happen at the current time: a state read at ``T`` forgets what lies
before ``T``'s window, so reads must not go back in time. Events may arrive out of order: every
state places a late event where it belongs.

Features over the whole population (quantile scores) are not online (:func:`online_features`
lists those that are).

>>> from intentflow.features.kinds import HOUR, Count
>>> views = Count(name="views_1h", description="", types=("product_view",), window=HOUR)
>>> person = OnlinePerson([views])
>>> for minute in (0, 30, 70):
...     person.update({"type": "product_view", "us": minute * 60 * MICROS})
>>> person.values(71 * 60 * MICROS)["views_1h"]  # the view at minute 0 has left the hour
2
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final, Protocol

from intentflow.features.catalog import FEATURES
from intentflow.features.kinds import (
    DAY_US,
    HELD_MAX,
    MICROS,
    OFF_SITE,
    SESSION_GAP_S,
    Count,
    DaysSince,
    Distinct,
    Feature,
    Ranked,
    Ratio,
    SessionAggregate,
    Sum,
    TimePart,
    Trend,
    Window,
)
from intentflow.features.online_items import TYPES as TRAIL_TYPES
from intentflow.features.online_items import ItemTrail
from intentflow.features.online_sessions import SLACK_S, Sessions, is_online
from intentflow.models.intent.reasons import Reason

Value = int | float | None


class State(Protocol):
    """The online state of one feature of one person."""

    def update(self, us: int, value: Any) -> None:
        """Take in one matching event at ``us`` (epoch microseconds) carrying ``value``."""
        ...

    def value(self, cutoff_us: int) -> Value:
        """The feature at ``cutoff_us`` (from the events before it)."""
        ...

    def merge(self, other: Any) -> None:
        """Take in another person's state of the same feature, as if their events had been
        this person's (an anonymous id's history, once linked to its user)."""
        ...

    def dump(self) -> list[Any]:
        """The state as a flat list of numbers and values (for a compact encoding)."""
        ...

    def load(self, data: list[Any]) -> None:
        """Restore what :meth:`dump` gave."""
        ...


def _deltas(numbers: list[int]) -> list[int]:
    """The first number, then each one's distance from the one before: small numbers, which
    msgpack writes in fewer bytes than the epoch microseconds they stand for."""
    return [b - a for a, b in itertools.pairwise([0, *numbers])]


def _sums(deltas: list[int]) -> list[int]:
    """The numbers :func:`_deltas` came from."""
    return list(itertools.accumulate(deltas))


def _start(window: Window, cutoff_us: int) -> int:
    return window.bounds(cutoff_us)[0]


class Total:
    """Count or sum over all time."""

    def __init__(self, integer: bool):
        self.total: float = 0
        self.integer = integer

    def update(self, us: int, value: Any) -> None:
        self.total += value

    def merge(self, other: Total) -> None:
        self.total += other.total

    def value(self, cutoff_us: int) -> Value:
        return int(self.total) if self.integer else float(self.total)

    def dump(self) -> list[Any]:
        return [self.total]

    def load(self, data: list[Any]) -> None:
        self.total = data[0]


class ExactWindow:
    """Count or sum over an exact window: the events inside it, oldest first."""

    def __init__(self, window: Window, integer: bool):
        self.window, self.integer = window, integer
        self.events: deque[tuple[int, float]] = deque()
        self.total: float = 0

    def update(self, us: int, value: Any) -> None:
        if not self.events or us >= self.events[-1][0]:
            self.events.append((us, value))
        else:  # late: put it in its place
            at = bisect.bisect_right([t for t, _ in self.events], us)
            self.events.insert(at, (us, value))
        self.total += value
        if len(self.events) > HELD_MAX:
            self.total -= self.events.popleft()[1]

    def merge(self, other: ExactWindow) -> None:
        self.events = deque(sorted([*self.events, *other.events])[-HELD_MAX:])
        self.total = sum(v for _, v in self.events)

    def value(self, cutoff_us: int) -> Value:
        start = _start(self.window, cutoff_us)
        while self.events and self.events[0][0] < start:
            self.total -= self.events.popleft()[1]
        return round(self.total) if self.integer else float(self.total)

    def dump(self) -> list[Any]:
        times = _deltas([us for us, _ in self.events])
        if self.integer and all(v == 1 for _, v in self.events):  # a count: times are enough
            return [0, *times]
        return [1, *times, *(v for _, v in self.events)]

    def load(self, data: list[Any]) -> None:
        if data[0] == 0:
            times, values = _sums(data[1:]), [1] * (len(data) - 1)
        else:
            half = (len(data) - 1) // 2
            times, values = _sums(data[1 : 1 + half]), data[1 + half :]
        self.events = deque(zip(times, values, strict=True))
        self.total = sum(values)


class BucketedWindow:
    """Count or sum over a bucketed window: one total per time bucket, oldest first."""

    def __init__(self, window: Window, integer: bool):
        self.window, self.integer = window, integer
        self.bucket = window.bucket_seconds * MICROS
        self.keys: list[int] = []
        self.sums: dict[int, float] = {}

    def update(self, us: int, value: Any) -> None:
        key = us // self.bucket
        if key not in self.sums:
            if not self.keys or key > self.keys[-1]:
                self.keys.append(key)
            else:
                bisect.insort(self.keys, key)
            self.sums[key] = 0
        self.sums[key] += value

    def merge(self, other: BucketedWindow) -> None:
        for key, value in other.sums.items():
            self.sums[key] = self.sums.get(key, 0) + value
        self.keys = sorted(self.sums)

    def value(self, cutoff_us: int) -> Value:
        start, end = self.window.bounds(cutoff_us)
        first = start // self.bucket
        gone = bisect.bisect_left(self.keys, first)
        for key in self.keys[:gone]:
            del self.sums[key]
        del self.keys[:gone]
        last = bisect.bisect_left(self.keys, -(-end // self.bucket))  # buckets before ``end``
        total = sum(self.sums[k] for k in self.keys[:last])
        return round(total) if self.integer else float(total)

    def dump(self) -> list[Any]:
        return [*_deltas(self.keys), *(self.sums[key] for key in self.keys)]

    def load(self, data: list[Any]) -> None:
        half = len(data) // 2
        self.keys = _sums(data[:half])
        self.sums = dict(zip(self.keys, data[half:], strict=True))


class DistinctValues:
    """Distinct values in a window: each value's latest time, oldest first. Over a bucketed
    window, whose start is always a bucket's, the time is kept as the bucket's number (a small
    number apart from the next one, where microseconds take several bytes)."""

    def __init__(self, window: Window | None):
        self.window = window
        self.step = window.bucket_seconds * MICROS if window and window.aligned else 1
        self.latest: OrderedDict[Any, int] = OrderedDict()
        self.unordered = False

    def update(self, us: int, value: Any) -> None:
        if value is None:
            return
        us //= self.step
        before = self.latest.get(value)
        if before is not None and before >= us:
            return
        newest = next(reversed(self.latest.values()), None) if self.latest else None
        self.latest[value] = us
        self.latest.move_to_end(value)
        if newest is not None and us < newest:
            self.unordered = True
        if len(self.latest) > HELD_MAX:
            if self.unordered:
                self.latest = OrderedDict(sorted(self.latest.items(), key=lambda kv: kv[1]))
                self.unordered = False
            self.latest.popitem(last=False)

    def merge(self, other: DistinctValues) -> None:
        latest = dict(self.latest)
        for value, at in other.latest.items():
            if at > latest.get(value, at - 1):
                latest[value] = at
        ordered = sorted(latest.items(), key=lambda kv: kv[1])[-HELD_MAX:]
        self.latest, self.unordered = OrderedDict(ordered), False

    def value(self, cutoff_us: int) -> Value:
        if self.window is None:
            return len(self.latest)
        if self.unordered:  # a late event: sort once, then slide again
            self.latest = OrderedDict(sorted(self.latest.items(), key=lambda kv: kv[1]))
            self.unordered = False
        start = _start(self.window, cutoff_us) // self.step
        while self.latest and next(iter(self.latest.values())) < start:
            self.latest.popitem(last=False)
        return len(self.latest)

    def dump(self) -> list[Any]:
        return [*_pack(list(self.latest)), *_deltas(list(self.latest.values()))]

    def load(self, data: list[Any]) -> None:
        values, at = _unpack(data)
        times = _sums(data[at:])
        self.latest = OrderedDict(zip(values, times, strict=True))
        self.unordered = any(a > b for a, b in itertools.pairwise(times))


def _pack(values: list[Any]) -> list[Any]:
    """Values in fewer bytes: strings that share a beginning (``sku-00``) as that beginning once
    and the rest of each, the rest as a number where every rest is a plain decimal number.
    Returns ``[how many, beginning (None: the values as they are), numbers?, *rests]``.

    >>> _pack(["sku-001203", "sku-005881"])
    [2, 'sku-00', True, 1203, 5881]
    >>> _unpack(_pack(["sku-001203", "sku-005881"]) + [7])
    (['sku-001203', 'sku-005881'], 5)
    """
    if not values or not all(isinstance(v, str) for v in values):
        return [len(values), None, False, *values]
    beginning = os.path.commonprefix(values)  # noqa: RUF071 (characters, not path parts)
    rests = [v[len(beginning) :] for v in values]
    if all(_plain_number(r) for r in rests):
        return [len(values), beginning, True, *map(int, rests)]
    return [len(values), beginning, False, *rests]


def _plain_number(text: str) -> bool:
    """Whether ``text`` is a decimal number written plainly (no sign, no leading zero) that
    msgpack stores as an integer."""
    return text.isascii() and text.isdigit() and len(text) <= 18 and (text == "0" or text[0] != "0")


def _unpack(data: list[Any]) -> tuple[list[Any], int]:
    """The values :func:`_pack` packed at the head of ``data``, and where the rest begins."""
    count, beginning, numbers = data[0], data[1], data[2]
    packed = data[3 : 3 + count]
    if beginning is None:
        return packed, 3 + count
    return [beginning + (str(r) if numbers else r) for r in packed], 3 + count


class ExactCounts:
    """How many events of each type lie in each exact window (15 minutes, 1 hour): one state that
    every count of these windows reads (``events_15m``, ``add_to_carts_1h``...), so an event is
    held once, not once per window or per count. It keeps the events of the longest window,
    oldest first, and for each window where it begins among them and its totals per type.

    Reads move forward in time: a window's start never goes back, and an event that arrives
    late, before a window's last start, is placed in the queue and left out of that window.
    Events that come in order are only appended; the next read adds them to the totals (a read
    is far rarer than an event)."""

    def __init__(self, windows: Sequence[Window]):
        self.windows = sorted(windows, key=lambda w: -w.seconds)
        self.events: list[tuple[int, str]] = []
        self.first = [0] * len(self.windows)
        """Where each window begins in ``events`` (the longest first, so ``first[0]`` is least)."""
        self.starts: list[int | None] = [None] * len(self.windows)
        self.totals: list[dict[str, int]] = [{} for _ in self.windows]
        self.seen = 0
        """The events before this place are in the totals; those after it are not yet."""

    def update(self, us: int, kind: Any) -> None:
        events = self.events
        if not events or us >= events[-1][0]:
            events.append((us, kind))
        else:
            at = bisect.bisect_right(events, us, lo=self.first[0], key=_time)
            events.insert(at, (us, kind))
            if at < self.seen:  # among the events counted: count it now
                self.seen += 1
                for i, start in enumerate(self.starts):
                    if start is not None and us < start and at <= self.first[i]:
                        self.first[i] += 1  # before the window: at its edge
                    else:  # in it, or among counted events the window drops when it slides
                        totals = self.totals[i]
                        totals[kind] = totals.get(kind, 0) + 1
        if len(events) - self.first[0] > HELD_MAX:
            self._count_new()
            self._drop_oldest()

    def _count_new(self) -> None:
        """Add the events appended since the last read to every window's totals (a window they
        are before drops them again as it slides)."""
        if self.seen == len(self.events):
            return
        new: dict[str, int] = {}
        for _, kind in self.events[self.seen :]:
            new[kind] = new.get(kind, 0) + 1
        for totals in self.totals:
            for kind, n in new.items():
                totals[kind] = totals.get(kind, 0) + n
        self.seen = len(self.events)

    def _drop_oldest(self) -> None:
        oldest = self.first[0]
        kind = self.events[oldest][1]
        for i, first in enumerate(self.first):
            if first == oldest:
                self.totals[i][kind] -= 1
                self.first[i] = oldest + 1
        self._compact()

    def _compact(self) -> None:
        gone = self.first[0]
        if gone > 32 and 2 * gone > len(self.events):
            del self.events[:gone]
            self.first = [f - gone for f in self.first]
            self.seen -= gone

    def counts(self, cutoff_us: int) -> dict[str, dict[str, int]]:
        """Per window (by name), the events per type in it at ``cutoff_us``."""
        self._count_new()
        events = self.events
        out = {}
        for i, window in enumerate(self.windows):
            start = window.bounds(cutoff_us)[0]
            before = self.starts[i]
            if before is not None and before > start:
                start = before
            self.starts[i] = start
            totals, at = self.totals[i], self.first[i]
            while at < len(events) and events[at][0] < start:
                totals[events[at][1]] -= 1
                at += 1
            self.first[i] = at
            out[window.name] = totals
        self._compact()
        return out

    def value(self, cutoff_us: int) -> Value:
        """All events in the longest window."""
        return sum(self.counts(cutoff_us)[self.windows[0].name].values())

    def dump(self) -> list[Any]:
        held = self.events[self.first[0] :]
        code, out = _kinds_dump({k for _, k in held})
        return [*out, *_deltas([us for us, _ in held]), *(code[k] for _, k in held)]

    def load(self, data: list[Any]) -> None:
        kinds, at = _kinds_load(data)
        half = (len(data) - at) // 2
        times = _sums(data[at : at + half])
        self._hold(list(zip(times, (kinds[c] for c in data[at + half :]), strict=True)))

    def merge(self, other: ExactCounts) -> None:
        mine, theirs = self.events[self.first[0] :], other.events[other.first[0] :]
        self._hold(sorted(mine + theirs, key=_time)[-HELD_MAX:])

    def _hold(self, events: list[tuple[int, str]]) -> None:
        """Hold ``events`` (in time order), none read yet."""
        self.events = events
        self.seen = len(self.events)
        self.first = [0] * len(self.windows)
        self.starts = [None] * len(self.windows)
        totals: dict[str, int] = {}
        for _, kind in self.events:
            totals[kind] = totals.get(kind, 0) + 1
        self.totals = [dict(totals) for _ in self.windows]


def _kinds_dump(kinds: set[Any], typed: bool = True) -> tuple[dict[Any, int], list[Any]]:
    """The event types (or, not ``typed``, the values) a counts state holds, numbered in it:
    ``(number of each, the head of its dump: how many, then each type by its stored number or,
    if it has none, by name; values as they are)``."""
    ordered = sorted(kinds)
    return {k: i for i, k in enumerate(ordered)}, [
        len(ordered),
        *((TYPE_CODES.get(k, k) for k in ordered) if typed else ordered),
    ]


def _kinds_load(data: list[Any], typed: bool = True) -> tuple[list[Any], int]:
    """The types (or values) :func:`_kinds_dump` wrote at the head of ``data``, and where the
    rest begins."""
    head = data[1 : 1 + data[0]]
    kinds = [TYPE_NAMES[k] if isinstance(k, int) else k for k in head] if typed else head
    return kinds, 1 + data[0]


def _time(event: tuple[int, str]) -> int:
    return event[0]


class WindowCounts:
    """How many events of each type lie in bucketed windows of one bucket size (24 hours; 7 and
    30 days and the week before last...): one state that every count of these windows reads,
    with a count per type and time bucket, the buckets of the window that reaches furthest back,
    oldest first. Windows that end at the cutoff keep running totals; a window that ends earlier
    (the week before last) sums its buckets when read. Reads move forward in time, as for
    :class:`ExactCounts`, and events inside every window are added to the totals at the next
    read."""

    typed = True
    """Whether the kinds counted are event types (stored by number)."""

    def __init__(self, windows: Sequence[Window]):
        self.windows = sorted(windows, key=lambda w: -(w.seconds + w.offset_seconds))
        self.bucket = self.windows[0].bucket_seconds * MICROS
        self.keys: list[int] = []
        self.buckets: dict[int, dict[str, int]] = {}
        self.first = [0] * len(self.windows)
        """Where each window begins in ``keys``."""
        self.starts: list[int | None] = [None] * len(self.windows)
        """Each window's first bucket at its last read."""
        self.totals: list[dict[str, int]] = [{} for _ in self.windows]
        """Per window ending at the cutoff, its events per type."""
        self.new: dict[str, int] = {}
        """Events per type since the last read, inside every window: not in the totals yet."""
        self.edge: int | None = None
        """The latest start of a window at the last read."""

    def update(self, us: int, kind: Any) -> None:
        key = us // self.bucket
        counts = self.buckets.get(key)
        if counts is None:
            counts = self.buckets[key] = {}
            if not self.keys or key > self.keys[-1]:
                self.keys.append(key)
            else:
                bisect.insort(self.keys, key)
            for i, start in enumerate(self.starts):
                if start is not None and key < start:  # at the window's edge, outside it
                    self.first[i] += 1
        counts[kind] = counts.get(kind, 0) + 1
        if self.edge is None or key >= self.edge:
            self.new[kind] = self.new.get(kind, 0) + 1
            return
        for i, window in enumerate(self.windows):  # late, before some window: count it now
            start = self.starts[i]
            if not window.offset_seconds and (start is None or key >= start):
                totals = self.totals[i]
                totals[kind] = totals.get(kind, 0) + 1

    def counts(self, cutoff_us: int) -> dict[str, dict[str, int]]:
        """Per window (by name), the events per type in it at ``cutoff_us``."""
        keys, buckets, out = self.keys, self.buckets, {}
        if self.new:
            for i, window in enumerate(self.windows):
                if not window.offset_seconds:
                    totals = self.totals[i]
                    for kind, n in self.new.items():
                        totals[kind] = totals.get(kind, 0) + n
            self.new = {}
        for i, window in enumerate(self.windows):
            begin, end = window.bounds(cutoff_us)
            start = begin // self.bucket
            before = self.starts[i]
            if before is not None and before > start:
                start = before
            self.starts[i] = start
            at = self.first[i]
            if window.offset_seconds:
                at = bisect.bisect_left(keys, start, lo=at)
                held: dict[str, int] = {}
                for key in keys[at : bisect.bisect_left(keys, -(-end // self.bucket), lo=at)]:
                    for kind, n in buckets[key].items():
                        held[kind] = held.get(kind, 0) + n
                out[window.name] = held
            else:
                totals = self.totals[i]
                while at < len(keys) and keys[at] < start:
                    for kind, n in buckets[keys[at]].items():
                        totals[kind] -= n
                    at += 1
                out[window.name] = totals
            self.first[i] = at
        self.edge = max(s for s in self.starts if s is not None)
        gone = min(self.first)
        if gone:
            for key in keys[:gone]:
                del buckets[key]
            del keys[:gone]
            self.first = [f - gone for f in self.first]
        return out

    def value(self, cutoff_us: int) -> Value:
        """All events in the window that reaches furthest back."""
        return sum(self.counts(cutoff_us)[self.windows[0].name].values())

    def by_part(self, ranking: Ranked, cutoff_us: int) -> list[tuple[Any, int]]:
        """``ranking`` (of a time part constant within a bucket, over every type) at
        ``cutoff_us``, from the buckets in its window."""
        assert ranking.window is not None and isinstance(ranking.key, TimePart)
        begin, end = ranking.window.bounds(cutoff_us)
        keys, part = self.keys, ranking.key
        at = bisect.bisect_left(keys, begin // self.bucket)
        stop = bisect.bisect_left(keys, -(-end // self.bucket), lo=at)
        counted: dict[int, int] = {}
        for key in keys[at:stop]:
            value = part.of(key * self.bucket)
            counted[value] = counted.get(value, 0) + sum(self.buckets[key].values())
        return _ranked(counted)

    def dump(self) -> list[Any]:
        code, out = _kinds_dump({k for c in self.buckets.values() for k in c}, self.typed)
        out += [len(self.keys), *_deltas(self.keys)]
        for key in self.keys:
            counts = self.buckets[key]
            out += [len(counts), *(x for k, n in counts.items() for x in (code[k], n))]
        return out

    def load(self, data: list[Any]) -> None:
        kinds, at = _kinds_load(data, self.typed)
        keys = _sums(data[at + 1 : at + 1 + data[at]])
        at += 1 + data[at]
        buckets = {}
        for key in keys:
            pairs = data[at + 1 : at + 1 + 2 * data[at]]
            buckets[key] = {kinds[c]: n for c, n in zip(pairs[::2], pairs[1::2], strict=True)}
            at += 1 + 2 * data[at]
        self._hold(buckets)

    def merge(self, other: WindowCounts) -> None:
        buckets = {key: dict(counts) for key, counts in self.buckets.items()}
        for key, counts in other.buckets.items():
            mine = buckets.setdefault(key, {})
            for kind, n in counts.items():
                mine[kind] = mine.get(kind, 0) + n
        self._hold(buckets)

    def _hold(self, buckets: dict[int, dict[Any, int]]) -> None:
        """Hold ``buckets``, none read yet."""
        self.keys, self.buckets = sorted(buckets), buckets
        totals: dict[Any, int] = {}
        for counts in buckets.values():
            for kind, n in counts.items():
                totals[kind] = totals.get(kind, 0) + n
        self.first = [0] * len(self.windows)
        self.starts = [None] * len(self.windows)
        self.totals = [{} if window.offset_seconds else dict(totals) for window in self.windows]
        self.new, self.edge = {}, None


def _ranked(counts: Mapping[Any, int]) -> list[tuple[Any, int]]:
    """Values with their counts, most frequent first (ties: smallest value first)."""
    return sorted(((v, n) for v, n in counts.items() if n > 0), key=lambda vn: (-vn[1], vn[0]))


def _rank_into(
    out: dict[str, Value], features: list[Ranked], ranked: list[tuple[Any, int]]
) -> None:
    """Each ranking feature's value or share from ``ranked`` (see :func:`_ranked`)."""
    total = sum(n for _, n in ranked)
    for f in features:
        if f.rank <= len(ranked):
            value, n = ranked[f.rank - 1]
            out[f.name] = value if f.column == "value" else n / total


class RankCounts(WindowCounts):
    """A ranking's counts: how many events of each value of its key (a column's value, or a
    part of the event's time) lie in its bucketed window; its features read the values most
    frequent first."""

    typed = False

    def __init__(self, feature: Ranked):
        assert feature.window is not None  # online rankings are over bucketed windows
        super().__init__([feature.window])
        self.part = feature.key if isinstance(feature.key, TimePart) else None

    def update(self, us: int, kind: Any) -> None:
        super().update(us, self.part.of(us) if self.part is not None else kind)

    def ranked(self, cutoff_us: int) -> list[tuple[Any, int]]:
        """The values with their counts at ``cutoff_us``, most frequent first (ties: smallest
        value first)."""
        return _ranked(self.counts(cutoff_us)[self.windows[0].name])


class Moment:
    """Days from the latest (or first) matching event to the cutoff."""

    def __init__(self, first: bool):
        self.first = first
        self.us: int | None = None

    def update(self, us: int, value: Any) -> None:
        if self.us is None or (us < self.us if self.first else us > self.us):
            self.us = us

    def merge(self, other: Moment) -> None:
        if other.us is not None:
            self.update(other.us, 1)

    def value(self, cutoff_us: int) -> Value:
        return None if self.us is None else (cutoff_us - self.us) / DAY_US

    def dump(self) -> list[Any]:
        return [self.us]

    def load(self, data: list[Any]) -> None:
        self.us = data[0]


def online_features(features: Sequence[Feature] = FEATURES) -> list[Feature]:
    """The features of ``features`` that have an online state, in catalog order: the event
    and session aggregates, and the ratios and trends of online features."""
    known = {
        f.name
        for f in features
        if isinstance(f, Count | Sum | Distinct | DaysSince)
        or (isinstance(f, SessionAggregate) and is_online(f))
        or (isinstance(f, Ranked) and _rankable(f))
    }
    return [
        f
        for f in features
        if f.name in known
        or (isinstance(f, Ratio) and {f.numerator, f.denominator} <= known)
        or (isinstance(f, Trend) and {f.recent, f.before} <= known)
    ]


def _rankable(feature: Ranked) -> bool:
    """Whether a ranking is kept online: over a bucketed window, of a column or a time part."""
    key = feature.key
    window = feature.window
    return (
        window is not None
        and window.bucket_seconds > 0
        and (isinstance(key, TimePart) or key.isidentifier())
    )


def _state(feature: Feature) -> State:
    integer = isinstance(feature, Count)
    if isinstance(feature, Count | Sum):
        if feature.window is None:
            return Total(integer)
        if feature.window.bucket_seconds:
            return BucketedWindow(feature.window, integer)
        return ExactWindow(feature.window, integer)
    if isinstance(feature, Distinct):
        return DistinctValues(feature.window)
    if isinstance(feature, DaysSince):
        return Moment(feature.first)
    raise TypeError(f"{feature.name}: {type(feature).__name__} has no online state")


def _matches(feature: Feature, kind: str) -> bool:
    types: tuple[str, ...] = getattr(feature, "types", ())
    if types and kind not in types:
        return False
    return not (isinstance(feature, DaysSince) and kind in feature.except_types)


Step = tuple[str, str | None, bool]
"""How an event reaches one state: the state's key, the column it reads (None: the event counts
1; :data:`EVENT`: the whole event) and whether a missing value counts as 0.0 (sums) rather than
not at all."""

EVENT: Final = "*"

TYPE_NAMES: Final = (
    "page_view",
    "product_view",
    "click",
    "scroll",
    "add_to_cart",
    "remove_from_cart",
    "add_to_wishlist",
    "purchase",
    "search",
    "email_open",
    "email_click",
    "identify",
    "custom",
)
"""Event types by the number that stands for them in stored states. Append only: states in
Redis outlive a deployment. A type not listed is stored by its name."""
TYPE_CODES: Final = {name: i for i, name in enumerate(TYPE_NAMES)}

STORED_FORMAT: Final = 2
"""The version of the states' encoding; a change to any ``dump`` moves it."""

GROUP = "#"
"""The prefix of the keys of states that several features read (no feature name starts with it)."""
EXACT = "exact"
SESSIONS: Final = GROUP + "sessions"


def _step(feature: Feature) -> Step:
    if isinstance(feature, Count | DaysSince):
        return feature.name, None, False
    return feature.name, feature.column, isinstance(feature, Sum)  # type: ignore[attr-defined]


class Catalog:
    """The online features, with what each event type updates and the values of no events:
    shared by every person."""

    def __init__(
        self, features: Sequence[Feature], gap_s: int = SESSION_GAP_S, slack_s: float = SLACK_S
    ):
        self.features = list(features)
        self.gap_s = gap_s
        """The inactivity that starts a new visit (the batch features' ``session_gap_s``)."""
        self.slack_s = slack_s
        """How late an event may come and still take its place in the sessions (at least the
        stream's ``lateness_s``)."""
        self.ratios = [
            (f.name, f.numerator, f.denominator) for f in self.features if isinstance(f, Ratio)
        ]
        self.trends = [(f.name, f.recent, f.before) for f in self.features if isinstance(f, Trend)]
        self.sessions = [f for f in self.features if isinstance(f, SessionAggregate)]
        """The session features, which read one :class:`Sessions` state."""
        self.rankings: dict[str, list[Ranked]] = {}
        """The ranking features by their ranking's state key: one :class:`RankCounts` each."""
        for f in self.features:
            if isinstance(f, Ranked):
                self.rankings.setdefault(GROUP + f.ranking, []).append(f)
        aggregates = [
            f for f in self.features if not isinstance(f, Ratio | Trend | SessionAggregate | Ranked)
        ]
        self.empty: dict[str, Value] = (
            {
                f.name: _state(f).value(0) if not isinstance(f, DaysSince) else None
                for f in aggregates
            }
            | {f.name: None for f in self.sessions}
            | {f.name: None for ranked in self.rankings.values() for f in ranked}
        )
        self.aggregates = aggregates
        self.windows: dict[str, list[Window]] = {}
        """The windows whose counts share one state (by the state's key): all exact windows share
        one :class:`ExactCounts`, the bucketed ones of one bucket size one :class:`WindowCounts`."""
        self.counted: dict[str, tuple[str, str, tuple[str, ...]]] = {}
        """Each grouped count: its state's key, its window's name and the types it counts."""
        for f in aggregates:
            if isinstance(f, Count) and f.window is not None:
                bucket = f.window.bucket_seconds
                key = GROUP + (f"{bucket}s" if bucket else EXACT)
                held = self.windows.setdefault(key, [])
                if f.window not in held:
                    held.append(f.window)
                self.counted[f.name] = (key, f.window.name, f.types)
        self.sums: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        """The grouped counts as :meth:`OnlinePerson.values` reads them: by window's name, each
        count's name and types."""
        for name, (_, window, types) in self.counted.items():
            self.sums.setdefault(window, []).append((name, types))
        self.read_from = {
            key: group
            for key, (first, *_) in self.rankings.items()
            if (group := self._counts_holding(first)) is not None
        }
        """Rankings of the hour or weekday read from the event counts of their window's buckets
        (a bucket's time tells its hour and weekday), by ranking: the counts' state key."""
        keys = [f.name for f in aggregates if f.name not in self.counted] + list(self.windows)
        if self.sessions:
            keys.append(SESSIONS)
        keys += [key for key in self.rankings if key not in self.read_from]
        self.index = {key: i for i, key in enumerate(keys)}
        """Each state's number, which stands for its name in the compact encoding."""
        self.keys = keys
        self._routes: dict[str, list[Step]] = {}

    _cache: dict[tuple[object, ...], Catalog] = {}

    @classmethod
    def of(
        cls, features: Sequence[Feature], gap_s: int = SESSION_GAP_S, slack_s: float = SLACK_S
    ) -> Catalog:
        """The catalog of ``features`` (one per list of features, gap and slack, shared)."""
        key = (gap_s, slack_s, *(f.definition() for f in features))
        if key not in cls._cache:
            cls._cache[key] = cls(features, gap_s, slack_s)
        return cls._cache[key]

    def route(self, kind: str) -> list[Step]:
        """How an event of type ``kind`` reaches each state it updates."""
        route = self._routes.get(kind)
        if route is None:
            route = [
                _step(f)
                for f in self.aggregates
                if f.name not in self.counted and _matches(f, kind)
            ]
            for key in self.windows:  # a window's counts keep the types any of them reads
                wanted = [t for k, _, t in self.counted.values() if k == key]
                if any(not types or kind in types for types in wanted):
                    route.append((key, "type", False))
            if self.sessions and kind not in OFF_SITE:
                route.append((SESSIONS, EVENT, False))
            for key, (first, *_) in self.rankings.items():
                if key in self.read_from:
                    continue
                if not first.types or kind in first.types:
                    column = None if isinstance(first.key, TimePart) else first.key
                    route.append((key, column, False))
            self._routes[kind] = route
        return route

    def state(self, key: str) -> State:
        """A new, empty state for ``key`` (a feature's name, or a window's counts)."""
        if key == SESSIONS:
            return Sessions(self.sessions, self.gap_s, self.slack_s)
        if key in self.rankings:
            return RankCounts(self.rankings[key][0])
        windows = self.windows.get(key)
        if windows is not None:
            return WindowCounts(windows) if windows[0].bucket_seconds else ExactCounts(windows)
        return _state(self.aggregates[self.by_name[key]])

    def _counts_holding(self, ranking: Ranked) -> str | None:
        """The key of the event counts that hold what ``ranking`` counts, if some do: it ranks a
        time part constant within their buckets, over every event type, in a window they keep."""
        window, part = ranking.window, ranking.key
        if not isinstance(part, TimePart) or ranking.types or window is None:
            return None
        bucket = window.bucket_seconds
        group = GROUP + f"{bucket}s"
        held = self.windows.get(group)
        return (
            group
            if held is not None
            and bucket
            and part.span_s % bucket == 0
            and not window.offset_seconds
            and max(w.seconds + w.offset_seconds for w in held) >= window.seconds
            and any(not types for key, _, types in self.counted.values() if key == group)
            else None
        )

    def keys_for(self, names: Iterable[str]) -> frozenset[str]:
        """The keys of the states that :meth:`OnlinePerson.values` reads for the features
        ``names`` (unknown names read none)."""
        rankings = {f.name: key for key, ranked in self.rankings.items() for f in ranked}
        sessions = {f.name for f in self.sessions}
        parts = {name: (a, b) for name, a, b in [*self.ratios, *self.trends]}
        wanted, keys = list(names), set[str]()
        while wanted:
            name = wanted.pop()
            if name in parts:  # a ratio or trend reads the features it divides
                wanted += parts[name]
            elif name in self.counted:
                keys.add(self.counted[name][0])
            elif name in self.by_name:
                keys.add(name)
            elif name in sessions:
                keys.add(SESSIONS)
            elif name in rankings:
                keys.add(rankings[name])
                if rankings[name] in self.read_from:
                    keys.add(self.read_from[rankings[name]])
        return frozenset(keys)

    @cached_property
    def version(self) -> str:
        """A short fingerprint of the features and of how their states are stored: a state
        stored under one version is read only by a catalog of the same version."""
        head = f"states {STORED_FORMAT}, gap {self.gap_s}"
        text = "\n".join([head, *(f.definition() for f in self.features)])
        return hashlib.blake2b(text.encode(), digest_size=3).hexdigest()

    @cached_property
    def numbers(self) -> dict[str, int]:
        """Each feature's number (its place in :attr:`features`), which stands for its name in
        stored reasons."""
        return {f.name: i for i, f in enumerate(self.features)}

    @cached_property
    def by_name(self) -> dict[str, int]:
        return {f.name: i for i, f in enumerate(self.aggregates)}


DESCRIPTIONS: Final = {f.name: f.description for f in FEATURES}
"""The words of each catalog feature in reasons."""

SCORE_DIGITS: Final = 6
"""The decimals a score keeps (it is stored as an integer, in fewer bytes than a float)."""
CONTRIBUTION_DIGITS: Final = 2
"""The decimals a reason's contribution keeps (as many as its words show)."""


@dataclass(frozen=True)
class IntentScore:
    """A person's latest intent score: the calibrated probability, the class by the model's
    threshold, the top reasons, when it was scored (epoch microseconds, by the clock of the
    processor) and by which model. It is stored in a few bytes: the score and the contributions
    as integers (:data:`SCORE_DIGITS`, :data:`CONTRIBUTION_DIGITS`), each reason's feature by
    its number in the catalog, and its words made again when read."""

    score: float
    high_intent: bool
    reasons: tuple[Reason, ...]
    scored_at_us: int
    model_version: str

    @classmethod
    def of(
        cls,
        score: float,
        high_intent: bool,
        reasons: Iterable[Reason],
        scored_at_us: int,
        model_version: str,
    ) -> IntentScore:
        """A score rounded as it is stored, its reasons described by the catalog, so that every
        backend gives back the same one."""
        kept = tuple(
            Reason(
                r.feature,
                r.value,
                round(r.contribution, CONTRIBUTION_DIGITS),
                DESCRIPTIONS.get(r.feature, ""),
            )
            for r in reasons
        )
        return cls(round(score, SCORE_DIGITS), high_intent, kept, scored_at_us, model_version)

    def words(self) -> list[str]:
        """The reasons in plain words."""
        return [reason.words() for reason in self.reasons]

    def dump(self, catalog: Catalog) -> list[Any]:
        out = [
            round(self.score * 10**SCORE_DIGITS),
            self.high_intent,
            self.scored_at_us,
            self.model_version,
        ]
        for r in self.reasons:
            value = r.value
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            number = catalog.numbers.get(r.feature)
            out += [r.feature if number is None else number, value]
            out.append(round(r.contribution * 10**CONTRIBUTION_DIGITS))
        return out

    @classmethod
    def load(cls, catalog: Catalog, data: list[Any]) -> IntentScore:
        reasons = []
        for at in range(4, len(data), 3):
            feature = data[at]
            if isinstance(feature, int):
                feature = catalog.features[feature].name
            contribution = data[at + 2] / 10**CONTRIBUTION_DIGITS
            reasons.append(
                Reason(feature, data[at + 1], contribution, DESCRIPTIONS.get(feature, ""))
            )
        score = data[0] / 10**SCORE_DIGITS
        return cls(score, bool(data[1]), tuple(reasons), int(data[2]), str(data[3]))


INTENT = -1
"""The number that stands for the intent score in a person's compact encoding."""

TRAIL = -2
"""The number that stands for the item trail in it."""


class OnlinePerson:
    """One person's online features (see the module's doc), and their latest intent score."""

    __slots__ = ("catalog", "intent", "states", "trail")

    def __init__(self, features: Sequence[Feature] | Catalog):
        self.catalog = features if isinstance(features, Catalog) else Catalog.of(features)
        self.states: dict[str, State] = {}
        """The states of the features this person has events for (the others are empty)."""
        self.intent: IntentScore | None = None
        self.trail: ItemTrail | None = None
        """Their latest items, once they have any (for recommendations)."""

    def update(self, event: Mapping[str, Any]) -> None:
        """Take in one event: a mapping with ``type``, ``us`` (epoch microseconds) and the
        lake's columns the features read (``item_id``, ``category``, ``revenue``...)."""
        us = int(event["us"])
        states, catalog = self.states, self.catalog
        kind = str(event["type"])
        if kind in TRAIL_TYPES:
            if self.trail is None:
                self.trail = ItemTrail()
            self.trail.update(us, event)
        for key, column, zero in catalog.route(kind):
            if column is None:
                carried: Any = 1
            elif column is EVENT:
                carried = event
            else:
                carried = event.get(column)
                if carried is None:
                    if not zero:
                        continue
                    carried = 0.0
                elif zero:
                    carried = float(carried)
            state = states.get(key)
            if state is None:
                state = states[key] = catalog.state(key)
            state.update(us, carried)

    def absorb(self, other: OnlinePerson) -> None:
        """Take in ``other``'s history, as if their events had been this person's: an anonymous
        id's, once an event links it to this user (the batch features count it so too). The
        intent score stays this person's until they are scored again."""
        if other.trail is not None:
            if self.trail is None:
                self.trail = ItemTrail()
            self.trail.merge(other.trail)
        for key, state in other.states.items():
            mine = self.states.get(key)
            if mine is None:
                self.states[key] = state
            else:
                mine.merge(state)

    def dump(self) -> list[Any]:
        """The person's states as one flat list: per state, its feature's number, its length and
        its numbers (encode it with msgpack: a few bytes a number)."""
        out: list[Any] = []
        for name, state in self.states.items():
            data = state.dump()
            out += [self.catalog.index[name], len(data), *data]
        if self.intent is not None:
            data = self.intent.dump(self.catalog)
            out += [INTENT, len(data), *data]
        if self.trail is not None:
            data = self.trail.dump()
            out += [TRAIL, len(data), *data]
        return out

    @classmethod
    def load(cls, catalog: Catalog, data: list[Any]) -> OnlinePerson:
        """A person from :meth:`dump`'s list."""
        person = cls(catalog)
        at = 0
        while at < len(data):
            number, size = data[at], data[at + 1]
            part = data[at + 2 : at + 2 + size]
            if number == INTENT:
                person.intent = IntentScore.load(catalog, part)
            elif number == TRAIL:
                person.trail = ItemTrail()
                person.trail.load(part)
            else:
                key = catalog.keys[number]
                state = person.states[key] = catalog.state(key)
                state.load(part)
            at += 2 + size
        return person

    def values(self, cutoff_us: int, keys: frozenset[str] | None = None) -> dict[str, Value]:
        """Every online feature at ``cutoff_us``; with ``keys``
        (:meth:`Catalog.keys_for`), only the features of those states are read (the others
        keep their values of no events)."""
        catalog = self.catalog
        out: dict[str, Value] = dict(catalog.empty)
        counts: dict[str, dict[str, int]] = {}
        for key, state in self.states.items():
            if keys is not None and key not in keys:
                continue
            if isinstance(state, RankCounts):
                _rank_into(out, catalog.rankings[key], state.ranked(cutoff_us))
            elif isinstance(state, WindowCounts | ExactCounts):
                counts.update(state.counts(cutoff_us))
            elif isinstance(state, Sessions):
                out.update(state.values(cutoff_us))
            else:
                out[key] = state.value(cutoff_us)
        for key, group in catalog.read_from.items():
            if keys is not None and key not in keys:
                continue
            found = self.states.get(group)
            if isinstance(found, WindowCounts):
                first = catalog.rankings[key][0]
                _rank_into(out, catalog.rankings[key], found.by_part(first, cutoff_us))
        for window, named in catalog.sums.items():
            held = counts.get(window)
            if not held:
                continue
            get = held.get
            for name, types in named:
                if len(types) == 1:
                    out[name] = get(types[0], 0)
                else:
                    out[name] = sum([get(t, 0) for t in types] if types else held.values())
        for name, numerator, denominator in catalog.ratios:
            top, bottom = out[numerator], out[denominator]
            out[name] = None if not bottom or top is None else top / bottom
        for name, recent_name, before_name in catalog.trends:
            recent, before = out[recent_name] or 0, out[before_name] or 0
            both = recent + before
            out[name] = (recent - before) / both if both else None
        return out


def replay(
    events: Iterable[Mapping[str, Any]], features: Sequence[Feature] | None = None
) -> dict[str, OnlinePerson]:
    """Everyone's online features after ``events`` (each with a ``person``), in their order."""
    chosen = Catalog.of(online_features() if features is None else list(features))
    people: dict[str, OnlinePerson] = {}
    for event in events:
        person = people.get(event["person"])
        if person is None:
            person = people[event["person"]] = OnlinePerson(chosen)
        person.update(event)
    return people
