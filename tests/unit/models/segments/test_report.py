"""The segments report: every plot, for any number of dimensions, and honest colours."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from intentflow.models.registry import Registry
from intentflow.models.segments.build import register, segment
from intentflow.models.segments.inputs import from_frame
from intentflow.models.segments.model import KIND
from intentflow.models.segments.report import LIFT_LIMIT, _lift_value, write_report


def test_segments_of_one_feature_are_mapped_too(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"user_id": range(400), "visits": np.r_[rng.normal(2, 0.3, 200), rng.normal(9, 0.3, 200)]}
    )
    registry = Registry(tmp_path / "models")
    version = register(registry, segment(from_frame(frame, "user_id")))
    index = write_report(registry.info(KIND, version).path, tmp_path / "report")
    for name in ("map_pca.png", "map_tsne.png", "profile_heatmap.png", "k_selection.png"):
        assert (tmp_path / "report" / name).stat().st_size > 1000
    assert "visits" in index.read_text()


def test_the_heatmap_shows_a_lift_of_zero_as_far_below_everyone_not_as_average() -> None:
    limit = math.log2(LIFT_LIMIT)
    assert _lift_value(0.0) == -limit and _lift_value(1.0) == 0.0
    assert _lift_value(100.0) == limit and _lift_value(0.5) == -1.0
    assert math.isnan(_lift_value(None)) and math.isnan(_lift_value(float("nan")))
