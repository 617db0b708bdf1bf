"""Leak-free splits: stratified folds, folds grouped by person, and splits in time.

Every split is a list of ``(train, test)`` index arrays. :func:`check_split` refuses a split that
leaks: a row in both sides, a person on both sides (when groups are given), or training rows at
or after the earliest test time (when times are given).

>>> import numpy as np
>>> y = np.array([0, 1] * 10)
>>> [len(test) for _, test in stratified_folds(y, 4, seed=0)]
[5, 5, 5, 5]
>>> check_split(np.array([0, 1]), np.array([1, 2]))
Traceback (most recent call last):
...
intentflow.models.intent.splits.LeakError: 1 rows are in both the training and the test side
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

Split = tuple[np.ndarray, np.ndarray]


class LeakError(ValueError):
    """A split that lets the test side leak into training."""


def stratified_folds(labels: np.ndarray, k: int, *, seed: int = 42) -> list[Split]:
    """``k`` folds with the positive share of the whole in each (rare positives stay in every
    fold)."""
    folds = StratifiedKFold(k, shuffle=True, random_state=seed)
    return [(train, test) for train, test in folds.split(np.zeros(len(labels)), labels)]


def grouped_folds(
    labels: np.ndarray, groups: Sequence[object] | np.ndarray, k: int, *, seed: int = 42
) -> list[Split]:
    """``k`` folds where each person (group) is in one fold only, stratified as far as that
    allows."""
    folds = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
    return [
        (train, test)
        for train, test in folds.split(np.zeros(len(labels)), labels, np.asarray(groups))
    ]


def temporal_split(
    times: np.ndarray, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test rows by time: the earliest rows train, the latest test. Rows
    of one time never straddle two parts."""
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) <= 0:
        raise ValueError("fractions must be positive and add up to 1")
    distinct = np.unique(times)
    n = len(distinct)
    if n < 3:
        raise ValueError("a temporal split needs at least three distinct times")
    cut = min(max(1, round(n * fractions[0])), n - 2)
    end = min(max(cut + 1, round(n * (fractions[0] + fractions[1]))), n - 1)
    first, second = distinct[cut], distinct[end]
    rows = np.arange(len(times))
    return rows[times < first], rows[(times >= first) & (times < second)], rows[times >= second]


def check_split(
    train: np.ndarray,
    test: np.ndarray,
    *,
    groups: Sequence[object] | np.ndarray | None = None,
    times: np.ndarray | None = None,
) -> None:
    """Raise :class:`LeakError` when the test side leaks into training."""
    both = np.intersect1d(train, test)
    if len(both):
        raise LeakError(f"{len(both)} rows are in both the training and the test side")
    if groups is not None:
        values = np.asarray(groups, dtype=object)
        shared = set(values[train].tolist()) & set(values[test].tolist())
        if shared:
            example = sorted(map(str, shared))[:3]
            raise LeakError(f"{len(shared)} people are on both sides (e.g. {', '.join(example)})")
    if times is not None and len(train) and len(test):
        latest, earliest = times[train].max(), times[test].min()
        if latest >= earliest:
            raise LeakError(
                f"training rows reach {latest}, at or after the first test time {earliest}"
            )
