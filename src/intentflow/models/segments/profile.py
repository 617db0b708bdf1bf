"""What each segment is: its size, its features against everyone's (as lift), its top
categories, and a name a marketer can read.

Names come from rules on the roles of the lake's features (recency, frequency, money, activity,
carts, tenure), comparing a segment with everyone: the lift of its mean, the share of buyers,
and where its median recency and tenure fall among everyone's. The first rule that holds names
the segment:

==========================  =================================================================
name                        rule
==========================  =================================================================
Loyal big spenders          repeat buyers (median orders 2 or more, a minority of everyone:
                            at most 35 %) whose orders and spend are at least 1.5x everyone's,
                            seen recently (needs revenue)
At risk                     buyers at least as often as everyone, not seen lately (median
                            recency past everyone's 60th percentile)
Loyal regulars              repeat buyers (as above), orders at least 1.5x everyone's
Recent buyers               most of them bought, orders at least 1.5x everyone's
Lapsed visitors             not seen lately (median recency past the 75th percentile)
New visitors                first seen recently (median tenure below the 30th percentile,
                            mean tenure at most half of everyone's), less active than everyone
Cart abandoners             add-to-carts at least 1.5x everyone's, buying less than everyone
Window shoppers             events at least 1.5x everyone's
Light browsers              events at most half of everyone's
Casual browsers             the rest
==========================  =================================================================

A table without these features names a segment by its two strongest lifts ("High x, low y").
Two segments with one name are told apart by their strongest lift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from intentflow.models.segments.algorithms import NOISE

UNCLASSIFIED: Final = "Unclassified"
LOYAL_SHARE: Final = 0.35
"""A "loyal" segment is a minority: at most this share of everyone."""

ROLES: Final = {
    "recency": "days_since_last_visit",
    "frequency": "orders_90d",
    "monetary": "revenue_90d",
    "activity": "events_30d",
    "carts": "add_to_carts_30d",
    "tenure": "days_since_first_seen",
}
"""The lake feature that plays each role in the naming rules."""


@dataclass
class Profile:
    """One segment against everyone."""

    id: int
    name: str
    size: int
    share: float
    mean: dict[str, float]
    median: dict[str, float]
    lift: dict[str, float]
    """The segment's mean over everyone's mean (NaN when everyone's mean is 0)."""
    active: dict[str, float]
    """The share of the segment's people with a value above 0."""
    effect: dict[str, float] = field(default_factory=dict)
    """How far the segment's mean lies from everyone's, in everyone's standard deviations:
    what sets the segment apart (a lift alone overstates rare, near-zero features)."""
    top: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    """Per text column, the top values: (value, share in the segment, lift over everyone)."""

    def standouts(self, n: int = 3) -> list[tuple[str, float]]:
        """The features that set the segment apart most (largest effect), with their lift."""
        usable = [
            c
            for c, v in self.lift.items()
            if v is not None and math.isfinite(v) and c in self.effect
        ]
        ranked = sorted(usable, key=lambda c: (-abs(self.effect[c]), c))
        return [(c, self.lift[c]) for c in ranked[:n]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        top = {k: [tuple(t) for t in v] for k, v in data.get("top", {}).items()}
        return cls(**{**data, "top": top})


def _lift(segment: float, overall: float) -> float:
    return segment / overall if overall else float("nan")


def profiles(
    raw: pd.DataFrame, segments: np.ndarray, text: pd.DataFrame | None = None
) -> list[Profile]:
    """Everyone's segment profiles, from filled raw features and each person's segment id."""
    overall_mean, overall_std = raw.mean(), raw.std(ddof=0)
    total = len(raw)
    out = []
    text = text if text is not None else pd.DataFrame(index=raw.index)
    overall_share = {c: text[c].value_counts(normalize=True) for c in text.columns}
    for seg in sorted(np.unique(segments).tolist()):
        members = segments == seg
        part = raw[members]
        mean, median = part.mean(), part.median()
        top: dict[str, list[tuple[str, float, float]]] = {}
        for column in text.columns:
            shares = text[column][members].value_counts(normalize=True).head(3)
            top[column] = [
                (str(v), float(s), _lift(float(s), float(overall_share[column].get(v, 0.0))))
                for v, s in shares.items()
            ]
        out.append(
            Profile(
                id=int(seg),
                name="",
                size=int(members.sum()),
                share=float(members.sum() / total),
                mean={c: float(mean[c]) for c in raw.columns},
                median={c: float(median[c]) for c in raw.columns},
                lift={c: _lift(float(mean[c]), float(overall_mean[c])) for c in raw.columns},
                active={c: float((part[c] > 0).mean()) for c in raw.columns},
                effect={
                    c: float((mean[c] - overall_mean[c]) / overall_std[c])
                    if overall_std[c]
                    else 0.0
                    for c in raw.columns
                },
                top=top,
            )
        )
    return out


def _rank(values: np.ndarray, value: float) -> float:
    """Share of everyone at or below ``value``."""
    return float(np.searchsorted(values, value, side="right") / max(len(values), 1))


def rule_name(profile: Profile, everyone: pd.DataFrame) -> str | None:
    """The rule-based name of a segment (see the module's doc), or None without the roles."""
    cols = {role: c for role, c in ROLES.items() if c in profile.lift}
    if not {"recency", "frequency", "activity"} <= set(cols):
        return None

    def lift(role: str, default: float = 1.0) -> float:
        value = profile.lift.get(cols.get(role, ""), float("nan"))
        return value if math.isfinite(value) else default

    def rank(role: str, default: float = 0.5) -> float:
        if role not in cols:
            return default
        return _rank(np.sort(everyone[cols[role]].to_numpy()), profile.median[cols[role]])

    frequency = lift("frequency")
    money = lift("monetary")
    buyers = profile.active[cols["frequency"]]
    repeat = profile.median[cols["frequency"]] >= 2 and profile.share <= LOYAL_SHARE
    everyone_buyers = float((everyone[cols["frequency"]] > 0).mean())
    recency, tenure, activity = rank("recency"), rank("tenure"), lift("activity")
    if repeat and "monetary" in cols and frequency >= 1.5 and money >= 1.5 and recency < 0.6:
        return "Loyal big spenders"
    if buyers > 0 and buyers >= everyone_buyers and recency >= 0.6:
        return "At risk"
    if repeat and frequency >= 1.5:
        return "Loyal regulars"
    if buyers >= 0.5 and frequency >= 1.5:
        return "Recent buyers"
    if recency >= 0.75:
        return "Lapsed visitors"
    if tenure < 0.3 and lift("tenure") <= 0.5 and activity < 1:
        return "New visitors"
    if lift("carts") >= 1.5 and buyers < everyone_buyers:
        return "Cart abandoners"
    if activity >= 1.5:
        return "Window shoppers"
    if activity <= 0.5:
        return "Light browsers"
    return "Casual browsers"


def _words(column: str, lift: float) -> str:
    return f"{'high' if lift > 1 else 'low'} {column.replace('_', ' ')}"


def lift_name(profile: Profile) -> str:
    """A name from the two strongest lifts, for tables without the lake's roles."""
    words = [_words(c, v) for c, v in profile.standouts(2)]
    return (", ".join(words) or "Average").capitalize()


def name_segments(
    found: list[Profile], everyone: pd.DataFrame, kept: Mapping[int, str] | None = None
) -> None:
    """Give every profile a distinct name (see the module's doc); segments in ``kept`` (matched
    to a previous model) keep the name they had."""
    kept = kept or {}
    for profile in found:
        if profile.id == NOISE:
            profile.name = UNCLASSIFIED
        elif profile.id in kept:
            profile.name = kept[profile.id]
        else:
            profile.name = rule_name(profile, everyone) or lift_name(profile)
    named = {id(p): p.name for p in found}
    for profile in found:
        twins = [p for p in found if named[id(p)] == named[id(profile)] and p is not profile]
        if twins and profile.id not in kept:
            profile.name = _told_apart(profile, twins)
    names = [p.name for p in found]
    for profile in found:
        if names.count(profile.name) > 1 and profile.id not in kept:
            profile.name = f"{profile.name} #{profile.id}"


def _told_apart(profile: Profile, twins: list[Profile]) -> str:
    """The name with the feature that differs most from the segments of the same name."""

    def gap(column: str) -> float:
        others = np.mean([t.effect.get(column, 0.0) for t in twins])
        return abs(profile.effect.get(column, 0.0) - float(others))

    named = profile.name.lower()
    usable = [
        c
        for c, v in profile.lift.items()
        if v is not None and math.isfinite(v) and c.replace("_", " ") not in named
    ]
    if not usable:
        return profile.name
    column = max(sorted(usable), key=gap)
    return f"{profile.name} ({_words(column, profile.lift[column])})"


def to_frame(found: list[Profile]) -> pd.DataFrame:
    """One row per segment: id, name, size, share, then each feature's mean, median and lift,
    then the top values of each text column."""
    rows = []
    for p in found:
        row: dict[str, Any] = {"id": p.id, "name": p.name, "size": p.size, "share": p.share}
        for column in p.mean:
            row[f"{column}_mean"] = p.mean[column]
            row[f"{column}_median"] = p.median[column]
            row[f"{column}_lift"] = p.lift[column]
        for column, values in p.top.items():
            row[f"top_{column}"] = "; ".join(f"{v} ({s:.0%})" for v, s, _ in values)
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.2f}"


def to_markdown(found: list[Profile]) -> str:
    """The profiles as Markdown: a summary table, then every feature's lift per segment."""
    lines = [
        "| id | name | people | share | stands out by | top categories |",
        "|---:|---|---:|---:|---|---|",
    ]
    for p in found:
        standouts = ", ".join(f"{c} x{v:.2f}" for c, v in p.standouts(3))
        top = "; ".join(f"{v} ({s:.0%})" for values in p.top.values() for v, s, _ in values[:3])
        lines.append(f"| {p.id} | {p.name} | {p.size:,} | {p.share:.1%} | {standouts} | {top} |")
    if found:
        columns = list(found[0].lift)
        lines += [
            "",
            "Lift of each feature's mean over everyone's:",
            "",
            "| feature | " + " | ".join(f"{p.id}: {p.name}" for p in found) + " |",
            "|---|" + "---:|" * len(found),
        ]
        for column in columns:
            lifts = " | ".join(_fmt(p.lift[column]) for p in found)
            lines.append(f"| {column} | {lifts} |")
    return "\n".join(lines) + "\n"
