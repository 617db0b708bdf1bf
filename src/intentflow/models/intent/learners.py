"""The baselines every evaluation shows beside the model, fitted on the same training rows and
scored on the same test rows:

- :class:`LogisticBaseline`: logistic regression on one-hot categoricals and scaled numbers
  (missing values imputed by the median of the training rows);
- :class:`RuleBaseline`: a rule people use without a model, such as "more add-to-carts, more
  intent": the score is one column's value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


@dataclass
class LogisticBaseline:
    """Logistic regression on one-hot categoricals and scaled, imputed numbers."""

    name: str = "logistic_regression"
    model: Pipeline | None = None

    def fit(self, features: pd.DataFrame, labels: np.ndarray) -> LogisticBaseline:
        categorical = [
            c for c in features.columns if isinstance(features[c].dtype, pd.CategoricalDtype)
        ]
        numeric = [c for c in features.columns if c not in categorical]
        columns = ColumnTransformer(
            [
                (
                    "numbers",
                    make_pipeline(
                        SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()
                    ),
                    numeric,
                ),
                ("categories", OneHotEncoder(handle_unknown="ignore"), categorical),
            ]
        )
        self.model = make_pipeline(columns, LogisticRegression(max_iter=2000))
        self.model.fit(features, labels)
        return self

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("the model is not trained")
        return np.asarray(self.model.predict_proba(features)[:, 1])


@dataclass
class RuleBaseline:
    """The score rises with ``column``'s value (missing counts as 0). The only thing learnt is
    the purchase rate per value on the training rows (an isotonic fit), so that the rule's
    scores are probabilities and every metric applies; its ranking is the column's."""

    column: str
    name: str = "rule"
    rates: IsotonicRegression | None = None

    def _values(self, features: pd.DataFrame) -> np.ndarray:
        if self.column not in features.columns:
            raise KeyError(f"the rule's column {self.column!r} is not a feature")
        values = pd.to_numeric(features[self.column], errors="coerce").fillna(0.0)
        return np.asarray(values.to_numpy(dtype=np.float64))

    def fit(self, features: pd.DataFrame, labels: np.ndarray) -> RuleBaseline:
        self.rates = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        self.rates.fit(self._values(features), labels)
        return self

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        if self.rates is None:
            raise RuntimeError("the rule is not fitted")
        return np.asarray(self.rates.predict(self._values(features)))
