"""The intent model the serving benchmarks score with: trained in seconds on a simulated table
of online features (carts in the last hour make buyers), and promoted in a scratch registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from intentflow.models.intent import KIND
from intentflow.models.intent.champion import train_and_register
from intentflow.models.intent.table import prepare
from intentflow.models.intent.train import TrainOptions
from intentflow.models.registry import Registry


def train_model(root: Path) -> str:
    """Train, register and promote the model in the registry at ``root``; its version."""
    rng = np.random.default_rng(0)
    carts = rng.poisson(0.4, 5000)
    frame = pd.DataFrame(
        {
            "add_to_carts_1h": carts,
            "product_views_15m": rng.poisson(3, 5000),
            "events_1h": carts + rng.poisson(5, 5000),
            "days_since_last_purchase": rng.exponential(20, 5000),
        }
    )
    frame["label"] = (rng.random(5000) < 0.02 + 0.3 * (carts > 0)).astype(int)
    result = train_and_register(
        Registry(root), prepare(frame, "label", folds=2), TrainOptions(trials=2, inner_folds=2)
    )
    Registry(root).promote(KIND, result["model_version"])
    return str(result["model_version"])
