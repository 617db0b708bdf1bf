"""Training tables: what trains, and what is refused with the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intentflow.models.intent.table import TableError, prepare, read_table


def frame(labels: list[object], **columns: list[object]) -> pd.DataFrame:
    n = len(labels)
    base = {"views": list(range(n)), "channel": ["web", "app"] * (n // 2) + ["web"] * (n % 2)}
    return pd.DataFrame({**base, **columns, "y": labels})


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([True, False] * 3, [1, 0] * 3),
        ([1, 0] * 3, [1, 0] * 3),
        (["yes", "no"] * 3, [1, 0] * 3),
        (["TRUE", "false"] * 3, [1, 0] * 3),
    ],
)
def test_binary_labels_in_their_usual_spellings(labels: list[object], expected: list[int]) -> None:
    assert prepare(frame(labels), "y", folds=3).labels.tolist() == expected


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([0, 1, 2, 0, 1, 2], "not binary"),
        (["buy", "no"] * 3, "not binary"),
        ([1, 0, None, 1, 0, 1], "missing in 1 rows"),
        ([0] * 6, "one class only"),
        ([1, 0, 0, 0, 0, 0], "too few for 3 folds"),
    ],
)
def test_labels_that_cannot_train_are_refused(labels: list[object], message: str) -> None:
    with pytest.raises(TableError, match=message):
        prepare(frame(labels), "y", folds=3)


def test_a_missing_label_column_names_the_columns() -> None:
    with pytest.raises(TableError, match="no label column 'Revenue'; columns: views, channel, y"):
        prepare(frame([1, 0] * 3), "Revenue")


def test_features_categoricals_infinities_and_constants() -> None:
    table = prepare(
        frame(
            [1, 0] * 3,
            ratio=[0.5, np.inf, -np.inf, 1.0, np.nan, 2.0],
            constant=[7] * 6,
            user=["a", "b", "c", "d", "e", "f"],
        ),
        "y",
        folds=3,
        drop=("user",),
    )
    features = table.features
    assert list(features.columns) == ["views", "channel", "ratio"]
    assert isinstance(features["channel"].dtype, pd.CategoricalDtype)
    assert features["ratio"].isna().tolist() == [False, True, True, False, True, False]
    assert table.dropped == ("user", "constant")


def test_only_csv_and_parquet_are_read(tmp_path: Path) -> None:
    frame([1, 0] * 3).to_parquet(tmp_path / "t.parquet")
    frame([1, 0] * 3).to_csv(tmp_path / "t.csv", index=False)
    assert read_table(tmp_path / "t.parquet").equals(read_table(tmp_path / "t.csv"))
    with pytest.raises(TableError, match=r"\.csv or \.parquet"):
        read_table(tmp_path / "t.xlsx")


def test_numeric_codes_declared_categorical_become_categories() -> None:
    table = prepare(
        pd.DataFrame(
            {"region": [1, 2, 9, 1, 2, 9], "views": [1.0] * 3 + [2.0] * 3, "y": [0, 1] * 3}
        ),
        "y",
        folds=3,
        categorical=("region",),
    )
    region = table.features["region"]
    assert isinstance(region.dtype, pd.CategoricalDtype)
    assert sorted(region.cat.categories) == ["1", "2", "9"]
    assert table.features["views"].dtype == "float64"
    with pytest.raises(TableError, match="no categorical column 'browser'"):
        prepare(pd.DataFrame({"x": [1, 2] * 3, "y": [0, 1] * 3}), "y", categorical=("browser",))


def test_codes_name_their_categories_alike_in_training_and_scoring() -> None:
    from intentflow.models.intent.schema import Schema

    table = prepare(
        pd.DataFrame({"region": [1, 2, None, 1, 2, 1], "y": [0, 1] * 3}),
        "y",
        folds=3,
        categorical=("region",),
    )
    schema = Schema.of(table.features)
    assert schema.categories["region"] == ("1", "2")  # not "1.0": the NaN made them floats
    assert (
        schema.vector({"region": 2}).tolist() == schema.vector({"region": 2.0}).tolist() == [[1.0]]
    )
