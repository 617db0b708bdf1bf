"""A person's sessions, online: the sessions table of :mod:`intentflow.features.query`, kept per
event, for the catalog's session features (``sessions_30d``, ``mean_dwell_seconds_30d``...).

Sessions are cut as the batch query cuts them: an on-site event belongs to its tracker's
session id, or, without one, to the visit it is part of (a new visit starts after
``gap_s`` without on-site events, as the batch features are configured); emails and identify
calls belong to none. A product view dwells until the next later event of its session.

Each session is summed up in a few numbers (start, end, events, views, whether it had an
add-to-cart, a purchase, the deepest scroll, the dwell), which is all its columns need. The
latest on-site events stay whole for ``slack_s`` (the stream's lateness): they may still be
reordered by a late
event, so they are summed up only once the person's events have moved past them (or when more
than :data:`~intentflow.features.kinds.HELD_MAX` wait), in time order, and a read adds them on a
copy. An event earlier than the last one summed up (later than any lateness the stream allows,
see :class:`~intentflow.config.StreamSettings`) is left out of the sessions. A person keeps at
most ``HELD_MAX`` sessions.

>>> from intentflow.features.kinds import DAYS_30, SessionAggregate
>>> count = SessionAggregate(name="s", description="", window=DAYS_30, how="count")
>>> dwell = SessionAggregate(name="d", description="", window=DAYS_30, how="per",
...                          column="dwell_s", per="dwelled")
>>> sessions = Sessions([count, dwell])
>>> for minute, kind in ((0, "product_view"), (2, "page_view"), (50, "product_view")):
...     sessions.update(minute * 60 * MICROS, {"type": kind})
>>> sessions.values(51 * 60 * MICROS)  # two visits; the first view dwelled 2 minutes
{'s': 2, 'd': 120.0}
"""

from __future__ import annotations

import bisect
import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from intentflow.features.kinds import HELD_MAX, MICROS, SESSION_GAP_S, SessionAggregate, Window

SLACK_S: Final = 60.0
"""How long the latest events stay whole, open to late events placed among them, by default:
the stream's default lateness."""

OTHER, PAGE_VIEW, PRODUCT_VIEW, CART, PURCHASE = range(5)
_CODES: Final = {
    "page_view": PAGE_VIEW,
    "product_view": PRODUCT_VIEW,
    "add_to_cart": CART,
    "purchase": PURCHASE,
}

# a session's summary, a list: [key, start, end, events, views, flags, max scroll, dwell, dwelled,
# the time of its latest product views while no later event followed them, and how many]
KEY, START, END, EVENTS, VIEWS, FLAGS, SCROLL, DWELL, DWELLED, VIEWED, VIEWS_THEN = range(11)
CARTED, BOUGHT = 1, 2

Summary = list[Any]
Held = tuple[int, int, int | None, int | float | None]
"""An on-site event kept whole: time, type code, session id's number (None: no id), scroll."""

COLUMNS: Final[dict[str, Callable[[Summary], float | int | None]]] = {
    "duration_s": lambda s: (s[END] - s[START]) / MICROS,
    "minutes": lambda s: max((s[END] - s[START]) / (60 * MICROS), 1.0),
    "events": lambda s: s[EVENTS],
    "views": lambda s: s[VIEWS],
    "bounced": lambda s: int(s[EVENTS] == 1),
    "abandoned": lambda s: int(s[FLAGS] == CARTED),
    "max_scroll": lambda s: s[SCROLL],
    "dwell_s": lambda s: s[DWELL] / MICROS if s[DWELLED] else None,
    "dwelled": lambda s: s[DWELLED],
}
"""The columns of the sessions table that session features read, from a session's summary."""


NULLABLE: Final = frozenset({"max_scroll", "dwell_s"})
"""Columns a session may lack a value of."""


def is_online(feature: SessionAggregate) -> bool:
    """Whether the columns ``feature`` reads are kept online (a sum over a column that may lack
    values is not: the batch sum is empty, not 0, when every session lacks it)."""
    if feature.how == "sum" and feature.column in NULLABLE:
        return False
    return all(c is None or c in COLUMNS for c in (feature.column, feature.per))


@functools.lru_cache(maxsize=4096)
def session_number(session_id: str) -> int:
    """A tracker's session id as a 32-bit number (ids are long; a state holds many)."""
    return int.from_bytes(hashlib.blake2b(session_id.encode(), digest_size=4).digest(), "big")


class Sessions:
    """One person's sessions and the session features of a catalog (see the module's doc)."""

    def __init__(
        self,
        features: Sequence[SessionAggregate],
        gap_s: int = SESSION_GAP_S,
        slack_s: float = SLACK_S,
    ):
        self.features = list(features)
        self.gap_us = gap_s * MICROS
        self.slack_us = int(slack_s * MICROS)
        windows = {f.window for f in self.features if not f.current}
        self.windows: list[Window] | None = None if None in windows else list(windows)  # type: ignore[arg-type]
        """The features' windows (None: one reads every session, none is forgotten)."""
        self.open_only = any(f.current for f in self.features)
        """Whether some features read the sessions open at the cutoff."""
        self.held: list[Held] = []
        """The latest on-site events, in time order, not summed up yet."""
        self.sessions: dict[int, Summary] = {}
        """The summed-up sessions by key (a session id's number, or minus the visit's number), in
        the order they started."""
        self.last: int | None = None
        """The time of the last event summed up."""
        self.visit = 0
        self.current: int | None = None
        """The session of the last event summed up."""

    def update(self, us: int, event: Mapping[str, Any]) -> None:
        """Take in one on-site event at ``us``."""
        if self.last is not None and us < self.last:
            return  # behind the events summed up: later than the stream's lateness
        session_id = event.get("session_id")
        depth = event.get("depth_percent")
        if isinstance(depth, float) and depth.is_integer():
            depth = int(depth)  # fewer bytes stored
        held: Held = (
            us,
            _CODES.get(event["type"], OTHER),
            None if session_id is None else session_number(session_id),
            depth,
        )
        if not self.held or us >= self.held[-1][0]:
            self.held.append(held)
        else:
            self.held.insert(bisect.bisect_right(self.held, us, key=_time), held)
        self._settle(self.held[-1][0] - self.slack_us)

    def _settle(self, before_us: int) -> None:
        """Sum up the events held from before ``before_us`` (and the oldest beyond
        ``HELD_MAX``)."""
        done = max(0, len(self.held) - HELD_MAX)
        while done < len(self.held) and self.held[done][0] < before_us:
            done += 1
        if done:
            cursor = (self.last, self.visit, self.current)
            self.last, self.visit, self.current = _sum_up(
                self.sessions, self.held[:done], cursor, self.gap_us
            )
            del self.held[:done]
            while len(self.sessions) > HELD_MAX:
                del self.sessions[next(iter(self.sessions))]

    def merge(self, other: Sessions) -> None:
        """Take in another id's sessions (an anonymous id's, once linked to this person), as if
        their events had been this person's: each sums up what the slack no longer holds open,
        the parts of one tracker session join, visits that meet within the session gap join,
        the visit of the latest event goes on, and the events still held are held together.
        Exact when the two ids' visits follow each other (browsing, then logging in). Where they
        interleave, a view's dwell may end at the other part's last event instead of its next
        later one, and two visits joined only by the other id's tracker-session events (which a
        summary holds no times of) stay apart."""
        newest = max((s.held[-1][0] if s.held else s.last or 0) for s in (self, other))
        for part in (self, other):
            part._settle(newest - self.slack_us)
        latest = max((self, other), key=lambda p: -1 if p.last is None else p.last)
        going_on = latest.sessions.get(-latest.visit)  # the latest event's visit, if summed up
        tracked: dict[int, Summary] = {}
        visits: list[Summary] = []
        current = None
        for s in sorted([*self.sessions.values(), *other.sessions.values()], key=_started):
            if s[KEY] >= 0:  # a tracker's session (ids are numbers from 0)
                before = tracked.get(s[KEY])
                tracked[s[KEY]] = list(s) if before is None else _joined(before, s)
                continue
            if visits and s[START] - visits[-1][END] <= self.gap_us:
                visits[-1] = _joined(visits[-1], s)
            else:
                visits.append(list(s))
            if s is going_on:
                current = len(visits) - 1
        # visits take new numbers in the order they started; the latest event's visit takes the
        # highest, so that the events to come go on with it (or, not summed up, a new one)
        base = self.visit + other.visit
        order = [i for i in range(len(visits)) if i != current]
        for number, i in enumerate([*order, *([] if current is None else [current])], base + 1):
            visits[i][KEY] = -number
        self.visit = base + len(visits) + (current is None and latest.last is not None)
        joined = sorted([*tracked.values(), *visits], key=_started)[-HELD_MAX:]
        self.sessions = {s[KEY]: s for s in joined}
        self.last = latest.last
        self.current = next((s[KEY] for s in reversed(joined) if s[END] == self.last), None)
        self.held = sorted(self.held + other.held, key=_time)
        self._settle(newest - self.slack_us)

    def summaries(self, cutoff_us: int) -> list[Summary]:
        """Every session held at ``cutoff_us`` (the events held whole added to copies)."""
        if self.windows is not None:
            starts = [w.bounds(cutoff_us)[0] for w in self.windows]
            if self.open_only:
                starts.append(cutoff_us - self.gap_us)
            self._forget(min(starts))
        if not self.held:
            return list(self.sessions.values())
        held = [e for e in self.held if e[0] < cutoff_us]
        # the sessions the held events can reach, copied: the current one, the current visit's
        # and those of their tracker ids (a later visit is a new session)
        work = dict(self.sessions)
        for key in {self.current, -self.visit, *(e[2] for e in held)}:
            found = work.get(key)  # type: ignore[arg-type]
            if found is not None:
                work[key] = list(found)  # type: ignore[index]
        _sum_up(work, held, (self.last, self.visit, self.current), self.gap_us)
        return list(work.values())

    def _forget(self, start_us: int) -> None:
        """Drop the sessions that started before ``start_us`` and ended before it too (a
        session still going on keeps its start)."""
        for key in list(self.sessions):
            summary = self.sessions[key]
            if summary[START] >= start_us:
                break
            if key != self.current and summary[END] < start_us:
                del self.sessions[key]

    def value(self, cutoff_us: int) -> int:
        """How many sessions are held at ``cutoff_us``."""
        return len(self.summaries(cutoff_us))

    def values(self, cutoff_us: int) -> dict[str, float | int | None]:
        """Each session feature at ``cutoff_us``."""
        sessions = self.summaries(cutoff_us)
        out: dict[str, float | int | None] = {}
        tables: dict[Window | bool | None, _Table] = {}  # features share sessions and columns
        for feature in self.features:
            window = True if feature.current else feature.window
            table = tables.get(window)
            if table is None:
                if window is True:  # open at the cutoff: ended at most the gap before it
                    ended = cutoff_us - self.gap_us
                    table = _Table([s for s in sessions if s[END] >= ended])
                else:
                    begin, end = window.bounds(cutoff_us) if window else (None, cutoff_us)
                    table = _Table(
                        [
                            s
                            for s in sessions
                            if (begin is None or s[START] >= begin) and s[START] < end
                        ]
                    )
                tables[window] = table
            out[feature.name] = _aggregate(feature, table)
        return out

    def dump(self) -> list[Any]:
        base = self.last or 0
        out: list[Any] = [self.visit, self.last, self.current, len(self.sessions)]
        for s in self.sessions.values():
            # a visit that is over takes no more events: its views will not dwell
            over = s[KEY] < 0 and s[KEY] != -self.visit
            viewed = None if s[VIEWED] is None or over else base - s[VIEWED]
            out += [s[KEY], base - s[START], s[END] - s[START], *s[EVENTS:VIEWED], viewed]
            out.append(s[VIEWS_THEN])
        # each event held: its time from the one before, then one number for its type, whether
        # it has a scroll depth and whether its session id is new (the id follows) or the one
        # before's, then the depth and the id where they are
        at, before = base, None
        for us, code, number, depth in self.held:
            same = number is not None and number == before
            head = code * 8 + (depth is not None) * 4 + (number is not None) * 2 + same
            out += [us - at, head]
            if depth is not None:
                out.append(depth)
            if number is not None and not same:
                out.append(number)
            at, before = us, number
        return out

    def load(self, data: list[Any]) -> None:
        self.visit, self.last, self.current = data[0], data[1], data[2]
        base = self.last or 0
        at = 4
        for _ in range(data[3]):
            key, start, length = data[at], base - data[at + 1], data[at + 2]
            viewed = None if data[at + 9] is None else base - data[at + 9]
            summary = [key, start, start + length, *data[at + 3 : at + 9], viewed, data[at + 10]]
            self.sessions[key] = summary
            at += 11
        us, number = base, None
        while at < len(data):
            us, head = us + data[at], data[at + 1]
            at += 2
            depth = None
            if head & 4:
                depth, at = data[at], at + 1
            if not head & 2:
                number = None
            elif not head & 1:
                number, at = data[at], at + 1
            self.held.append((us, head // 8, number, depth))


def _time(held: Held) -> int:
    return held[0]


def _started(summary: Summary) -> int:
    return int(summary[START])


def _joined(first: Summary, then: Summary) -> Summary:
    """Two parts of one session (of two ids before they were linked) as one; ``first`` starts
    no later than ``then``."""
    out = list(first)
    if out[VIEWED] is not None and then[START] > out[VIEWED]:  # their dwell ends where it starts
        out[DWELL] += (then[START] - out[VIEWED]) * out[VIEWS_THEN]
        out[DWELLED] += out[VIEWS_THEN]
        out[VIEWED], out[VIEWS_THEN] = None, 0
    out[END] = max(out[END], then[END])
    out[EVENTS] += then[EVENTS]
    out[VIEWS] += then[VIEWS]
    out[FLAGS] |= then[FLAGS]
    if then[SCROLL] is not None and (out[SCROLL] is None or then[SCROLL] > out[SCROLL]):
        out[SCROLL] = then[SCROLL]
    out[DWELL] += then[DWELL]
    out[DWELLED] += then[DWELLED]
    if then[VIEWED] is not None:
        if out[VIEWED] is None or then[VIEWED] > out[VIEWED]:
            out[VIEWED], out[VIEWS_THEN] = then[VIEWED], then[VIEWS_THEN]
        elif then[VIEWED] == out[VIEWED]:
            out[VIEWS_THEN] += then[VIEWS_THEN]
        else:  # interleaved: they dwell until the later views, at most
            out[DWELL] += (out[VIEWED] - then[VIEWED]) * then[VIEWS_THEN]
            out[DWELLED] += then[VIEWS_THEN]
    return out


Cursor = tuple[int | None, int, int | None]


def _sum_up(
    sessions: dict[int, Summary], events: Sequence[Held], cursor: Cursor, gap: int
) -> Cursor:
    """Add ``events`` (in time order, after the cursor's) to the sessions; the cursor is the
    last event's time, the visit number and the last event's session, before and after."""
    last, visit, current = cursor
    for us, code, number, depth in events:
        if last is None or us - last > gap:
            visit += 1
        key = -visit if number is None else number
        summary = sessions.get(key)
        if summary is None:
            summary = [key, us, us, 0, 0, 0, None, 0, 0, None, 0]
            sessions[key] = summary
        viewed = summary[VIEWED]
        if viewed is not None and us > viewed:  # the views before it dwelled until now
            summary[DWELL] += (us - viewed) * summary[VIEWS_THEN]
            summary[DWELLED] += summary[VIEWS_THEN]
            summary[VIEWED], summary[VIEWS_THEN] = None, 0
        summary[END] = us
        summary[EVENTS] += 1
        if code in (PAGE_VIEW, PRODUCT_VIEW):
            summary[VIEWS] += 1
        elif code == CART:
            summary[FLAGS] |= CARTED
        elif code == PURCHASE:
            summary[FLAGS] |= BOUGHT
        if depth is not None and (summary[SCROLL] is None or depth > summary[SCROLL]):
            summary[SCROLL] = depth
        if code == PRODUCT_VIEW:
            if summary[VIEWED] != us:
                summary[VIEWED], summary[VIEWS_THEN] = us, 0
            summary[VIEWS_THEN] += 1
        last, current = us, key
    return last, visit, current


class _Table:
    """Sessions with their columns' values, each computed once (the missing ones left out)."""

    def __init__(self, sessions: list[Summary]):
        self.sessions = sessions
        self.columns: dict[str, list[float]] = {}

    def column(self, name: str) -> list[float]:
        if name not in self.columns:
            found = map(COLUMNS[name], self.sessions)
            self.columns[name] = [v for v in found if v is not None]
        return self.columns[name]


def _aggregate(feature: SessionAggregate, table: _Table) -> float | int | None:
    """``feature`` over the sessions of ``table``."""
    if feature.how == "count":
        return len(table.sessions)
    if not table.sessions:
        return 0 if feature.how == "sum" else None
    assert feature.column is not None
    values = table.column(feature.column)
    if feature.how == "sum":
        return sum(values)
    if feature.how == "per":
        assert feature.per is not None
        per = sum(table.column(feature.per))
        return sum(values) / per if per and values else None
    if not values:
        return None
    if feature.how == "mean":
        return sum(values) / len(values)
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
