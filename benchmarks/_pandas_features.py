"""The feature catalog in plain pandas: the baseline of ``intentflow bench features``.

This is how a data engineer would compute :data:`intentflow.features.catalog.FEATURES` without a
query engine: read the lake's Parquet files with pyarrow into one DataFrame, key each event to
its person, cut sessions, then loop over the catalog and compute each feature kind with boolean
masks, ``groupby`` and ``merge``. It follows the semantics of
:mod:`intentflow.features.query` exactly (same people, sessions, windows, tie-breaks and types),
so :func:`compare` can check the two tables cell by cell before their speeds are compared.

Session aggregates and ranking keys are SQL text in the catalog; this module knows the pandas
form of each one it has seen (:data:`SESSION_AGGREGATES`, :data:`RANKING_KEYS`) and refuses a
catalog that holds another.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from intentflow.events import LAKE_SCHEMA
from intentflow.features.catalog import DAY_OF_WEEK, FEATURES, HOUR_OF_DAY
from intentflow.features.kinds import (
    MICROS,
    OFF_SITE,
    SESSION_GAP_S,
    Count,
    DaysSince,
    Distinct,
    Feature,
    QuantileScore,
    Ranked,
    Ratio,
    SessionAggregate,
    Sum,
    TimePart,
    Trend,
    Window,
)
from intentflow.lake.reader import Lake

DAY_US: Final = 86_400 * MICROS

EVENT_COLUMNS: Final = (
    "message_id",
    "type",
    "user_id",
    "anonymous_id",
    "session_id",
    "item_id",
    "category",
    "revenue",
    "depth_percent",
)
"""Lake columns the features read (besides the time)."""


def load_events(lake_dir: str, cutoff_us: int) -> pd.DataFrame:
    """The lake's events strictly before the cutoff: the columns the catalog reads, with ``us``
    (epoch microseconds) for the timestamp."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=cutoff_us)
    lake = Lake(lake_dir)
    files = [lake.layout.qualified(p) for p in lake.files(end=moment.date())]
    columns: dict[str, Any] = {name: pc.field(name) for name in EVENT_COLUMNS}
    columns["us"] = pc.field("timestamp").cast(pa.int64())
    if files:
        dataset = ds.dataset(files, schema=LAKE_SCHEMA, format="parquet")
        table = dataset.to_table(
            columns=columns, filter=pc.field("timestamp").cast(pa.int64()) < cutoff_us
        )
    else:
        table = pa.table(
            {name: pa.array([], LAKE_SCHEMA.field(name).type) for name in EVENT_COLUMNS}
            | {"us": pa.array([], pa.int64())}
        )
    return table.to_pandas()


def pandas_features(
    events: pd.DataFrame,
    cutoff_us: int,
    gap_s: int = SESSION_GAP_S,
    features: tuple[Feature, ...] = FEATURES,
) -> pd.DataFrame:
    """One row per person (column ``user_id``, sorted) with ``features`` at the cutoff, from
    ``events`` as :func:`load_events` returns them."""
    ev, people = _keyed(events[events["us"] < cutoff_us])
    ev = _sessionized(ev, gap_s)
    pids = pd.RangeIndex(len(people))
    sessions = _sessions(ev)
    values: dict[str, pd.Series] = {}
    rankings: dict[str, pd.DataFrame] = {}
    for feature in features:
        if isinstance(feature, SessionAggregate):
            values[feature.name] = _session_aggregate(feature, sessions, cutoff_us, gap_s)
        elif isinstance(feature, Ranked):
            if feature.ranking not in rankings:
                rankings[feature.ranking] = _ranking(feature, ev, cutoff_us)
            values[feature.name] = _ranked(feature, rankings[feature.ranking])
        elif isinstance(feature, Ratio | Trend | QuantileScore):
            continue  # computed from the others below
        else:
            values[feature.name] = _event_aggregate(feature, ev, cutoff_us)
    table = pd.DataFrame({name: s.reindex(pids) for name, s in values.items()}, index=pids)
    for feature in features:
        if isinstance(feature, Ratio):
            table[feature.name] = _divide(table[feature.numerator], table[feature.denominator])
        elif isinstance(feature, Trend):
            recent, before = table[feature.recent], table[feature.before]
            table[feature.name] = _divide(recent - before, recent + before)
    for feature in features:
        if isinstance(feature, QuantileScore):
            table[feature.name] = _quantile_score(table[feature.of], feature.lower_is_better)
    out = pd.DataFrame({"user_id": pd.Series(people, dtype=object)})
    for feature in features:
        out[feature.name] = _typed(table[feature.name], feature.output_dtype).array
    return out


# --- people and sessions -------------------------------------------------------------------


def _keyed(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Events with their ``person`` (user id, else the anonymous id's latest linked user id, else
    the anonymous id) and its integer code ``pid``, and the person ids by code (sorted)."""
    linked = raw[raw["anonymous_id"].notna() & raw["user_id"].notna()]
    linked = linked.sort_values(["anonymous_id", "us", "message_id"], na_position="first")
    links = linked.drop_duplicates("anonymous_id", keep="last").set_index("anonymous_id")
    person = raw["user_id"].fillna(raw["anonymous_id"].map(links["user_id"]))
    person = person.fillna(raw["anonymous_id"])
    codes, people = pd.factorize(person, sort=True)
    return raw.assign(person=person, pid=codes), list(people)


def _sessionized(ev: pd.DataFrame, gap_s: int) -> pd.DataFrame:
    """Events in person and time order with their ``session`` and ``dwell_s``.

    Sessions hold on-site events only: the tracker's session id, else a new session after
    ``gap_s`` between two on-site events of the person. Off-site events (:data:`OFF_SITE`) belong
    to no session and do not split one. ``dwell_s`` is the seconds from a product view to the
    next later event of its session.
    """
    ev = ev.sort_values(["pid", "us", "message_id"], na_position="last", kind="stable")
    ev = ev.reset_index(drop=True)
    ev["off_site"] = ev["type"].isin(OFF_SITE)
    on_off = [ev["pid"], ev["off_site"]]  # on-site and off-site events are ordered apart
    previous = ev["us"].groupby(on_off).shift(1)
    starts = previous.isna() | (ev["us"] - previous > gap_s * MICROS)
    visit = starts.astype("int64").groupby(on_off).cumsum()
    ev["session"] = ev["session_id"].fillna("~" + visit.astype(str)).where(~ev["off_site"])
    # the next later time in the session: the next row's time, unless it is the same, then the
    # next later time of the row after (the rows are in time order within a session)
    in_session = ev.sort_values(["pid", "session", "us"], kind="stable")
    by_session = [in_session["pid"], in_session["session"]]
    following = in_session["us"].groupby(by_session).shift(-1)
    later = following.where(following != in_session["us"]).groupby(by_session).bfill()
    dwell = (later - in_session["us"]) / float(MICROS)
    is_view = in_session["type"] == "product_view"
    ev["dwell_s"] = dwell.where(is_view & in_session["session"].notna()).reindex(ev.index)
    return ev


def _sessions(ev: pd.DataFrame) -> pd.DataFrame:
    """One row per session (off-site events have none), with the columns the catalog's session
    aggregates read."""
    kinds = ("page_view", "product_view", "add_to_cart", "purchase")
    ev = ev[ev["session"].notna()]
    ev = ev.assign(**{f"is_{kind}": (ev["type"] == kind).astype("int64") for kind in kinds})
    grouped = ev.groupby(["pid", "session"], sort=False)
    sessions = grouped.agg(
        start_us=("us", "min"),
        end_us=("us", "max"),
        events=("us", "size"),
        page_views=("is_page_view", "sum"),
        product_views=("is_product_view", "sum"),
        add_to_carts=("is_add_to_cart", "sum"),
        purchases=("is_purchase", "sum"),
        max_scroll=("depth_percent", "max"),
        dwelled=("dwell_s", "count"),
    )
    sessions["dwell_s"] = grouped["dwell_s"].sum(min_count=1)
    sessions["duration_s"] = (sessions["end_us"] - sessions["start_us"]) / float(MICROS)
    sessions["minutes"] = ((sessions["end_us"] - sessions["start_us"]) / (60.0 * MICROS)).clip(
        lower=1.0
    )
    sessions["views"] = sessions["page_views"] + sessions["product_views"]
    sessions["bounced"] = (sessions["events"] == 1).astype("int64")
    sessions["abandoned"] = ((sessions["add_to_carts"] > 0) & (sessions["purchases"] == 0)).astype(
        "int64"
    )
    return sessions.reset_index()


# --- kinds ---------------------------------------------------------------------------------


def _in_window(
    ev: pd.DataFrame, types: tuple[str, ...], window: Window | None, cutoff_us: int
) -> pd.Series:
    """The events of ``types`` (all when empty) inside the window at the cutoff."""
    mask = pd.Series(True, index=ev.index)
    if types:
        mask &= ev["type"].isin(types)
    if window is not None:
        start, end = window.bounds(cutoff_us)
        mask &= (ev["us"] >= start) & (ev["us"] < end)
    return mask


def _event_aggregate(feature: Feature, ev: pd.DataFrame, cutoff_us: int) -> pd.Series:
    """Count, Sum, Distinct and DaysSince: one aggregate over the person's events."""
    by = ev["pid"]
    if isinstance(feature, Count):
        return _in_window(ev, feature.types, feature.window, cutoff_us).groupby(by).sum()
    if isinstance(feature, Sum):
        mask = _in_window(ev, feature.types, feature.window, cutoff_us)
        return ev[feature.column].where(mask).groupby(by).sum()
    if isinstance(feature, Distinct):
        mask = _in_window(ev, feature.types, feature.window, cutoff_us)
        return ev[feature.column].where(mask).groupby(by).nunique()
    if isinstance(feature, DaysSince):
        mask = _in_window(ev, feature.types, None, cutoff_us)
        if feature.except_types:
            mask &= ~ev["type"].isin(feature.except_types)
        moments = ev["us"].where(mask).groupby(by)
        moment = moments.min() if feature.first else moments.max()
        return (cutoff_us - moment) / float(DAY_US)
    raise TypeError(f"no pandas form of {type(feature).__name__} ({feature.name})")


def _session_aggregate(
    feature: SessionAggregate, sessions: pd.DataFrame, cutoff_us: int, gap_s: int
) -> pd.Series:
    """An aggregate over the person's sessions that started in the window (or, ``current``,
    that are open at the cutoff)."""
    inside = pd.Series(True, index=sessions.index)
    if feature.current:
        inside &= sessions["end_us"] >= cutoff_us - gap_s * MICROS
    elif feature.window is not None:
        start, end = feature.window.bounds(cutoff_us)
        inside &= (sessions["start_us"] >= start) & (sessions["start_us"] < end)
    by = sessions["pid"]
    if feature.how == "count":
        return inside.groupby(by).sum()
    column = sessions[feature.column]
    if feature.how == "sum":
        return column.where(inside, 0).groupby(by).sum()
    if feature.how == "per":
        return _divide(
            column.where(inside).groupby(by).sum(min_count=1),
            sessions[feature.per].where(inside).groupby(by).sum(min_count=1),
        )
    grouped = column.where(inside).groupby(by)
    return grouped.mean() if feature.how == "mean" else grouped.median()


def _truncated_mod(values: pd.Series, divisor: int) -> pd.Series:
    """``values % divisor`` with SQL's sign rule (the sign of the dividend)."""
    return pd.Series(np.fmod(values.to_numpy(), divisor), index=values.index)


RANKING_KEYS: Final[dict[TimePart, Callable[[pd.DataFrame], pd.Series]]] = {
    HOUR_OF_DAY: lambda ev: _truncated_mod(np.floor(ev["us"] / 3600000000.0).astype("int64"), 24),
    DAY_OF_WEEK: lambda ev: _truncated_mod(
        np.floor(ev["us"] / 86400000000.0).astype("int64") + 3, 7
    ),
}
"""The pandas form of each ranking key of the catalog that is a part of the time, not a column."""


def _ranking(feature: Ranked, ev: pd.DataFrame, cutoff_us: int) -> pd.DataFrame:
    """Per person, the key's values counted, most frequent first (ties: smallest value first),
    with their share of the person's total and their ``position`` from 1."""
    if isinstance(feature.key, TimePart):
        key = RANKING_KEYS[feature.key](ev)
    elif feature.key in ev.columns:
        key = ev[feature.key]
    else:
        raise KeyError(f"no pandas form of ranking key {feature.key!r}")
    mask = _in_window(ev, feature.types, feature.window, cutoff_us) & key.notna()
    picked = pd.DataFrame({"pid": ev["pid"][mask], "value": key[mask]})
    counted = picked.groupby(["pid", "value"]).size().rename("n").reset_index()
    counted["share"] = counted["n"] / counted.groupby("pid")["n"].transform("sum")
    counted = counted.sort_values(["pid", "n", "value"], ascending=[True, False, True])
    counted["position"] = counted.groupby("pid").cumcount() + 1
    return counted


def _ranked(feature: Ranked, ranking: pd.DataFrame) -> pd.Series:
    """The ``rank``-th row's ``column`` of each person's ranking."""
    rows = ranking[ranking["position"] == feature.rank]
    return rows.set_index("pid")[feature.column]


def _divide(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """``numerator / NULLIF(denominator, 0)`` as doubles."""
    den = denominator.astype("float64")
    return numerator.astype("float64") / den.where(den != 0)


def _quantile_score(values: pd.Series, lower_is_better: bool) -> pd.Series:
    """1 + floor(5 * percent rank) among the people with a value (at most 5); 1 without one."""
    known = values.dropna().astype("float64")
    rank = known.rank(method="min", ascending=not lower_is_better)
    percent = (rank - 1) / (len(known) - 1) if len(known) > 1 else rank * 0.0
    score = np.minimum(5, 1 + np.floor(5 * percent))
    return score.reindex(values.index).fillna(1).astype("int64")


def _typed(values: pd.Series, dtype: str) -> pd.Series:
    """The feature's values in its output type (nullable integers, doubles, strings)."""
    if dtype == "int":
        return values.astype("Int64")
    if dtype == "double":
        return values.astype("float64")
    return values.astype(object).where(values.notna(), None)


# --- comparison ----------------------------------------------------------------------------


def compare(
    pandas_table: pd.DataFrame, duckdb_table: pa.Table, rel: float = 1e-9, limit: int = 5
) -> list[str]:
    """Readable differences between the pandas table and the engine's (empty when equal):
    people, columns, then cells (integers and strings exactly, doubles within ``rel``; missing
    values equal each other)."""
    problems: list[str] = []
    left_columns, right_columns = list(pandas_table.columns), duckdb_table.column_names
    if left_columns != right_columns:
        missing = [c for c in right_columns if c not in left_columns]
        extra = [c for c in left_columns if c not in right_columns]
        problems.append(
            f"columns differ: missing {missing}, extra {extra}"
            if missing or extra
            else "columns in another order"
        )
    left_ids = [str(u) for u in pandas_table["user_id"]]
    right_ids = [str(u) for u in duckdb_table.column("user_id").to_pylist()]
    if left_ids != right_ids:
        only_left = sorted(set(left_ids) - set(right_ids))
        only_right = sorted(set(right_ids) - set(left_ids))
        if only_left or only_right:
            problems.append(
                f"user_ids differ: {len(only_left)} only in pandas {only_left[:limit]}, "
                f"{len(only_right)} only in duckdb {only_right[:limit]}"
            )
        else:
            problems.append("user_ids in another order")
    right_row = {u: i for i, u in enumerate(right_ids)}
    rows = [(i, right_row[u]) for i, u in enumerate(left_ids) if u in right_row]
    for name in (c for c in left_columns if c in right_columns and c != "user_id"):
        kind = duckdb_table.schema.field(name).type
        left = [_plain(v) for v in pandas_table[name].tolist()]
        right = duckdb_table.column(name).to_pylist()
        bad = [
            (left_ids[i], left[i], right[j])
            for i, j in rows
            if not _same(left[i], right[j], pa.types.is_floating(kind), rel)
        ]
        if bad:
            shown = ", ".join(f"{u}: pandas={a!r} duckdb={b!r}" for u, a, b in bad[:limit])
            problems.append(f"{name}: {len(bad)} of {len(rows)} differ, e.g. {shown}")
    return problems


def _plain(value: Any) -> Any:
    """A pandas cell as a Python value, every kind of missing as ``None``."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _same(left: Any, right: Any, floating: bool, rel: float) -> bool:
    if right is not None and isinstance(right, float) and math.isnan(right):
        right = None
    if left is None or right is None:
        return left is None and right is None
    if floating:
        return math.isclose(float(left), float(right), rel_tol=rel, abs_tol=1e-12)
    return bool(left == right)
