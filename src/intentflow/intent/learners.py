"""Learners behind one interface: ``fit(features, labels)``, ``predict_proba(features)``.

- :class:`TunedLightGBM`: LightGBM tuned by Optuna (TPE) within the training rows only: each trial
  trains on inner stratified folds with early stopping on the held-out inner fold; the model is
  the best trial's inner-fold boosters, averaged (their out-of-fold scores are kept to choose a
  threshold or calibrate without touching test rows). Class imbalance is handled by weights
  inside the training folds (``scale_pos_weight`` is one of the tuned parameters), never by
  resampling before a split.
- :class:`LogisticBaseline`: logistic regression on one-hot categoricals and scaled numbers
  (missing values imputed by the median of the training rows), the baseline every report shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from intentflow.intent.splits import stratified_folds


class Learner(Protocol):
    """A binary classifier over a feature frame."""

    name: str

    def fit(self, features: pd.DataFrame, labels: np.ndarray) -> Learner: ...

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """The probability of the positive class per row."""
        ...


@dataclass
class Trial:
    """One tuning trial: its parameters, inner-fold ROC-AUC and boosting rounds."""

    number: int
    params: dict[str, Any]
    roc_auc: float
    rounds: list[int]


@dataclass
class TunedLightGBM:
    """LightGBM tuned on inner folds of the training rows (see the module's doc)."""

    trials: int = 30
    inner_folds: int = 3
    seed: int = 42
    threads: int = 0
    max_rounds: int = 3000
    early_stopping: int = 100
    on_trial: Callable[[Trial], None] | None = None
    name: str = "lightgbm"
    history: list[Trial] = field(default_factory=list)
    boosters: list[lgb.Booster] = field(default_factory=list)
    out_of_fold: np.ndarray | None = None
    best: Trial | None = None

    def _params(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "objective": "binary",
            "verbose": -1,
            "seed": self.seed,
            "num_threads": self.threads,
            "bagging_freq": 1,
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.1, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.3, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
            "scale_pos_weight": trial.suggest_float("scale_pos_weight", 1.0, 10.0, log=True),
        }

    def fit(self, features: pd.DataFrame, labels: np.ndarray) -> TunedLightGBM:
        folds = stratified_folds(labels, self.inner_folds, seed=self.seed)
        kept: dict[str, Any] = {}

        def objective(trial: optuna.Trial) -> float:
            params = self._params(trial)
            boosters, rounds = [], []
            oof = np.zeros(len(labels))
            for train, valid in folds:
                booster = lgb.train(
                    params,
                    lgb.Dataset(features.iloc[train], labels[train]),
                    self.max_rounds,
                    valid_sets=[lgb.Dataset(features.iloc[valid], labels[valid])],
                    callbacks=[lgb.early_stopping(self.early_stopping, verbose=False)],
                )
                oof[valid] = booster.predict(
                    features.iloc[valid], num_iteration=booster.best_iteration
                )
                boosters.append(booster)
                rounds.append(int(booster.best_iteration))
            score = float(roc_auc_score(labels, oof))
            record = Trial(trial.number, trial.params, score, rounds)
            self.history.append(record)
            if self.on_trial:
                self.on_trial(record)
            if score > kept.get("score", -math.inf):
                kept.update(score=score, boosters=boosters, oof=oof, trial=record)
            return score

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=self.seed)
        )
        study.optimize(objective, n_trials=self.trials)
        self.boosters, self.out_of_fold, self.best = kept["boosters"], kept["oof"], kept["trial"]
        return self

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        if not self.boosters:
            raise RuntimeError("the model is not trained")
        predictions = [b.predict(features, num_iteration=b.best_iteration) for b in self.boosters]
        return np.asarray(np.mean(predictions, axis=0))


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
                    make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
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
