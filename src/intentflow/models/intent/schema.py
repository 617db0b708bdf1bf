"""The feature schema a model was trained on: column order, which columns are categorical and
their categories. It turns a table (or one person's feature mapping) into the float matrix the
boosters read, categories as their codes, unknown categories and missing values as NaN.

>>> import pandas as pd
>>> frame = pd.DataFrame({"views": [3.0, 1.0], "device": pd.Categorical(["mobile", "desktop"])})
>>> schema = Schema.of(frame)
>>> schema.matrix(frame).tolist()
[[3.0, 1.0], [1.0, 0.0]]
>>> schema.vector({"views": 2, "device": "tablet"}).tolist()
[[2.0, nan]]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd


def category_key(value: Any) -> str:
    """How a category value is named: whole numbers without a decimal point (a region code read
    as ``3`` or as ``3.0`` is the category ``"3"``), anything else as its text."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class FeatureMismatchError(ValueError):
    """Features that are not the ones the model was trained on, with what differs."""


@dataclass(frozen=True)
class Schema:
    """Feature columns in order; ``categories`` maps each categorical column to its values."""

    columns: tuple[str, ...]
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Schema:
        """The schema of a prepared feature frame (categoricals as ``category`` dtype), with the
        categories its rows hold (give it the training rows: a category seen only later is a
        missing value, as it will be in production)."""
        categories = {
            str(c): tuple(map(str, frame[c].cat.remove_unused_categories().cat.categories))
            for c in frame.columns
            if isinstance(frame[c].dtype, pd.CategoricalDtype)
        }
        return cls(tuple(map(str, frame.columns)), categories)

    @property
    def categorical(self) -> list[int]:
        """Positions of the categorical columns."""
        return [i for i, c in enumerate(self.columns) if c in self.categories]

    def version(self) -> str:
        """A hash of the column names and kinds: a model reads only tables of its version."""
        kinds = [(c, "category" if c in self.categories else "number") for c in self.columns]
        return hashlib.sha256(json.dumps(kinds).encode()).hexdigest()[:12]

    def check(self, columns: list[str]) -> None:
        """Raise :class:`FeatureMismatchError` when a feature column is missing."""
        missing = [c for c in self.columns if c not in set(columns)]
        if missing:
            raise FeatureMismatchError(
                f"{len(missing)} feature columns the model needs are missing: "
                f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}"
            )

    @cached_property
    def _lookup(self) -> dict[str, dict[str, float]]:
        return {c: {v: float(i) for i, v in enumerate(vs)} for c, vs in self.categories.items()}

    def _codes(self, column: str, values: pd.Series) -> np.ndarray:
        lookup = self._lookup[column]
        return np.array(
            [lookup.get(category_key(v), np.nan) if pd.notna(v) else np.nan for v in values],
            dtype=np.float64,
        )

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The float matrix of ``frame``'s feature columns (other columns are ignored)."""
        self.check(list(map(str, frame.columns)))
        out = np.empty((len(frame), len(self.columns)), dtype=np.float64)
        for i, column in enumerate(self.columns):
            values = frame[column]
            if column in self.categories:
                out[:, i] = self._codes(column, values)
            else:
                numbers = pd.to_numeric(values, errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
                out[:, i] = np.where(np.isfinite(numbers), numbers, np.nan)
        return out

    def vector(self, features: Mapping[str, Any]) -> np.ndarray:
        """One person's features (a mapping; absent keys are missing values) as a 1-row
        matrix."""
        row = np.empty((1, len(self.columns)), dtype=np.float64)
        for i, column in enumerate(self.columns):
            value = features.get(column)
            if column in self.categories:
                row[0, i] = (
                    np.nan
                    if value is None
                    else self._lookup[column].get(category_key(value), np.nan)
                )
            elif value is None:
                row[0, i] = np.nan
            else:
                number = float(value)
                row[0, i] = number if np.isfinite(number) else np.nan
        return row

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "categories": {k: list(v) for k, v in self.categories.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schema:
        return cls(
            tuple(data["columns"]), {k: tuple(v) for k, v in data.get("categories", {}).items()}
        )
