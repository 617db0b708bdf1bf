"""Feature kinds: what a feature computes, declared once, rendered as SQL before a cutoff.

A feature is an instance of a kind (a count of some event types in a window, a sum, a distinct
count, a recency, a ratio of two other features, a quantile score...). Each kind renders the SQL
expression that computes it for every person at a cutoff; :mod:`intentflow.features.query` puts
the expressions of a catalog into one query, which runs on DuckDB and, transpiled, on Spark.

Every kind reads the same relations: ``ev`` (one row per event before the cutoff, with the
person it belongs to, its time ``us`` in epoch microseconds, its ``session``, and its ``dwell_s``)
and ``sessions`` (one row per session). Time is integer microseconds throughout, so both engines
compute exactly the same windows.

>>> Count(name="views_1h", description="product views", types=("product_view",),
...       window=HOUR).sql(7_200_000_000)
"SUM(CASE WHEN type IN ('product_view') AND us >= 3600000000 THEN 1 ELSE 0 END)"
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import ClassVar, Literal

Stage = Literal["events", "sessions", "ranked", "derived", "population"]
"""Where a feature's expression is evaluated:

- ``events``: an aggregate over the person's events (``ev``);
- ``sessions``: an aggregate over the person's sessions (``sessions``);
- ``ranked``: a column of a per-person ranking (top category, preferred hour);
- ``derived``: an expression over other features of the same person;
- ``population``: an expression over every person (quantile scores).
"""

Dtype = Literal["int", "double", "string"]

MICROS = 1_000_000
DAY_US = 86_400 * MICROS

SESSION_GAP_S = 30 * 60
"""Inactivity that starts a new session where events carry no session id."""

HELD_MAX = 10_000
"""The most events (or distinct values) one state holds for one window. A person beyond it (10,000
events in an hour, or 10,000 distinct items in 30 days: a bot by any measure) keeps the latest
``HELD_MAX``: their counts stop growing there instead of their state."""

OFF_SITE = ("email_open", "email_click", "identify")
"""Event types that are not part of a visit: they belong to no session and do not split one."""


@dataclass(frozen=True)
class Window:
    """The events a windowed feature sees at a cutoff ``T``.

    Exact windows (no bucket) hold events with ``T - length <= time < T``. Bucketed windows hold
    the events of the bucket holding ``T`` and of the buckets before it, back to ``length``: the
    online engine keeps one counter per bucket instead of every event, and the batch query cuts
    time the same way, so both agree exactly. ``offset`` moves the window back in time (the 7
    days before the last 7).
    """

    name: str
    seconds: int
    bucket_seconds: int = 0
    offset_seconds: int = 0

    @property
    def aligned(self) -> bool:
        """Whether the window is bucketed and always starts where a bucket does."""
        bucket = self.bucket_seconds
        return bucket > 0 and self.seconds % bucket == 0 and self.offset_seconds % bucket == 0

    def bounds(self, cutoff_us: int) -> tuple[int, int]:
        """``(start, end)`` in epoch microseconds: the window holds ``start <= us < end``."""
        end = cutoff_us
        if self.bucket_seconds:
            bucket = self.bucket_seconds * MICROS
            end = (cutoff_us // bucket + 1) * bucket  # the end of the bucket holding the cutoff
        start = end - self.seconds * MICROS
        shift = self.offset_seconds * MICROS
        return start - shift, min(end - shift, cutoff_us)

    def condition(self, cutoff_us: int, column: str = "us") -> str:
        """SQL condition on a time ``column`` (microseconds)."""
        start, end = self.bounds(cutoff_us)
        if end >= cutoff_us:
            return f"{column} >= {start}"  # everything the query reads is before the cutoff
        return f"{column} >= {start} AND {column} < {end}"


MINUTES_15 = Window("15m", 15 * 60)
HOUR = Window("1h", 3_600)
DAY = Window("24h", 86_400, bucket_seconds=300)
WEEK = Window("7d", 7 * 86_400, bucket_seconds=3_600)
PREVIOUS_WEEK = Window("7d_before", 7 * 86_400, bucket_seconds=3_600, offset_seconds=7 * 86_400)
DAYS_30 = Window("30d", 30 * 86_400, bucket_seconds=3_600)
DAYS_90 = Window("90d", 90 * 86_400, bucket_seconds=86_400)


def identity(source: str) -> tuple[str, str]:
    """The ``person`` of ``source``'s events and the join that finds it: the user id, else the
    user id the anonymous id was last linked to (the ``links`` step), else the anonymous id.
    Features and labels key events the same way through it."""
    person = f"COALESCE({source}.user_id, links.user_id, {source}.anonymous_id) AS person"
    join = (
        f"LEFT JOIN links ON {source}.user_id IS NULL "
        f"AND {source}.anonymous_id = links.anonymous_id"
    )
    return person, join


def types_in(types: tuple[str, ...], column: str = "type") -> str:
    """SQL condition: ``column`` is one of ``types``."""
    return f"{column} IN (" + ", ".join(f"'{t}'" for t in types) + ")"


def _where(types: tuple[str, ...], window: Window | None, cutoff_us: int, extra: str = "") -> str:
    parts = [types_in(types)] if types else []
    if window is not None:
        parts.append(window.condition(cutoff_us))
    if extra:
        parts.append(extra)
    return " AND ".join(parts) or "TRUE"


@dataclass(frozen=True, kw_only=True)
class Feature:
    """One named feature of a person at a cutoff (use one of the kinds below)."""

    name: str
    description: str
    window: Window | None = None
    """The events it looks at (``None``: every event before the cutoff)."""

    entity: ClassVar[str] = "person"
    stage: ClassVar[Stage] = "events"
    dtype: ClassVar[Dtype] = "double"

    @property
    def output_dtype(self) -> Dtype:
        """The type of the feature's values."""
        return self.dtype

    def sql(self, cutoff_us: int) -> str:
        """The SQL expression computing the feature (see :data:`Stage` for what it reads)."""
        raise NotImplementedError

    def definition(self) -> str:
        """A stable text of what the feature computes (for the catalog's version hash)."""
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "description")
        return f"{type(self).__name__}({fields})"


@dataclass(frozen=True, kw_only=True)
class Count(Feature):
    """How many events of ``types`` (all types when empty) in the window."""

    types: tuple[str, ...] = ()
    dtype: ClassVar[Dtype] = "int"

    def sql(self, cutoff_us: int) -> str:
        return f"SUM(CASE WHEN {_where(self.types, self.window, cutoff_us)} THEN 1 ELSE 0 END)"


@dataclass(frozen=True, kw_only=True)
class Sum(Feature):
    """The sum of a numeric column over events of ``types`` in the window (0 when none)."""

    column: str
    types: tuple[str, ...] = ()

    def sql(self, cutoff_us: int) -> str:
        where = _where(self.types, self.window, cutoff_us)
        return f"COALESCE(SUM(CASE WHEN {where} THEN {self.column} END), 0.0)"


@dataclass(frozen=True, kw_only=True)
class Distinct(Feature):
    """How many distinct values of ``column`` among events of ``types`` in the window."""

    column: str
    types: tuple[str, ...] = ()
    dtype: ClassVar[Dtype] = "int"

    def sql(self, cutoff_us: int) -> str:
        where = _where(self.types, self.window, cutoff_us)
        return f"COUNT(DISTINCT CASE WHEN {where} THEN {self.column} END)"


@dataclass(frozen=True, kw_only=True)
class DaysSince(Feature):
    """Days from the latest (or, with ``first``, the earliest) event of ``types`` (all types
    when empty) but not of ``except_types``, to the cutoff; empty when there is none."""

    types: tuple[str, ...] = ()
    except_types: tuple[str, ...] = ()
    first: bool = False

    def sql(self, cutoff_us: int) -> str:
        pick = "MIN" if self.first else "MAX"
        extra = f"NOT {types_in(self.except_types)}" if self.except_types else ""
        moment = f"{pick}(CASE WHEN {_where(self.types, None, cutoff_us, extra)} THEN us END)"
        return f"CAST({cutoff_us} - {moment} AS DOUBLE) / {float(DAY_US)}"


SessionHow = Literal["count", "sum", "mean", "median", "per"]


@dataclass(frozen=True, kw_only=True)
class SessionAggregate(Feature):
    """An aggregate over the person's sessions that started in the window (a column of the
    sessions table, see :data:`intentflow.features.query.SESSION_COLUMNS`): how many sessions
    (``count``), the ``sum``, ``mean`` or ``median`` of ``column`` (sessions without a value
    left out), or the sum of ``column`` per sum of ``per`` (``per``; empty when that is 0).
    With ``current``, over the sessions still open at the cutoff instead: those whose last event
    is at most the session gap before it (the visit going on now), whenever they started."""

    how: SessionHow
    column: str | None = None
    per: str | None = None
    current: bool = False
    value_dtype: Dtype = "double"
    stage: ClassVar[Stage] = "sessions"

    @property
    def output_dtype(self) -> Dtype:
        """``value_dtype``: counts of sessions are integers, means are not."""
        return self.value_dtype

    def sql(self, cutoff_us: int) -> str:
        if self.current:
            inside = "is_open = 1"
        else:
            inside = self.window.condition(cutoff_us, "start_us") if self.window else "TRUE"
        if self.how == "count":
            return f"SUM(CASE WHEN {inside} THEN 1 ELSE 0 END)"
        if self.how == "sum":
            return f"SUM(CASE WHEN {inside} THEN {self.column} ELSE 0 END)"
        if self.how == "per":
            return (
                f"SUM(CASE WHEN {inside} THEN {self.column} END) "
                f"/ NULLIF(SUM(CASE WHEN {inside} THEN {self.per} END), 0)"
            )
        pick = "AVG" if self.how == "mean" else "MEDIAN"
        return f"{pick}(CASE WHEN {inside} THEN {self.column} END)"


@dataclass(frozen=True, kw_only=True)
class Ratio(Feature):
    """One feature divided by another; empty when the divisor is 0."""

    numerator: str
    denominator: str
    stage: ClassVar[Stage] = "derived"

    def sql(self, cutoff_us: int) -> str:
        return f"CAST({self.numerator} AS DOUBLE) / NULLIF({self.denominator}, 0)"


@dataclass(frozen=True, kw_only=True)
class Trend(Feature):
    """``(recent - before) / (recent + before)`` of two features: +1 all recent, -1 all before;
    empty when both are 0."""

    recent: str
    before: str
    stage: ClassVar[Stage] = "derived"

    def sql(self, cutoff_us: int) -> str:
        change = f"CAST({self.recent} - {self.before} AS DOUBLE)"
        return f"{change} / NULLIF({self.recent} + {self.before}, 0)"


@dataclass(frozen=True, kw_only=True)
class QuantileScore(Feature):
    """A 1-5 score of another feature among every person at the cutoff, by percent rank (ties
    share a score; 5 is the best). ``lower_is_better`` for recencies; people without a value
    score 1."""

    of: str
    lower_is_better: bool = False
    stage: ClassVar[Stage] = "population"
    dtype: ClassVar[Dtype] = "int"

    def sql(self, cutoff_us: int) -> str:
        order = "DESC" if self.lower_is_better else "ASC"
        rank = (
            f"PERCENT_RANK() OVER (PARTITION BY {self.of} IS NULL "
            f"ORDER BY {self.of} {order} NULLS LAST)"
        )
        return (
            f"CASE WHEN {self.of} IS NULL THEN 1 "
            f"ELSE CAST(LEAST(5, 1 + FLOOR(5 * {rank})) AS BIGINT) END"
        )


@dataclass(frozen=True)
class TimePart:
    """A part of an event's time (UTC) that a ranking counts: the ``hour`` of the day (0-23) or
    the ``weekday`` (0 Monday; 1970-01-01, epoch day 0, was a Thursday). Computed the same way in
    SQL and online (a floating division floored, then the remainder with the dividend's sign).

    >>> TimePart("weekday").of(0), TimePart("hour").of(7_200_000_000)
    (3, 2)
    """

    part: Literal["hour", "weekday"]

    CYCLES: ClassVar[dict[str, tuple[int, int, int]]] = {
        "hour": (3_600, 24, 0),
        "weekday": (86_400, 7, 3),
    }
    """Per part: the seconds it lasts, how many make a cycle, and the part of epoch time 0."""

    @property
    def span_s(self) -> int:
        """The seconds one value of the part lasts (it is constant within them)."""
        return self.CYCLES[self.part][0]

    @property
    def sql(self) -> str:
        """The SQL expression of the part, from ``us``."""
        span, cycle, shift = self.CYCLES[self.part]
        units = f"CAST(FLOOR(us / {float(span * MICROS)}) AS BIGINT)"
        return f"({units} + {shift}) % {cycle}" if shift else f"{units} % {cycle}"

    def of(self, us: int) -> int:
        """The part of the time ``us`` (epoch microseconds)."""
        span, cycle, shift = self.CYCLES[self.part]
        return int(math.fmod(math.floor(us / float(span * MICROS)) + shift, cycle))


@dataclass(frozen=True, kw_only=True)
class Ranked(Feature):
    """Column ``column`` of the person's ``rank``-th row of a ranking: the values of ``key``
    among events of ``types`` in the window, counted, most frequent first (ties: smallest value
    first). ``key`` is a column of the events or a :class:`TimePart`. ``column`` is ``value``
    (its dtype is ``value_dtype``) or ``share`` (its count over the total)."""

    key: str | TimePart
    types: tuple[str, ...] = ()
    rank: int = 1
    column: Literal["value", "share"] = "value"
    value_dtype: Dtype = "string"
    stage: ClassVar[Stage] = "ranked"

    @property
    def output_dtype(self) -> Dtype:
        """``value_dtype`` for values, ``double`` for shares."""
        return self.value_dtype if self.column == "value" else "double"

    @property
    def ranking(self) -> str:
        """The name of the ranking this feature reads (features of one ranking share it)."""
        text = repr((self.key, self.types, self.window))
        return "rank_" + hashlib.blake2b(text.encode(), digest_size=4).hexdigest()

    def ranking_sql(self, cutoff_us: int) -> str:
        """The ranking: person, value, share, position."""
        key = self.key.sql if isinstance(self.key, TimePart) else self.key
        where = _where(self.types, self.window, cutoff_us, f"{key} IS NOT NULL")
        return (
            "SELECT person, v AS value, CAST(n AS DOUBLE) / SUM(n) OVER (PARTITION BY person) "
            "AS share, ROW_NUMBER() OVER (PARTITION BY person ORDER BY n DESC, v ASC) AS position "
            f"FROM (SELECT person, {key} AS v, COUNT(*) AS n FROM ev WHERE {where} "
            "GROUP BY person, v) AS counted"
        )

    def sql(self, cutoff_us: int) -> str:
        return f"MAX(CASE WHEN position = {self.rank} THEN {self.column} END)"
