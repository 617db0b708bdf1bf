"""Interactions as a sparse person x item matrix (ones where a person interacted with an item),
with the item ids of its columns: what the matrix-based generators fit on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from intentflow.recommend.base import History, Scored


@dataclass(frozen=True)
class Matrix:
    """A person x item matrix of ``float32`` ones, and the ids of its columns."""

    values: sp.csr_matrix
    items: list[str]

    @classmethod
    def of(cls, interactions: pd.DataFrame) -> Matrix:
        people = pd.Index(interactions["person"].astype(str).unique())
        items = pd.Index(interactions["item"].astype(str).unique())
        rows = people.get_indexer(interactions["person"].astype(str))
        cols = items.get_indexer(interactions["item"].astype(str))
        ones = np.ones(len(rows), dtype=np.float32)
        values = sp.csr_matrix((ones, (rows, cols)), shape=(len(people), len(items)))
        values.data[:] = 1.0  # repeats count once
        return cls(values, list(items))

    @cached_property
    def index(self) -> dict[str, int]:
        """Each item's column."""
        return {item: i for i, item in enumerate(self.items)}

    def row(self, history: Iterable[str]) -> sp.csr_matrix:
        """A person's history as one row (items not in the matrix left out)."""
        index = self.index
        cols = sorted({index[i] for i in history if i in index})
        return sp.csr_matrix(
            (np.ones(len(cols), dtype=np.float32), ([0] * len(cols), cols)),
            shape=(1, len(self.items)),
        )


def top(scores: np.ndarray, matrix: Matrix, n: int, exclude: Iterable[str] = ()) -> list[Scored]:
    """The ``n`` best columns of ``scores`` as items, none of ``exclude`` (ties: the smaller item
    id first, as :func:`~intentflow.recommend.base.best`)."""
    scores = np.asarray(scores, dtype=np.float64).ravel().copy()
    index = matrix.index
    for item in exclude:
        if item in index:
            scores[index[item]] = -np.inf
    n = min(n, int(np.isfinite(scores).sum()))
    if n <= 0:
        return []
    cut = np.partition(-scores, n - 1)[n - 1]  # minus the n-th best score
    above = np.flatnonzero(-scores < cut)
    tied = sorted(np.flatnonzero(-scores == cut), key=lambda i: matrix.items[i])
    chosen = [*above, *tied[: n - len(above)]]
    chosen.sort(key=lambda i: (-scores[i], matrix.items[i]))
    return [Scored(matrix.items[i], float(scores[i])) for i in chosen]


class MatrixGenerator:
    """A generator that scores every item from a person's history row: the subclass fits
    ``matrix_`` and scores a row (:meth:`scores`); recommending is the same for all."""

    matrix_: Matrix

    def scores(self, row: sp.csr_matrix) -> np.ndarray:
        """Each item's score for a person's history ``row``."""
        raise NotImplementedError

    def recommend(self, history: History, n: int, exclude: Iterable[str] = ()) -> list[Scored]:
        row = self.matrix_.row(history)
        if not row.nnz:
            return []
        return top(self.scores(row), self.matrix_, n, exclude)
