"""The preparation: fills, dropped columns, the log transform, scaling, PCA, one person alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from intentflow.models.segments.inputs import SegmentError
from intentflow.models.segments.prepare import Preprocessor


def _frame(rows: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "views": rng.negative_binomial(1, 0.05, rows).astype(float),  # skewed counts
            "rate": rng.uniform(0, 1, rows),
            "days_since_last": rng.uniform(0, 30, rows),
            "same": np.full(rows, 3.0),
            "empty": np.full(rows, np.nan),
        }
    )
    frame.loc[::7, "rate"] = np.nan
    frame.loc[::11, "days_since_last"] = np.nan
    return frame


FILLS = {"views": "zero", "rate": "median", "days_since_last": "max", "same": "zero"}


def test_columns_without_variation_are_left_out_with_the_reason() -> None:
    prep = Preprocessor().fit(_frame(), FILLS)
    assert prep.columns_ == ["views", "rate", "days_since_last"]
    assert prep.dropped_ == {"same": "constant", "empty": "empty"}


def test_missing_values_are_filled_by_each_columns_rule() -> None:
    frame = _frame()
    prep = Preprocessor().fit(frame, FILLS)
    filled = pd.DataFrame(prep.filled(frame), columns=prep.columns_)
    assert not filled.isna().any().any()
    assert filled["rate"][0] == pytest.approx(frame["rate"].median())
    assert filled["days_since_last"][0] == pytest.approx(frame["days_since_last"].max())


def test_skewed_counts_are_logged_and_even_ones_are_not() -> None:
    prep = Preprocessor().fit(_frame(), FILLS)
    assert dict(zip(prep.columns_, prep.log_.tolist(), strict=True)) == {
        "views": True,
        "rate": False,
        "days_since_last": False,
    }


@pytest.mark.parametrize("scaling", ["zscore", "minmax"])
def test_scaling(scaling: str) -> None:
    frame = _frame()
    points = Preprocessor(scaling=scaling).fit(frame, FILLS).transform(frame)  # type: ignore[arg-type]
    if scaling == "zscore":
        np.testing.assert_allclose(points.mean(axis=0), 0, atol=1e-9)
        np.testing.assert_allclose(points.std(axis=0), 1, atol=1e-9)
    else:
        np.testing.assert_allclose(points.min(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(points.max(axis=0), 1, atol=1e-12)


def test_pca_keeps_a_count_or_a_share_of_variance() -> None:
    frame = _frame()
    assert Preprocessor(pca=2).fit(frame, FILLS).transform(frame).shape == (500, 2)
    prep = Preprocessor(pca=0.5).fit(frame, FILLS)
    kept = prep.transform(frame).shape[1]
    assert sum(prep.explained_) >= 0.5 and kept == len(prep.explained_)
    assert sum(prep.explained_[:-1]) < 0.5


def test_one_person_is_prepared_like_everyone_and_the_fit_survives_json() -> None:
    frame = _frame()
    prep = Preprocessor(pca=2).fit(frame, FILLS)
    again = Preprocessor.from_dict(prep.to_dict())
    points = again.transform(frame)
    for row in (0, 7, 11, 77):
        values = frame.iloc[row].to_dict()  # NaN where missing
        np.testing.assert_allclose(again.transform_one(values), points[row], atol=1e-12)
    np.testing.assert_allclose(prep.transform(frame), points)
    # a person without a feature at all is filled as in training
    assert again.transform_one({}).shape == (2,)


def test_nothing_to_tell_people_apart_is_an_error() -> None:
    frame = pd.DataFrame({"a": [1.0, 1.0, 1.0], "b": [np.nan, np.nan, np.nan]})
    with pytest.raises(SegmentError, match="every feature is constant or empty"):
        Preprocessor().fit(frame, {})
    with pytest.raises(SegmentError, match="minmax"):
        Preprocessor(scaling="robust").fit(frame, {})  # type: ignore[arg-type]


def test_a_column_that_repeats_another_is_left_out_with_its_twin_named() -> None:
    frame = _frame()
    frame["views_again"] = frame["views"] * 2 + 1  # the same behavior, counted twice
    prep = Preprocessor().fit(frame, FILLS)
    assert "views_again" not in prep.columns_
    assert prep.dropped_["views_again"] == "correlated with views (1.00)"
    assert prep.transform(frame).shape == (500, 3)
    assert "views_again" in Preprocessor(max_correlation=1.0).fit(frame, FILLS).columns_


def test_a_second_fit_forgets_the_first() -> None:
    prep = Preprocessor(pca=1)
    prep.fit(pd.DataFrame({"x": [1.0, 1.0, 1.0], "y": [1.0, 2.0, 3.0]}), {})
    assert prep.dropped_ == {"x": "constant"}
    prep.fit(pd.DataFrame({"x": [1.0, 5.0, 3.0], "y": [3.0, 1.0, 5.0]}), {})
    assert prep.columns_ == ["x", "y"] and prep.dropped_ == {}
