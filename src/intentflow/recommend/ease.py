"""EASE (Steck, 2019): item-to-item weights learnt in closed form, each item's interactions
predicted from every other item's, with an L2 penalty and no self-weight. Strong on catalogs of
thousands of items; its dense item x item matrix rules out catalogs of hundreds of thousands
(co-visitation serves those)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from intentflow.recommend.matrix import Matrix, MatrixGenerator

MAX_ITEMS = 20_000
"""The largest catalog fitted: fitting holds items squared x 8 bytes several times over (about
10 GB here), the weights kept items squared x 4 bytes."""


class Ease(MatrixGenerator):
    """EASE's weights over the fitted interactions; a person's scores sum their items' rows."""

    name = "ease"

    def __init__(self, l2: float = 200.0):
        self.l2 = l2

    def fit(self, interactions: pd.DataFrame) -> Ease:
        self.matrix_ = Matrix.of(interactions)
        items = len(self.matrix_.items)
        if items > MAX_ITEMS:
            raise ValueError(f"EASE fits at most {MAX_ITEMS:,} items; these have {items:,}")
        values = self.matrix_.values
        gram = (values.T @ values).toarray().astype(np.float64)
        gram[np.diag_indices(items)] += self.l2
        inverse = np.linalg.inv(gram)
        weights = -inverse / np.diag(inverse)
        np.fill_diagonal(weights, 0.0)
        self.weights_ = weights.astype(np.float32)
        return self

    def scores(self, row: sp.csr_matrix) -> np.ndarray:
        return np.asarray(row @ self.weights_)
