"""Batch scoring: everyone's calibrated intent, class and top reasons, as an Arrow table.

``intentflow score --as-of T`` builds the lake's features at ``T`` and scores them with the
champion (refusing a champion trained on another feature version); ``--table`` scores any table
with the model's feature columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from intentflow.models.intent.model import IntentModel, Scored

REASON = pa.struct(
    [("feature", pa.string()), ("value", pa.string()), ("contribution", pa.float64())]
)


def score_table(
    model: IntentModel,
    features: pd.DataFrame,
    ids: Sequence[object],
    *,
    as_of: datetime | None = None,
    top: int = 3,
    batch: int = 100_000,
) -> pa.Table:
    """Rows of ``user_id``, ``probability``, ``high_intent``, ``reasons`` (the ``top``
    features by absolute SHAP value, leaving out negligible ones) and ``model_version``, in
    ``batch``-row steps."""
    scored: list[Scored] = []
    for start in range(0, len(features), batch):
        matrix = model.schema.matrix(features.iloc[start : start + batch])
        scored += model.score_matrix(matrix, top)
    p = np.array([one.probability for one in scored], dtype=np.float64)
    reasons = [
        [
            {
                "feature": reason.feature,
                "value": None if reason.value is None else str(reason.value),
                "contribution": reason.contribution,
            }
            for reason in one.reasons
        ]
        for one in scored
    ]
    columns = {
        "user_id": pa.array([str(i) for i in ids], pa.string()),
        "probability": pa.array(p, pa.float64()),
        "high_intent": pa.array([one.high_intent for one in scored], pa.bool_()),
        "reasons": pa.array(reasons, pa.list_(REASON)),
        "model_version": pa.array([model.version] * len(p), pa.string()),
    }
    if as_of is not None:
        columns["as_of"] = pa.array([as_of] * len(p), pa.timestamp("us", tz="UTC"))
    return pa.table(columns)
