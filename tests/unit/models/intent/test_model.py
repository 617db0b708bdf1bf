"""The stored intent model: it loads as it was saved, scores tables and single people the same
way, explains itself by SHAP values that add up, and refuses features it was not trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from intentflow.models.intent.model import FeatureVersionError, IntentModel
from intentflow.models.intent.schema import FeatureMismatchError
from intentflow.models.intent.table import TrainingTable
from intentflow.models.intent.train import Training


def test_a_saved_model_scores_as_before(
    trained: Training, shoppers_table: TrainingTable, tmp_path: Path
) -> None:
    model = trained.model
    model.save(tmp_path)
    loaded = IntentModel.load(tmp_path)
    features = shoppers_table.features
    assert np.allclose(loaded.predict_proba(features), model.predict_proba(features))
    assert loaded.threshold == model.threshold and loaded.calibrator == model.calibrator
    with pytest.raises(FeatureVersionError, match="retrain the model"):
        IntentModel.load(tmp_path, feature_version="other")


def test_one_person_scores_like_their_table_row(
    trained: Training, shoppers_table: TrainingTable
) -> None:
    model = trained.model
    features = shoppers_table.features
    row = features.iloc[7]
    person = {k: (None if (isinstance(v, float) and np.isnan(v)) else v) for k, v in row.items()}
    one = model.score_one(person)
    assert one.probability == pytest.approx(float(model.predict_proba(features.iloc[[7]])[0]))
    assert one.probability == pytest.approx(float(model.predict_proba(person)[0]))
    assert one.high_intent == (one.probability >= model.threshold.value)
    assert len(one.reasons) == 3
    sizes = [abs(r.contribution) for r in one.reasons]
    assert sizes == sorted(sizes, reverse=True)
    for reason in one.reasons:
        assert reason.feature in features.columns
        assert ("raises" if reason.contribution > 0 else "lowers") in reason.words()
    month = [
        r for r in model.explain(features.iloc[:50], top=17)[0].reasons if r.feature == "Month"
    ]
    assert month and month[0].value == features.iloc[0]["Month"]  # a category shows its name


def test_shap_values_add_up_to_the_model_log_odds(
    trained: Training, shoppers_table: TrainingTable
) -> None:
    booster = trained.model.booster
    matrix = trained.model.schema.matrix(shoppers_table.features.iloc[:200])
    assert np.allclose(booster.contributions(matrix).sum(axis=1), booster.margin(matrix))


def test_missing_columns_and_unknown_categories(
    trained: Training, shoppers_table: TrainingTable
) -> None:
    model = trained.model
    with pytest.raises(FeatureMismatchError, match="PageValues"):
        model.predict_proba(shoppers_table.features.drop(columns=["PageValues"]))
    odd = shoppers_table.features.iloc[:5].copy()
    odd["Month"] = odd["Month"].cat.add_categories(["Smarch"]).fillna("Smarch")
    odd.loc[odd.index[0], "Month"] = "Smarch"
    p = model.predict_proba(odd)
    assert np.isfinite(p).all()  # an unseen category is a missing value
    assert model.score_one({}).probability == pytest.approx(model.score_one({"x": 1}).probability)
