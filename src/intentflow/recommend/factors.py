"""The `implicit` library's models as generators: alternating least squares (matrix
factorization for implicit feedback) and item-kNN (cosine item-to-item), the baselines people
would use instead."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import scipy.sparse as sp
import threadpoolctl

from intentflow.recommend.matrix import Matrix, MatrixGenerator


@contextmanager
def _quiet() -> Iterator[None]:
    """BLAS on one thread (implicit's own threads do the work) and without implicit's notice
    that it converts a transposed matrix it made itself to CSR (it costs microseconds)."""
    from implicit.utils import ParameterWarning

    with threadpoolctl.threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Method expects CSR input", ParameterWarning)
        yield


class ImplicitAls(MatrixGenerator):
    """implicit's ALS; a person is scored by factors solved from their history (the same for
    people seen at fit time and new ones)."""

    name = "als"

    def __init__(self, factors: int = 128, regularization: float = 0.05, iterations: int = 15):
        self.factors, self.regularization, self.iterations = factors, regularization, iterations

    def fit(self, interactions: pd.DataFrame) -> ImplicitAls:
        from implicit.cpu.als import AlternatingLeastSquares

        self.matrix_ = Matrix.of(interactions)
        with _quiet():  # the model checks the BLAS threads when made
            self.model_ = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=0,
            )
            self.model_.fit(self.matrix_.values, show_progress=False)
        return self

    def scores(self, row: sp.csr_matrix) -> np.ndarray:
        with _quiet():
            person = self.model_.recalculate_user(0, row)
        return np.asarray(self.model_.item_factors @ np.ravel(person))


class ImplicitItemKnn(MatrixGenerator):
    """implicit's cosine item-kNN: a person's scores sum their items' neighbour similarities."""

    name = "itemknn"

    def __init__(self, neighbours: int = 100):
        self.neighbours = neighbours

    def fit(self, interactions: pd.DataFrame) -> ImplicitItemKnn:
        from implicit.nearest_neighbours import CosineRecommender

        self.matrix_ = Matrix.of(interactions)
        self.model_ = CosineRecommender(K=self.neighbours)
        with _quiet():
            self.model_.fit(self.matrix_.values, show_progress=False)
        return self

    def scores(self, row: sp.csr_matrix) -> np.ndarray:
        return np.asarray((row @ self.model_.similarity).toarray())
