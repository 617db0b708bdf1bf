"""Labels for training sets: what a person does in a horizon after a cutoff.

A label is a set of event types (:data:`PURCHASE`: a purchase); a horizon says how far after the
cutoff to look: :class:`Within` (the next N minutes, the next 24 hours) or
:data:`REST_OF_SESSION` (the rest of the session open at the cutoff). Together they render the
common table expression ``labels(person, label)`` that :func:`~intentflow.features.query.
feature_query` joins to the features; it reads only events at or after the cutoff, keyed to the
people of the feature table:

- an event with a user id counts for that user, and for its anonymous id when that id had no
  known user at the cutoff (so a visitor who logs in after the cutoff and buys is labelled);
- an event with only an anonymous id counts for the user that id was linked to before the
  cutoff, else for the anonymous id.

>>> [Within(timedelta(minutes=m)).name for m in (30, 90, 1440, 10080)], REST_OF_SESSION.name
(['30m', '90m', '24h', '7d'], 'session')
>>> parse_horizon("15m"), parse_horizon("session") is REST_OF_SESSION
(Within(span=datetime.timedelta(seconds=900)), True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from intentflow.features.kinds import MICROS, OFF_SITE, identity, types_in


@dataclass(frozen=True)
class Label:
    """A person is labelled positive when they send an event of one of ``types`` in the
    horizon."""

    name: str
    types: tuple[str, ...]

    def matches(self) -> str:
        """SQL condition on an event's ``type``."""
        return types_in(self.types)


PURCHASE: Final = Label("purchase", ("purchase",))
ADD_TO_CART: Final = Label("add_to_cart", ("add_to_cart",))
LABELS: Final = {label.name: label for label in (PURCHASE, ADD_TO_CART)}


@dataclass(frozen=True)
class Within:
    """The ``span`` after the cutoff: every person at the cutoff gets a label."""

    span: timedelta

    @property
    def name(self) -> str:
        seconds = int(self.span.total_seconds())
        if seconds % 86_400 == 0 and seconds > 86_400:
            return f"{seconds // 86_400}d"
        for unit, size in (("h", 3_600), ("m", 60)):
            if seconds % size == 0:
                return f"{seconds // size}{unit}"
        return f"{seconds}s"

    @property
    def reach(self) -> timedelta:
        """How far after the cutoff events are read."""
        return self.span


@dataclass(frozen=True)
class RestOfSession:
    """The rest of the session open at the cutoff (its last event at most the session gap
    before it). A session goes on while its events keep its session id, or, without session ids,
    while each comes within the gap of the one before; emails and identify calls are no part of
    it (as in the sessions of the features). It is followed for at most ``limit``.
    People with no open session get no label (their rows are left out of training sets)."""

    limit: timedelta = timedelta(hours=24)
    name: str = "session"

    @property
    def reach(self) -> timedelta:
        return self.limit


REST_OF_SESSION: Final = RestOfSession()
Horizon = Within | RestOfSession

_SPAN = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS: Final = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


def parse_horizon(text: str) -> Horizon:
    """``session``, or a span such as ``30m``, ``24h``, ``7d``."""
    if text.strip().lower() in {"session", "rest-of-session", "rest_of_session"}:
        return REST_OF_SESSION
    match = _SPAN.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"horizon {text!r}: use 'session' or a span like 30m, 24h, 7d")
    return Within(timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)]))


def label_steps(
    label: Label, horizon: Horizon, cutoff_us: int, gap_s: int
) -> list[tuple[str, str]]:
    """Common table expressions ending in ``labels(person, label)``; they use the feature query's
    ``links`` and ``ev`` steps and the ``events`` relation."""
    end = cutoff_us + int(horizon.reach.total_seconds()) * MICROS
    person, linked = identity("events")
    keyed = (
        f"SELECT {person}, events.anonymous_id AS anonymous_id, type, session_id, message_id, "
        f"EPOCH_US(timestamp) AS us FROM events {linked} "
        f"WHERE EPOCH_US(timestamp) >= {cutoff_us} AND EPOCH_US(timestamp) < {end}"
    )
    steps = [
        ("after_keyed", keyed),
        (
            "after",
            "SELECT person, type, session_id, message_id, us FROM after_keyed UNION ALL "
            "SELECT anonymous_id AS person, type, session_id, message_id, us FROM after_keyed "
            "WHERE anonymous_id IS NOT NULL AND anonymous_id <> person "
            "AND anonymous_id NOT IN (SELECT anonymous_id FROM links)",
        ),
    ]
    hit = f"MAX(CASE WHEN {label.matches()} THEN 1 ELSE 0 END)"
    if isinstance(horizon, Within):
        steps.append(("hits", f"SELECT person, {hit} AS hit FROM after GROUP BY person"))
        steps.append(
            (
                "labels",
                "SELECT people.person, COALESCE(hits.hit, 0) = 1 AS label FROM people "
                "LEFT JOIN hits ON hits.person = people.person",
            )
        )
        return steps
    gap = gap_s * MICROS
    steps += [
        (
            "open",
            "SELECT person, us AS last_us, session_id AS last_session FROM (SELECT person, us, "
            "session_id, ROW_NUMBER() OVER (PARTITION BY person ORDER BY us DESC, "
            f"message_id DESC) AS latest FROM ev WHERE session IS NOT NULL) AS tail "
            "WHERE latest = 1 "
            f"AND {cutoff_us} - us <= {gap}",
        ),
        (
            "follow",
            "SELECT after.*, open.last_session, COALESCE(LAG(after.us) OVER (PARTITION BY "
            "after.person ORDER BY after.us, after.message_id), open.last_us) AS previous_us "
            "FROM after JOIN open ON open.person = after.person "
            f"WHERE NOT {types_in(OFF_SITE, 'after.type')}",
        ),
        (
            "chain",
            "SELECT follow.*, SUM(CASE WHEN us - previous_us > "
            f"{gap} THEN 1 ELSE 0 END) OVER (PARTITION BY person ORDER BY us, message_id "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS breaks FROM follow",
        ),
        (
            "hits",
            f"SELECT person, {hit} AS hit FROM chain WHERE (last_session IS NOT NULL "
            "AND session_id = last_session) OR (last_session IS NULL AND session_id IS NULL "
            "AND breaks = 0) GROUP BY person",
        ),
        (
            "labels",
            "SELECT open.person, COALESCE(hits.hit, 0) = 1 AS label FROM open "
            "LEFT JOIN hits ON hits.person = open.person",
        ),
    ]
    return steps
