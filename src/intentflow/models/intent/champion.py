"""Registering a trained intent model, and champion against challenger.

A new model is registered as a challenger with everything its report needs: its files, its
metadata (:mod:`~intentflow.models.intent.train`), its test predictions beside the baselines'
(``test.parquet``) and SHAP values of a sample of test rows (``shap.parquet``). It becomes
champion when there is none, or when it beats the champion on the challenger's own test rows
(the champion is scored on them too) by the configured margin in the configured metric. A
champion that reads other features cannot be scored on them: the challenger then stays a
challenger, to be promoted by hand (``intentflow models promote``).

A champion trained on data that overlaps the challenger's test rows has seen them, which can
only favour the champion: the comparison is conservative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from intentflow.models.intent import KIND
from intentflow.models.intent.boosting import Trial
from intentflow.models.intent.evaluate import scores
from intentflow.models.intent.model import IntentModel
from intentflow.models.intent.schema import FeatureMismatchError
from intentflow.models.intent.table import TrainingTable
from intentflow.models.intent.train import Fold, TrainOptions, train
from intentflow.models.registry import Registry

LOWER_IS_BETTER = frozenset({"log_loss", "brier"})


@dataclass(frozen=True)
class Decision:
    """Whether the challenger became champion, and why."""

    promoted: bool
    reason: str
    champion: str | None
    """The champion it was compared with (``None`` when there was none)."""
    champion_score: float | None = None
    challenger_score: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def register(registry: Registry, fold: Fold, summary: dict[str, Any]) -> str:
    """Store ``fold``'s model as a new version (not yet champion); returns the version."""
    model = fold.model
    columns = list(model.schema.columns)
    values, shap = fold.explained

    def write(folder: Path) -> None:
        model.save(folder)
        fold.predictions.to_parquet(folder / "test.parquet", index=False)
        pd.DataFrame(shap, columns=columns).to_parquet(folder / "shap.parquet", index=False)
        pd.DataFrame(values, columns=columns).to_parquet(
            folder / "shap_values.parquet", index=False
        )

    cv = {k: v for k, v in summary.items() if k != "folds" and not isinstance(v, list)}
    version = registry.register(KIND, write, {**model.meta, "cross_validation": cv})
    model.meta = registry.info(KIND, version).meta
    return version


def challenge(
    registry: Registry,
    version: str,
    fold: Fold,
    table: TrainingTable,
    *,
    metric: str = "pr_auc",
    margin: float = 0.0,
) -> Decision:
    """Promote ``version`` if it beats the champion (see the module's doc)."""
    current = registry.champion(KIND)
    if current is None:
        registry.promote(KIND, version)
        return Decision(True, "no champion yet", None)
    champion = IntentModel.load(registry.info(KIND, current).path)
    if champion.feature_version != fold.model.feature_version:
        return Decision(
            False,
            f"the champion reads features of version {champion.feature_version}, the "
            f"challenger {fold.model.feature_version}: compare and promote by hand",
            current,
        )
    labels = fold.predictions["label"].to_numpy()
    try:
        theirs_p = champion.predict_proba(table.features.iloc[fold.test_rows])
    except FeatureMismatchError as exc:
        return Decision(False, f"the champion cannot score these rows ({exc})", current)
    theirs = scores(labels, theirs_p, threshold=champion.threshold.value)[metric]
    ours = fold.metrics["model"][metric]
    gain = (theirs - ours) if metric in LOWER_IS_BETTER else (ours - theirs)
    promoted = bool(np.isfinite(gain) and gain > margin)
    if promoted:
        registry.promote(KIND, version, replacing=current)
    word = "beats" if promoted else "does not beat"
    return Decision(
        promoted,
        f"{metric} {ours:.4f} {word} the champion's {theirs:.4f} by more than {margin:g}",
        current,
        float(theirs),
        float(ours),
    )


def train_and_register(
    registry: Registry,
    table: TrainingTable,
    options: TrainOptions,
    *,
    cv: int | None = None,
    metric: str = "pr_auc",
    margin: float = 0.0,
    promote: bool = True,
    on_fold: Callable[[int, Fold], None] | None = None,
    on_trial: Callable[[Trial], None] | None = None,
) -> dict[str, Any]:
    """Train (:func:`~intentflow.models.intent.train.train`), register the first fold's model,
    let it challenge the champion; returns the mean test scores with ``model_version``,
    ``champion`` and the ``promotion`` decision."""
    training = train(table, options, cv=cv, on_fold=on_fold, on_trial=on_trial)
    fold = training.folds[0]
    version = register(registry, fold, training.summary)
    decision = (
        challenge(registry, version, fold, table, metric=metric, margin=margin) if promote else None
    )
    return {
        **{k: v for k, v in training.summary.items() if k != "features"},
        "model_version": version,
        "champion": bool(decision and decision.promoted),
        "promotion": decision.to_json() if decision else None,
        "threshold": fold.model.threshold.value,
        "split": options.split,
        "learner": options.learner,
    }
