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
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

Split = tuple[np.ndarray, np.ndarray]


class LeakError(ValueError):
    """A split that lets the test side leak into training."""


def stratified_folds(labels: np.ndarray, k: int, *, seed: int = 42) -> list[Split]:
    """``k`` folds with the positive share of the whole in each (rare positives stay in every
    fold)."""
    folds = StratifiedKFold(k, shuffle=True, random_state=seed)
    return [(train, test) for train, test in folds.split(np.zeros(len(labels)), labels)]


def stratified_holdout(labels: np.ndarray, share: float, *, seed: int = 42) -> Split:
    """One split holding out ``share`` of the rows, with the positive share of the whole on both
    sides."""
    rows = np.arange(len(labels))
    train, test = train_test_split(rows, test_size=share, stratify=labels, random_state=seed)
    return np.sort(train), np.sort(test)


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


def time_cut(times: np.ndarray, share: float) -> Split:
    """Earlier and later rows: the later part holds the latest ``share`` of the distinct times
    (at least one), so rows of one time never straddle the cut.

    >>> time_cut(np.array([3, 1, 2, 3, 1]), 0.3)
    (array([1, 2, 4]), array([0, 3]))
    """
    distinct = np.unique(times)
    n = len(distinct)
    if n < 2:
        raise ValueError("a split in time needs at least two distinct times")
    later = min(max(1, round(n * share)), n - 1)
    boundary = distinct[n - later]
    rows = np.arange(len(times))
    return rows[times < boundary], rows[times >= boundary]


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
