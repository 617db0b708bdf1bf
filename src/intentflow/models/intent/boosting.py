"""Gradient boosting tuned inside the training rows: LightGBM, and XGBoost behind the same
interface.

:meth:`TunedBoosting.fit` takes the training rows and their validation splits (inner stratified
or person-grouped folds, or one later-in-time validation part). Every trial of the search
(Optuna's TPE, or a grid) trains one booster per split with early stopping on its validation
part, and is scored by ROC-AUC over the validation predictions. The model is one booster
refitted on all training rows with the best trial's parameters and mean best round
(``final="refit"``), or the best trial's boosters with their log-odds averaged
(``final="bagged"``). The best trial's validation predictions are kept in ``out_of_fold`` to
calibrate and to choose the threshold without touching test rows. Class
imbalance is handled by weights inside the training rows (``scale_pos_weight`` is searched),
never by resampling before a split.

The model reads the float matrix of :class:`~intentflow.models.intent.schema.Schema` and
explains itself by SHAP values (TreeSHAP, built into both libraries): ``contributions`` gives
one column per feature plus the bias, in log-odds, summing to the model's log-odds.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import lightgbm as lgb
import numpy as np
import optuna
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from intentflow.models.intent.splits import Split

Search = Literal["tpe", "grid"]
Final = Literal["bagged", "refit"]


SMALL_BATCH = 64
"""Up to this many rows are scored on one thread."""


@dataclass
class Trial:
    """One tuning trial: its parameters, validation ROC-AUC and boosting rounds."""

    number: int
    params: dict[str, Any]
    roc_auc: float
    rounds: list[int]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


@dataclass
class TunedBoosting(ABC):
    """Tuned gradient boosting (see the module's doc); subclasses bind one library."""

    trials: int = 30
    search: Search = "tpe"
    final: Final = "refit"
    seed: int = 42
    threads: int = 0
    max_rounds: int = 3000
    early_stopping: int = 100
    on_trial: Callable[[Trial], None] | None = None
    categorical: list[int] = field(default_factory=list)
    history: list[Trial] = field(default_factory=list)
    models: list[Any] = field(default_factory=list)
    out_of_fold: np.ndarray | None = None
    best: Trial | None = None

    name: ClassVar[str]
    grid: ClassVar[dict[str, list[Any]]]

    # --- what a library binds -------------------------------------------------------------
    @abstractmethod
    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        """The searched parameters of one trial."""

    @abstractmethod
    def train_one(
        self,
        params: dict[str, Any],
        data: tuple[np.ndarray, np.ndarray],
        valid: tuple[np.ndarray, np.ndarray] | None,
        rounds: int,
    ) -> tuple[Any, int]:
        """Train one booster (early stopping on ``valid`` when given); return it and its best
        number of rounds."""

    @abstractmethod
    def raw(self, model: Any, matrix: np.ndarray) -> np.ndarray:
        """Log-odds of one booster."""

    @abstractmethod
    def shap(self, model: Any, matrix: np.ndarray) -> np.ndarray:
        """SHAP values of one booster: features then bias, in log-odds."""

    @abstractmethod
    def dump(self, model: Any, path: Path) -> None: ...

    @abstractmethod
    def load_one(self, path: Path) -> Any: ...

    # --- shared --------------------------------------------------------------------------
    def suggest(
        self,
        trial: optuna.Trial,
        name: str,
        low: float,
        high: float,
        default: float,
        *,
        log: bool = False,
        integer: bool = False,
    ) -> float:
        """A searched value; a grid search keeps ``default`` for what its grid leaves out."""
        if self.search == "grid" and name not in self.grid:
            return default
        if integer:
            return trial.suggest_int(name, int(low), int(high), log=log)
        return trial.suggest_float(name, low, high, log=log)

    def fit(self, matrix: np.ndarray, labels: np.ndarray, splits: Sequence[Split]) -> TunedBoosting:
        """Tune on ``splits`` of the training rows and keep the best trial's model."""
        kept: dict[str, Any] = {}

        def objective(trial: optuna.Trial) -> float:
            params = self.space(trial)
            models, rounds = [], []
            oof = np.full(len(labels), np.nan)
            for train, valid in splits:
                model, best = self.train_one(
                    params,
                    (matrix[train], labels[train]),
                    (matrix[valid], labels[valid]),
                    self.max_rounds,
                )
                oof[valid] = sigmoid(self.raw(model, matrix[valid]))
                models.append(model)
                rounds.append(best)
            seen = ~np.isnan(oof)
            score = float(roc_auc_score(labels[seen], oof[seen]))
            record = Trial(trial.number, dict(trial.params), score, rounds)
            self.history.append(record)
            if self.on_trial:
                self.on_trial(record)
            if score > kept.get("score", -math.inf):
                kept.update(score=score, models=models, oof=oof, trial=record, params=params)
            return score

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if self.search == "grid":
            sampler: optuna.samplers.BaseSampler = optuna.samplers.GridSampler(
                self.grid, seed=self.seed
            )
            budget = min(self.trials, math.prod(len(v) for v in self.grid.values()))
        else:
            sampler, budget = optuna.samplers.TPESampler(seed=self.seed), self.trials
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(objective, n_trials=budget)
        self.out_of_fold, self.best = kept["oof"], kept["trial"]
        if self.final == "refit":
            rounds = max(1, round(float(np.mean(self.best.rounds))))
            model, _ = self.train_one(kept["params"], (matrix, labels), None, rounds)
            self.models = [model]
        else:
            self.models = kept["models"]
        return self

    def _trained(self) -> list[Any]:
        if not self.models:
            raise RuntimeError("the model is not trained")
        return self.models

    def margin(self, matrix: np.ndarray) -> np.ndarray:
        """The model's log-odds per row (the mean over its boosters)."""
        return np.asarray(np.mean([self.raw(m, matrix) for m in self._trained()], axis=0))

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """SHAP values per row: one column per feature, then the bias; rows sum to
        :meth:`margin`."""
        return np.asarray(np.mean([self.shap(m, matrix) for m in self._trained()], axis=0))

    def save(self, folder: Path) -> list[str]:
        """Write the boosters into ``folder``; returns their file names."""
        names = []
        for i, model in enumerate(self._trained()):
            name = f"booster-{i}.{self.extension}"
            self.dump(model, folder / name)
            names.append(name)
        return names

    def load(self, folder: Path, names: list[str]) -> TunedBoosting:
        """Read boosters written by :meth:`save`."""
        self.models = [self.load_one(folder / name) for name in names]
        return self

    extension: ClassVar[str] = "txt"


@dataclass
class TunedLightGBM(TunedBoosting):
    """LightGBM (leaf-wise trees; categoricals split natively)."""

    name: ClassVar[str] = "lightgbm"
    extension: ClassVar[str] = "txt"
    grid: ClassVar[dict[str, list[Any]]] = {
        "learning_rate": [0.02, 0.05],
        "num_leaves": [7, 15, 31],
        "min_child_samples": [20, 80],
        "scale_pos_weight": [1.0, 3.0],
    }

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "objective": "binary",
            "verbose": -1,
            "seed": self.seed,
            "num_threads": self.threads,
            "bagging_freq": 1,
            "feature_pre_filter": False,
            "learning_rate": self.suggest(trial, "learning_rate", 0.01, 0.1, 0.05, log=True),
            "num_leaves": self.suggest(trial, "num_leaves", 4, 64, 31, log=True, integer=True),
            # SHAP reasons cost grows with the square of a tree's depth: bounded depth keeps
            # one person's reasons under a millisecond
            "max_depth": self.suggest(trial, "max_depth", 3, 8, 6, integer=True),
            "min_child_samples": self.suggest(
                trial, "min_child_samples", 5, 200, 20, log=True, integer=True
            ),
            "feature_fraction": self.suggest(trial, "feature_fraction", 0.3, 1.0, 1.0),
            "bagging_fraction": self.suggest(trial, "bagging_fraction", 0.5, 1.0, 1.0),
            "lambda_l2": self.suggest(trial, "lambda_l2", 1e-3, 30.0, 0.0, log=True),
            "scale_pos_weight": self.suggest(trial, "scale_pos_weight", 1.0, 10.0, 1.0, log=True),
        }

    def train_one(
        self,
        params: dict[str, Any],
        data: tuple[np.ndarray, np.ndarray],
        valid: tuple[np.ndarray, np.ndarray] | None,
        rounds: int,
    ) -> tuple[Any, int]:
        train_set = lgb.Dataset(*data, categorical_feature=self.categorical or "auto")
        if valid is None:
            booster = lgb.train(params, train_set, rounds)
            return booster, rounds
        booster = lgb.train(
            params,
            train_set,
            rounds,
            valid_sets=[lgb.Dataset(*valid, reference=train_set)],
            callbacks=[lgb.early_stopping(self.early_stopping, verbose=False)],
        )
        return booster, int(booster.best_iteration or rounds)

    def _predict(self, model: Any, matrix: np.ndarray, **kind: bool) -> np.ndarray:
        # a few rows are scored fastest on one thread: waking OpenMP's threads costs more
        threads = 1 if len(matrix) <= SMALL_BATCH else self.threads
        return np.asarray(
            model.predict(
                matrix,
                num_iteration=model.best_iteration or None,
                num_threads=threads,
                **kind,
            )
        )

    def raw(self, model: Any, matrix: np.ndarray) -> np.ndarray:
        return self._predict(model, matrix, raw_score=True)

    def shap(self, model: Any, matrix: np.ndarray) -> np.ndarray:
        return self._predict(model, matrix, pred_contrib=True)

    def dump(self, model: Any, path: Path) -> None:
        model.save_model(str(path), num_iteration=model.best_iteration or None)

    def load_one(self, path: Path) -> Any:
        return lgb.Booster(model_file=str(path))


@dataclass
class TunedXGBoost(TunedBoosting):
    """XGBoost (depth-wise histogram trees; categoricals split natively)."""

    name: ClassVar[str] = "xgboost"
    extension: ClassVar[str] = "json"
    grid: ClassVar[dict[str, list[Any]]] = {
        "learning_rate": [0.02, 0.05],
        "max_depth": [3, 5, 7],
        "min_child_weight": [1.0, 5.0],
        "scale_pos_weight": [1.0, 3.0],
    }

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "seed": self.seed,
            "nthread": self.threads or None,
            "learning_rate": self.suggest(trial, "learning_rate", 0.01, 0.1, 0.05, log=True),
            "max_depth": self.suggest(trial, "max_depth", 2, 8, 6, integer=True),
            "min_child_weight": self.suggest(trial, "min_child_weight", 0.5, 20.0, 1.0, log=True),
            "subsample": self.suggest(trial, "subsample", 0.5, 1.0, 1.0),
            "colsample_bytree": self.suggest(trial, "colsample_bytree", 0.3, 1.0, 1.0),
            "reg_lambda": self.suggest(trial, "reg_lambda", 1e-3, 30.0, 1.0, log=True),
            "scale_pos_weight": self.suggest(trial, "scale_pos_weight", 1.0, 10.0, 1.0, log=True),
        }

    def _matrix(self, matrix: np.ndarray, labels: np.ndarray | None = None) -> xgb.DMatrix:
        types = ["c" if i in set(self.categorical) else "q" for i in range(matrix.shape[1])]
        return xgb.DMatrix(matrix, labels, feature_types=types, enable_categorical=True)

    def train_one(
        self,
        params: dict[str, Any],
        data: tuple[np.ndarray, np.ndarray],
        valid: tuple[np.ndarray, np.ndarray] | None,
        rounds: int,
    ) -> tuple[Any, int]:
        params = {k: v for k, v in params.items() if v is not None}
        train_set = self._matrix(*data)
        if valid is None:
            return xgb.train(params, train_set, rounds), rounds
        booster = xgb.train(
            params,
            train_set,
            rounds,
            evals=[(self._matrix(*valid), "valid")],
            early_stopping_rounds=self.early_stopping,
            verbose_eval=False,
        )
        return booster, int(booster.best_iteration) + 1

    def _range(self, model: Any) -> tuple[int, int]:
        best = model.attributes().get("best_iteration")
        return (0, int(best) + 1) if best is not None else (0, 0)

    def raw(self, model: Any, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(
            model.predict(
                self._matrix(matrix), output_margin=True, iteration_range=self._range(model)
            )
        )

    def shap(self, model: Any, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(
            model.predict(
                self._matrix(matrix), pred_contribs=True, iteration_range=self._range(model)
            )
        )

    def dump(self, model: Any, path: Path) -> None:
        start, end = self._range(model)
        (model[start:end] if end else model).save_model(str(path))

    def load_one(self, path: Path) -> Any:
        booster = xgb.Booster()
        booster.load_model(str(path))
        return booster


LEARNERS: dict[str, type[TunedBoosting]] = {"lightgbm": TunedLightGBM, "xgboost": TunedXGBoost}
