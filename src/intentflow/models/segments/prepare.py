"""From raw features to the space people are clustered in, the same for a million or for one.

Fitted on everyone, then applied to anyone: missing values filled (by each column's rule, see
:mod:`.inputs`), columns without variation left out (with the reason), skewed non-negative
columns (counts, money, durations: skewness above 1) log-transformed, every column scaled
(z-score, or min-max to 0-1), a column that nearly repeats an earlier one (absolute correlation
above ``max_correlation`` after the transform) left out so that one behavior does not count
twice in the distances, and optionally the rest projected on principal components. The fitted
numbers are plain arrays, stored as JSON, and :meth:`Preprocessor.transform_one` applies them to
one person in a few microseconds.

>>> import pandas as pd
>>> frame = pd.DataFrame({"views": [0, 1, 2, 50.0], "share": [0.1, None, 0.5, 0.7],
...                       "flag": [1.0, 1.0, 1.0, 1.0]})
>>> prep = Preprocessor().fit(frame, {"views": "zero", "share": "median", "flag": "zero"})
>>> prep.columns_, prep.dropped_
(['views', 'share'], {'flag': 'constant'})
>>> prep.transform(frame).shape
(4, 2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from intentflow.models.segments.inputs import SegmentError

SKEWED = 1.0
"""Skewness above which a non-negative column is log-transformed."""
CORRELATION_SAMPLE = 100_000
"""Rows the correlations between columns are measured on."""


def filled_column(values: pd.Series, fill: float) -> np.ndarray:
    """A column as floats, missing and infinite values replaced by ``fill``."""
    out: np.ndarray = values.to_numpy(dtype=np.float64, copy=True)
    out[~np.isfinite(out)] = fill
    return out


def fill_values(frame: pd.DataFrame, fills: Mapping[str, str]) -> dict[str, float]:
    """What fills each column's missing (or infinite) values, by its rule: ``max``, ``zero``,
    or else the median. Columns without a single value have none."""
    out = {}
    for column in frame.columns:
        values = frame[column].to_numpy(dtype=np.float64)
        seen = values[np.isfinite(values)]
        if seen.size:
            rule = fills.get(str(column), "median")
            out[str(column)] = float({"max": seen.max(), "zero": 0.0}.get(rule, np.median(seen)))
    return out


@dataclass
class Preprocessor:
    """Fill, drop constants, log skewed counts, scale, optionally PCA (see the module's doc)."""

    scaling: Literal["zscore", "minmax"] = "zscore"
    pca: float | None = None
    """Components to keep (an integer of 1 or more) or the share of variance to keep (0-1)."""
    max_correlation: float = 0.95
    """A column correlated beyond this with an earlier kept column is left out (1: keep all)."""

    inputs_: list[str] = field(default_factory=list)
    """Every column offered at fit time (a refresh must offer the same)."""
    columns_: list[str] = field(default_factory=list)
    dropped_: dict[str, str] = field(default_factory=dict)
    fill_: np.ndarray = field(default_factory=lambda: np.zeros(0))
    log_: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    center_: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scale_: np.ndarray = field(default_factory=lambda: np.ones(0))
    components_: np.ndarray | None = None
    """Principal axes, one per column of the output (features x components)."""
    explained_: list[float] = field(default_factory=list)

    def fit(self, frame: pd.DataFrame, fills: Mapping[str, str]) -> Preprocessor:
        """Learn the fill values, log columns, scale and components from everyone's rows."""
        if self.scaling not in ("zscore", "minmax"):
            raise SegmentError(f"scaling {self.scaling!r}: choose zscore or minmax")
        self.inputs_ = [str(c) for c in frame.columns]
        self.dropped_, self.components_, self.explained_ = {}, None, []
        values = fill_values(frame, fills)
        columns, fill = [], []
        for column in self.inputs_:
            if column not in values:
                self.dropped_[column] = "empty"
                continue
            filled = filled_column(frame[column], values[column])
            if filled.min() == filled.max():
                self.dropped_[column] = "constant"
                continue
            columns.append(column)
            fill.append(values[column])
        if not columns:
            raise SegmentError(
                "every feature is constant or empty: nothing tells these people apart "
                f"({', '.join(f'{c} {why}' for c, why in self.dropped_.items())})"
            )
        self.columns_, self.fill_ = columns, np.array(fill)
        raw = self.filled(frame)
        nonnegative = raw.min(axis=0) >= 0
        centered = raw - raw.mean(axis=0)
        spread = raw.std(axis=0)
        skew = (centered**3).mean(axis=0) / np.where(spread > 0, spread, 1.0) ** 3
        self.log_ = nonnegative & (skew > SKEWED)
        logged = self._log(raw)
        if self.scaling == "zscore":
            self.center_, scale = logged.mean(axis=0), logged.std(axis=0)
        else:
            self.center_, scale = logged.min(axis=0), np.ptp(logged, axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        scaled = (logged - self.center_) / self.scale_
        keep = self._uncorrelated(scaled)
        if not keep.all():
            self.columns_ = [c for c, k in zip(self.columns_, keep, strict=True) if k]
            self.fill_, self.log_ = self.fill_[keep], self.log_[keep]
            self.center_, self.scale_ = self.center_[keep], self.scale_[keep]
            scaled = scaled[:, keep]
        if self.pca is not None:
            self._fit_pca(scaled)
        return self

    def _uncorrelated(self, scaled: np.ndarray) -> np.ndarray:
        """Which columns to keep: each one unless it nearly repeats an earlier kept one."""
        rows = scaled[:: max(1, len(scaled) // CORRELATION_SAMPLE)]
        with np.errstate(invalid="ignore", divide="ignore"):
            correlation = np.abs(np.nan_to_num(np.corrcoef(rows, rowvar=False)))
        correlation = np.atleast_2d(correlation)
        keep = np.ones(len(self.columns_), dtype=bool)
        for j in range(len(self.columns_)):
            earlier = np.flatnonzero(keep[:j])
            if len(earlier) and correlation[earlier, j].max() > self.max_correlation:
                twin = int(earlier[correlation[earlier, j].argmax()])
                self.dropped_[self.columns_[j]] = (
                    f"correlated with {self.columns_[twin]} ({correlation[twin, j]:.2f})"
                )
                keep[j] = False
        return keep

    def _fit_pca(self, scaled: np.ndarray) -> None:
        if self.pca is None or self.pca <= 0:
            raise SegmentError(f"pca {self.pca}: a number of components or a share in (0, 1)")
        centered = scaled - scaled.mean(axis=0)
        covariance = centered.T @ centered / max(len(centered) - 1, 1)
        values, vectors = np.linalg.eigh(covariance)
        order = np.argsort(values)[::-1]
        values, vectors = np.clip(values[order], 0, None), vectors[:, order]
        share = values / values.sum()
        if self.pca < 1:
            keep = int(np.searchsorted(np.cumsum(share), self.pca) + 1)
        else:
            keep = int(self.pca)
        keep = max(1, min(keep, len(values)))
        self.components_ = vectors[:, :keep]
        self.explained_ = [float(s) for s in share[:keep]]

    def _log(self, raw: np.ndarray) -> np.ndarray:
        out = raw.copy()
        out[:, self.log_] = np.log1p(out[:, self.log_])
        return out

    def filled(self, frame: pd.DataFrame) -> np.ndarray:
        """The kept columns of ``frame`` with missing values filled, as a float matrix."""
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise SegmentError(f"the features lack {', '.join(missing)}")
        raw: np.ndarray = frame[self.columns_].to_numpy(dtype=np.float64, copy=True)
        gaps = ~np.isfinite(raw)
        if gaps.any():
            raw[gaps] = np.take(self.fill_, np.nonzero(gaps)[1])
        return raw

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Everyone's rows in the clustering space."""
        return self.project(self.filled(frame))

    def project(self, raw: np.ndarray) -> np.ndarray:
        """Filled raw rows (or one row) in the clustering space."""
        out: np.ndarray = raw.astype(np.float64, copy=True)
        if out.ndim == 1:
            out[self.log_] = np.log1p(np.maximum(out[self.log_], 0.0))
        else:
            out[:, self.log_] = np.log1p(np.maximum(out[:, self.log_], 0.0))
        out = (out - self.center_) / self.scale_
        if self.components_ is not None:
            out = out @ self.components_
        return out

    def vector(self, values: Mapping[str, Any]) -> np.ndarray:
        """One person's filled raw vector from a mapping of feature name to value."""
        out = self.fill_.copy()
        for i, column in enumerate(self.columns_):
            value = values.get(column)
            if value is None or value is pd.NA:
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise SegmentError(f"{column} is {value!r}, not a number") from None
            if math.isfinite(number):
                out[i] = number
        return out

    def transform_one(self, values: Mapping[str, Any]) -> np.ndarray:
        """One person's point in the clustering space."""
        return self.project(self.vector(values))

    def to_dict(self) -> dict[str, Any]:
        """The fitted numbers as JSON-ready values."""
        return {
            "scaling": self.scaling,
            "pca": self.pca,
            "max_correlation": self.max_correlation,
            "inputs": self.inputs_,
            "columns": self.columns_,
            "dropped": self.dropped_,
            "fill": self.fill_.tolist(),
            "log": self.log_.tolist(),
            "center": self.center_.tolist(),
            "scale": self.scale_.tolist(),
            "components": None if self.components_ is None else self.components_.tolist(),
            "explained": self.explained_,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preprocessor:
        """A fitted preprocessor from :meth:`to_dict`."""
        components = data.get("components")
        return cls(
            scaling=data["scaling"],
            pca=data.get("pca"),
            max_correlation=data.get("max_correlation", 1.0),
            inputs_=list(data.get("inputs", data["columns"])),
            columns_=list(data["columns"]),
            dropped_=dict(data.get("dropped", {})),
            fill_=np.array(data["fill"], dtype=np.float64),
            log_=np.array(data["log"], dtype=bool),
            center_=np.array(data["center"], dtype=np.float64),
            scale_=np.array(data["scale"], dtype=np.float64),
            components_=None if components is None else np.array(components, dtype=np.float64),
            explained_=list(data.get("explained", [])),
        )
