"""What segments are built from: one row per person, numeric features and descriptive text.

Two sources give the same :class:`People`:

- the lake: Step 2's feature table at a cutoff (by default just after the lake's last event),
  narrowed to the behavioral features in :data:`LAKE_FEATURES` (recency, frequency, money,
  activity, engagement, funnel, breadth, tenure) and the person's top category as text;
- any CSV or Parquet table keyed by an id column: every numeric or boolean column is a feature,
  every text column describes people (its top values are shown per segment).

Missing values are filled, and how is part of the fitted model (so a person scored online is
filled alike): for the lake, a never-happened ``days_since_*`` becomes the largest value seen
(as long ago as anyone) and any other empty value (a ratio without a denominator, a session
aggregate without sessions) becomes 0; for a table, a column's median. A column that is empty
throughout is left out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from intentflow.config import Settings
from intentflow.features.build import AS_OF_KEY, VERSION_KEY, build_features
from intentflow.features.catalog import FEATURES
from intentflow.features.engines import configured_engine
from intentflow.lake.reader import Lake

LAKE_FEATURES: Final = (
    "days_since_last_visit",
    "days_since_last_purchase",
    "orders_90d",
    "revenue_90d",
    "events_30d",
    "product_views_30d",
    "add_to_carts_30d",
    "abandoned_carts_30d",
    "sessions_30d",
    "mean_session_seconds_30d",
    "pages_per_session_30d",
    "bounce_rate_30d",
    "mean_scroll_depth_30d",
    "mean_dwell_seconds_30d",
    "view_to_cart_30d",
    "distinct_categories_viewed_30d",
    "top_category_1_share",
    "days_since_first_seen",
    "trend_7d",
    "email_opens_30d",
)
"""The catalog features people are segmented on by default: twenty behavioral measures."""

LAKE_TEXT: Final = ("top_category_1",)
"""The catalog's text features shown per segment (their top values)."""


class SegmentError(ValueError):
    """Input that cannot be segmented, with the reason."""


@dataclass(frozen=True)
class People:
    """One row per person: numeric features (missing values still missing) and text."""

    ids: np.ndarray
    features: pd.DataFrame
    text: pd.DataFrame
    feature_version: str
    """The feature catalog's version, or for a table a digest of its feature columns: a
    refresh must read the same features as the segments it refreshes."""
    fills: dict[str, str] = field(default_factory=dict)
    """How each feature's missing values are filled: ``max``, ``zero`` or ``median``."""
    descriptions: dict[str, str] = field(default_factory=dict)
    source: str = "table"
    as_of: str | None = None

    def __len__(self) -> int:
        return len(self.ids)


def table_version(columns: list[str]) -> str:
    """The feature version of a table: a digest of its feature columns, in order."""
    return "table:" + hashlib.sha256("\0".join(columns).encode()).hexdigest()[:16]


def from_frame(frame: pd.DataFrame, id_column: str, *, source: str = "table") -> People:
    """People from a data frame keyed by ``id_column`` (see the module's doc)."""
    frame = frame.rename(columns=str)
    if id_column not in frame.columns:
        raise SegmentError(
            f"no id column {id_column!r}; columns: {', '.join(map(str, frame.columns))}"
        )
    ids = frame[id_column]
    if ids.isna().any():
        raise SegmentError(f"{int(ids.isna().sum())} rows have no {id_column!r}")
    if ids.duplicated().any():
        repeated = ids[ids.duplicated()].astype(str).unique()[:3].tolist()
        raise SegmentError(f"{id_column!r} repeats ({', '.join(repeated)}): one row per person")
    rest = frame.drop(columns=[id_column])
    numeric = [
        str(c)
        for c in rest.columns
        if pd.api.types.is_numeric_dtype(rest[c]) or pd.api.types.is_bool_dtype(rest[c])
    ]
    text = [str(c) for c in rest.columns if str(c) not in numeric]
    features = rest[numeric].astype(np.float64).replace([np.inf, -np.inf], np.nan)
    if not numeric:
        raise SegmentError("no numeric feature columns besides the id")
    return People(
        ids=ids.astype(str).to_numpy(),
        features=features.reset_index(drop=True),
        text=rest[text].astype("string").reset_index(drop=True),
        feature_version=table_version(numeric),
        fills=dict.fromkeys(numeric, "median"),
        source=source,
    )


def read_people(path: str | Path, id_column: str) -> People:
    """People from a CSV or Parquet file."""
    suffix = Path(path).suffix.lower()
    if suffix not in {".parquet", ".pq", ".csv", ".tsv", ".txt"}:
        raise SegmentError(f"{path}: a table of people is a .csv or .parquet file")
    try:
        if suffix in {".parquet", ".pq"}:
            frame = pd.read_parquet(path)
        else:  # ids as written: 007 stays 007
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype={id_column: str})
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise SegmentError(f"cannot read {path}: {exc}") from None
    return from_frame(frame, id_column, source=str(path))


def from_features(table: pa.Table) -> People:
    """People from a feature table of the catalog (``build_features``)."""
    metadata = table.schema.metadata or {}
    if VERSION_KEY not in metadata:
        raise SegmentError("not a feature table of the catalog (no catalog version)")
    frame = table.to_pandas()
    missing = [c for c in (*LAKE_FEATURES, *LAKE_TEXT) if c not in frame.columns]
    if missing:
        raise SegmentError(f"the feature table lacks {', '.join(missing)}")
    features = frame[list(LAKE_FEATURES)].astype(np.float64)
    descriptions = {f.name: f.description for f in FEATURES if f.name in LAKE_FEATURES}
    return People(
        ids=frame["user_id"].astype(str).to_numpy(),
        features=features,
        text=frame[list(LAKE_TEXT)].astype("string"),
        feature_version=metadata[VERSION_KEY].decode(),
        fills={c: "max" if c.startswith("days_since") else "zero" for c in LAKE_FEATURES},
        descriptions=descriptions,
        source="lake",
        as_of=metadata[AS_OF_KEY].decode() if AS_OF_KEY in metadata else None,
    )


def lake_people(settings: Settings, as_of: datetime | None = None) -> People:
    """Everyone in the lake with their features at ``as_of`` (default: just after the lake's
    last event, so that a lake of old events still has its recent windows filled)."""
    lake = Lake(settings.lake_dir, settings.lake.storage_options)
    if as_of is None:
        span = lake.time_range()
        if span is None:
            raise SegmentError("the lake is empty: collect or import events first")
        as_of = span[1] + timedelta(seconds=1)
    table = build_features(
        lake,
        as_of,
        engine=configured_engine(settings),
        gap_s=settings.features.session_gap_s,
    )
    return from_features(table)
