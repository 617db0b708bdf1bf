"""Training tables: a label column and feature columns, checked before any model sees them.

Any CSV or Parquet table trains (bring your own features): numeric and boolean columns are
features as they are, text columns and numeric columns declared categorical (codes such as a
region or a browser) become categoricals, infinities become missing values
(gradient boosting treats them as missing), and the label must be binary. What cannot make a
sound model is refused with the reason: no label column, a label with other values or missing
ones, one class only, fewer positives or negatives than folds.

>>> import pandas as pd
>>> frame = pd.DataFrame({"x": [1.0, float("inf"), 3.0, 4.0], "kind": ["a", "b", "a", "b"],
...                       "y": ["TRUE", "FALSE", "FALSE", "TRUE"]})
>>> table = prepare(frame, "y", folds=2)
>>> table.labels.tolist(), table.features.dtypes.astype(str).tolist()
([1, 0, 0, 1], ['float64', 'category'])
>>> table.features["x"].isna().tolist()
[False, True, False, False]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from intentflow.models.intent.schema import category_key

TRUE_WORDS: Final = frozenset({"1", "true", "t", "yes", "y"})
FALSE_WORDS: Final = frozenset({"0", "false", "f", "no", "n"})


class TableError(ValueError):
    """A training table that cannot make a sound model, with the reason."""


@dataclass(frozen=True)
class TrainingTable:
    """Features (one column each, categoricals as ``category``) and 0/1 labels."""

    features: pd.DataFrame
    labels: np.ndarray
    label: str
    dropped: tuple[str, ...] = ()
    """Columns left out: identifiers and columns with a single value."""
    groups: np.ndarray | None = None
    """The person of each row, for splits grouped by person."""
    times: np.ndarray | None = None
    """The time of each row (a training set's cutoff), for splits in time."""
    reach: np.timedelta64 | None = None
    """How far after its time a row's label looks: a split in time keeps out of training the
    rows whose label reaches into the later part."""
    feature_version: str | None = None
    """The feature catalog's version when the features come from it."""
    descriptions: dict[str, str] = field(default_factory=dict)
    """Feature descriptions, for reasons in plain words."""

    @property
    def positives(self) -> int:
        return int(self.labels.sum())


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file as a data frame."""
    suffix = Path(path).suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    if suffix in {".csv", ".txt", ".tsv"}:
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    raise TableError(f"{path}: a training table is a .csv or .parquet file")


def binary_labels(values: pd.Series, name: str) -> np.ndarray:
    """0/1 labels from booleans, 0/1 numbers or words (true/false, yes/no)."""
    if values.isna().any():
        raise TableError(f"label {name!r} is missing in {int(values.isna().sum())} rows")
    if pd.api.types.is_bool_dtype(values):
        return np.asarray(values.to_numpy(dtype=np.int64))
    if pd.api.types.is_numeric_dtype(values):
        seen = set(np.unique(values.to_numpy()).tolist())
        if not seen <= {0, 1}:
            raise TableError(f"label {name!r} is not binary: values {sorted(seen)[:6]}")
        return np.asarray(values.to_numpy(dtype=np.int64))
    words = values.astype(str).str.strip().str.lower()
    unknown = sorted(set(words) - TRUE_WORDS - FALSE_WORDS)
    if unknown:
        raise TableError(f"label {name!r} is not binary: values such as {unknown[:6]}")
    return np.asarray(words.isin(TRUE_WORDS).to_numpy(dtype=np.int64))


def prepare(
    frame: pd.DataFrame,
    label: str,
    *,
    folds: int = 5,
    drop: tuple[str, ...] = (),
    group: str | None = None,
    time: str | None = None,
    categorical: tuple[str, ...] = (),
) -> TrainingTable:
    """Check ``frame`` and split it into features and labels (see the module's doc). ``group``
    names the person column and ``time`` the time column, when splits need them; neither is a
    feature. ``categorical`` names numeric columns that are codes (a region, a browser), to be
    split as categories rather than ordered numbers."""
    for role, column in (
        ("group", group),
        ("time", time),
        *(("categorical", c) for c in categorical),
    ):
        if column is not None and column not in frame.columns:
            raise TableError(f"no {role} column {column!r} in the table")
    if label not in frame.columns:
        raise TableError(
            f"no label column {label!r}; columns: {', '.join(map(str, frame.columns))}"
        )
    labels = binary_labels(frame[label], label)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise TableError(
            f"label {label!r} has one class only ({len(labels)} rows, all {int(positives > 0)})"
        )
    if min(positives, negatives) < folds:
        raise TableError(
            f"label {label!r} has {positives} positives and {negatives} negatives: too few for "
            f"{folds} folds"
        )
    dropped = [c for c in (*drop, group, time) if c is not None and c in frame.columns]
    features = frame.drop(columns=[label, *dropped])
    for column in list(features.columns):
        values = features[column]
        if values.nunique(dropna=False) <= 1:
            dropped.append(str(column))
            features = features.drop(columns=[column])
        elif column not in categorical and pd.api.types.is_bool_dtype(values):
            features[column] = values.astype(np.int8)
        elif column not in categorical and pd.api.types.is_numeric_dtype(values):
            features[column] = values.astype(np.float64).replace([np.inf, -np.inf], np.nan)
        else:
            named = values.map(category_key, na_action="ignore")
            features[column] = named.where(values.notna()).astype("category")
    if features.shape[1] == 0:
        raise TableError("no feature columns left besides the label")
    return TrainingTable(
        features,
        labels,
        label,
        tuple(dropped),
        groups=frame[group].to_numpy() if group else None,
        times=(
            pd.to_datetime(frame[time], utc=True).dt.tz_localize(None).to_numpy() if time else None
        ),
    )
