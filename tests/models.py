"""Small models for tests that need a champion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from intentflow.models.intent import KIND
from intentflow.models.intent.champion import train_and_register
from intentflow.models.intent.table import prepare
from intentflow.models.intent.train import TrainOptions
from intentflow.models.registry import Registry


def train_online_model(root: Path, seed: int, lift: float = 0.3) -> str:
    """A model of three online features: carts in the last hour make buyers (``lift`` more
    likely than the 2 % of the others)."""
    rng = np.random.default_rng(seed)
    carts = rng.poisson(0.4, 3000)
    frame = pd.DataFrame(
        {
            "add_to_carts_1h": carts,
            "product_views_15m": rng.poisson(3, 3000),
            "events_1h": carts + rng.poisson(5, 3000),
        }
    )
    frame["label"] = (rng.random(3000) < 0.02 + lift * (carts > 0)).astype(int)
    table = prepare(frame, "label", folds=2)
    result = train_and_register(
        Registry(root), table, TrainOptions(trials=2, inner_folds=2, seed=seed), promote=False
    )
    Registry(root).promote(KIND, result["model_version"])
    return str(result["model_version"])
