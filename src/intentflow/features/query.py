"""The catalog as one SQL query: people, sessions and features at a cutoff.

The query reads a relation ``events`` (the lake's columns) and returns one row per person with one
column per feature. It is written once, in DuckDB's dialect, and transpiled to Spark's by sqlglot;
time is integer epoch microseconds and every ordering has a tie-break, so the two engines return
the same table. Its steps, as common table expressions:

- ``raw``: events strictly before the cutoff, with their time ``us``;
- ``links``: each anonymous id's latest known user id (from any event carrying both, identify
  calls included), so a person's history from before login counts once they are known;
- ``keyed``: events with their ``person`` (user id, else the linked user id, else the anonymous id);
- ``ordered``, ``visits``, ``ev``: events with their ``session`` (the tracker's session id, else
  a new session after ``gap`` of inactivity; emails and identify calls belong to none and split
  none), their position ``seq``, and for product views the seconds to the next later event of
  their session (``dwell_s``); the sessions table adds the ``device`` class;
- ``sessions``: one row per session (:data:`SESSION_COLUMNS`);
- one aggregate per stage, joined by person; derived and population features on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import sqlglot
from sqlglot import exp

from intentflow.features.kinds import (
    MICROS,
    OFF_SITE,
    SESSION_GAP_S,
    Feature,
    Ranked,
    identity,
    types_in,
)
from intentflow.features.labels import Horizon, Label, label_steps

SQL_TYPES: Final = {"int": "BIGINT", "double": "DOUBLE", "string": "VARCHAR"}

DEVICE: Final = """CASE
      WHEN user_agent IS NULL THEN NULL
      WHEN regexp_matches(user_agent, '(?i)bot|crawl|spider|slurp|headless') THEN 'bot'
      WHEN regexp_matches(user_agent, '(?i)ipad|tablet') THEN 'tablet'
      WHEN regexp_matches(user_agent, '(?i)mobi|iphone|android') THEN 'mobile'
      ELSE 'desktop' END"""

SESSION_COLUMNS: Final = {
    "person": ("person", "VARCHAR"),
    "session": ("session", "VARCHAR"),
    "start_us": ("MIN(us)", "BIGINT"),
    "end_us": ("MAX(us)", "BIGINT"),
    "duration_s": (f"CAST(MAX(us) - MIN(us) AS DOUBLE) / {float(MICROS)}", "DOUBLE"),
    "minutes": (f"GREATEST(CAST(MAX(us) - MIN(us) AS DOUBLE) / {60.0 * MICROS}, 1.0)", "DOUBLE"),
    "events": ("COUNT(*)", "BIGINT"),
    "page_views": ("SUM(CASE WHEN type = 'page_view' THEN 1 ELSE 0 END)", "BIGINT"),
    "product_views": ("SUM(CASE WHEN type = 'product_view' THEN 1 ELSE 0 END)", "BIGINT"),
    "clicks": ("SUM(CASE WHEN type = 'click' THEN 1 ELSE 0 END)", "BIGINT"),
    "add_to_carts": ("SUM(CASE WHEN type = 'add_to_cart' THEN 1 ELSE 0 END)", "BIGINT"),
    "purchases": ("SUM(CASE WHEN type = 'purchase' THEN 1 ELSE 0 END)", "BIGINT"),
    "revenue": (
        "SUM(CASE WHEN type = 'purchase' THEN COALESCE(revenue, 0.0) ELSE 0.0 END)",
        "DOUBLE",
    ),
    "views": ("SUM(CASE WHEN type IN ('page_view', 'product_view') THEN 1 ELSE 0 END)", "BIGINT"),
    "bounced": ("CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END", "BIGINT"),
    "abandoned": (
        "CASE WHEN SUM(CASE WHEN type = 'add_to_cart' THEN 1 ELSE 0 END) > 0 "
        "AND SUM(CASE WHEN type = 'purchase' THEN 1 ELSE 0 END) = 0 THEN 1 ELSE 0 END",
        "BIGINT",
    ),
    "max_scroll": ("MAX(depth_percent)", "DOUBLE"),
    "mean_scroll": ("AVG(depth_percent)", "DOUBLE"),
    "dwell_s": ("SUM(dwell_s)", "DOUBLE"),
    "dwelled": ("COUNT(dwell_s)", "BIGINT"),
    "entry_page": ("ARG_MIN(page_url, CASE WHEN page_url IS NOT NULL THEN seq END)", "VARCHAR"),
    "exit_page": ("ARG_MAX(page_url, CASE WHEN page_url IS NOT NULL THEN seq END)", "VARCHAR"),
    "channel": ("ARG_MIN(channel, seq)", "VARCHAR"),
    "device": ("ARG_MIN(device, CASE WHEN device IS NOT NULL THEN seq END)", "VARCHAR"),
}
"""The sessions table: its columns and how each is computed from the session's events (``minutes``
counts a session shorter than a minute as one). With them, ``is_open``: 1 when the session's last
event is at most the session gap before the cutoff (an event at the cutoff would continue it)."""


DESCRIPTIVE: Final = ("entry_page", "exit_page", "channel", "device")
"""Session columns that describe a session but that no feature reads (sessions table only)."""


def _prepared(cutoff_us: int, gap_s: int, *, describe: bool) -> list[tuple[str, str]]:
    """The steps up to ``sessions``; ``describe`` adds the descriptive session columns (pages,
    channel, device), which the feature query does without."""
    order = "ORDER BY us, message_id"
    gap = gap_s * MICROS
    off_site = types_in(OFF_SITE)
    visit = f"PARTITION BY person, {off_site} {order}"
    person, linked = identity("raw")
    context = ", channel, context.page_url AS page_url, context.user_agent AS user_agent"
    columns = {
        name: spec for name, spec in SESSION_COLUMNS.items() if describe or name not in DESCRIPTIVE
    }
    columns["is_open"] = (f"CASE WHEN MAX(us) >= {cutoff_us - gap} THEN 1 ELSE 0 END", "BIGINT")
    kept = "message_id, type, session_id, us, item_id, category, revenue, depth_percent"
    if describe:
        kept += ", channel, page_url, user_agent"
    breaks = f"CASE WHEN previous_us IS NULL OR us - previous_us > {gap} THEN 1 ELSE 0 END"
    return [
        (
            "raw",
            "SELECT message_id, type, user_id, anonymous_id, session_id, "
            "EPOCH_US(timestamp) AS us, item_id, category, revenue, "
            f"depth_percent{context if describe else ''} "
            f"FROM events WHERE EPOCH_US(timestamp) < {cutoff_us}",
        ),
        (
            "links",
            # from the events, not ``raw``: a second scan of four columns costs less than
            # holding ``raw`` for two readers
            "SELECT anonymous_id, ARG_MAX(user_id, {'us': EPOCH_US(timestamp), 'id': "
            f"message_id}}) AS user_id FROM events WHERE EPOCH_US(timestamp) < {cutoff_us} "
            "AND anonymous_id IS NOT NULL AND user_id IS NOT NULL GROUP BY anonymous_id",
        ),
        ("keyed", f"SELECT {kept}, {person} FROM raw {linked}"),
        (
            "ordered",
            f"SELECT keyed.*, LAG(us) OVER ({visit}) AS previous_us, "
            f"ROW_NUMBER() OVER ({visit}) AS seq"
            + (f", {DEVICE} AS device" if describe else "")
            + " FROM keyed",
        ),
        (
            "visits",
            f"SELECT ordered.*, SUM({breaks}) OVER ({visit} ROWS BETWEEN UNBOUNDED "
            "PRECEDING AND CURRENT ROW) AS visit FROM ordered",
        ),
        (
            "ev",
            f"SELECT {kept}, person, seq, session"
            + (", device" if describe else "")
            # a product view dwells until the next later event of its session
            + ", CASE WHEN type = 'product_view' THEN CAST(MIN(us) OVER (PARTITION BY person, "
            "session ORDER BY us RANGE BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) - us AS "
            f"DOUBLE) / {float(MICROS)} END AS dwell_s FROM (SELECT "
            f"visits.*, CASE WHEN {off_site} THEN NULL ELSE COALESCE(session_id, "
            "CONCAT('~', CAST(visit AS VARCHAR))) END AS session FROM visits) AS assigned",
        ),
        (
            "sessions",
            "SELECT "
            + ", ".join(f"CAST({sql} AS {kind}) AS {name}" for name, (sql, kind) in columns.items())
            + " FROM ev WHERE session IS NOT NULL GROUP BY person, session",
        ),
    ]


def sessions_query(cutoff_us: int, *, gap_s: int = SESSION_GAP_S) -> str:
    """The sessions table of everyone at the cutoff (DuckDB dialect)."""
    return _with(
        _prepared(cutoff_us, gap_s, describe=True),
        "SELECT * FROM sessions ORDER BY person, session",
    )


def feature_query(
    features: Sequence[Feature],
    cutoff_us: int,
    *,
    gap_s: int = SESSION_GAP_S,
    label: tuple[Label, Horizon] | None = None,
) -> str:
    """One row per person (column ``user_id``) with ``features`` at the cutoff (DuckDB
    dialect); with a ``label`` and its horizon, also the column ``label`` from events at or after
    the cutoff (see :mod:`intentflow.features.labels`)."""
    steps = _prepared(cutoff_us, gap_s, describe=False)
    joined: list[tuple[str, Sequence[Feature]]] = []

    def group(name: str, source: str, members: Sequence[Feature]) -> None:
        columns = ", ".join(f"{f.sql(cutoff_us)} AS {f.name}" for f in members)
        steps.append((name, f"SELECT person, {columns} FROM {source} GROUP BY person"))
        joined.append((name, members))

    def staged(stage: str) -> list[Feature]:
        return [f for f in features if f.stage == stage]

    steps.append(("people", "SELECT DISTINCT person FROM ev"))
    if staged("events"):
        group("by_events", "ev", staged("events"))
    if staged("sessions"):
        group("by_sessions", "sessions", staged("sessions"))
    rankings: dict[str, list[Ranked]] = {}
    for feature in staged("ranked"):
        assert isinstance(feature, Ranked)
        rankings.setdefault(feature.ranking, []).append(feature)
    for name, members in rankings.items():
        steps.append((name, members[0].ranking_sql(cutoff_us)))
        group(f"by_{name}", name, members)
    base = "SELECT people.person, " + ", ".join(
        f"{step}.{f.name}" for step, members in joined for f in members
    )
    base += " FROM people" + "".join(
        f" LEFT JOIN {step} ON {step}.person = people.person" for step, _ in joined
    )
    steps.append(("base", base))
    derived = ", ".join(f"{f.sql(cutoff_us)} AS {f.name}" for f in staged("derived"))
    steps.append(("derived", "SELECT base.*" + (f", {derived}" if derived else "") + " FROM base"))
    sources = ["derived"]
    if staged("population"):
        # ranked over everyone on a narrow relation: sorting the wide rows costs far more
        scores = ", ".join(f"{f.sql(cutoff_us)} AS {f.name}" for f in staged("population"))
        steps.append(("population", f"SELECT person, {scores} FROM derived"))
        sources.append("population")
    if label is not None:
        steps += label_steps(*label, cutoff_us, gap_s)
        sources.append("labels")
    columns = ", ".join(
        f"CAST({'population' if f.stage == 'population' else 'derived'}.{f.name} AS "
        f"{SQL_TYPES[f.output_dtype]}) AS {f.name}"
        for f in features
    )
    if label is not None:
        columns += ", labels.label AS label"
    joins = "".join(
        f" LEFT JOIN {source} ON {source}.person = derived.person" for source in sources[1:]
    )
    return _with(
        steps, f"SELECT derived.person AS user_id, {columns} FROM derived{joins} ORDER BY user_id"
    )


def _with(steps: list[tuple[str, str]], final: str) -> str:
    return "WITH " + ",\n".join(f"{name} AS ({sql})" for name, sql in steps) + "\n" + final


def to_dialect(sql: str, dialect: str) -> str:
    """The query in another engine's dialect (``duckdb`` returns it as written, pretty-printed)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    if dialect == "spark":
        tree = tree.transform(_spark_functions)
    return tree.sql(dialect=dialect, pretty=True)


def _spark_functions(node: exp.Expression) -> exp.Expression:
    """DuckDB functions sqlglot leaves as they are, in Spark's names."""
    if isinstance(node, exp.Anonymous) and node.name.upper() == "EPOCH_US":
        return exp.Anonymous(this="UNIX_MICROS", expressions=node.expressions)
    return node
