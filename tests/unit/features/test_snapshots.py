"""The catalog's SQL, per engine, as reviewers see it: any change to a definition shows up as a
diff of ``tests/snapshots/features/<engine>/*.sql``. Regenerate with
``INTENTFLOW_UPDATE_SNAPSHOTS=1 pytest tests/unit/features/test_snapshots.py``."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intentflow.features.build import cutoff_us
from intentflow.features.catalog import FEATURES
from intentflow.features.query import feature_query, sessions_query, to_dialect

SNAPSHOTS = Path(__file__).resolve().parents[2] / "snapshots" / "features"
CUTOFF = cutoff_us(datetime(2026, 1, 5, 12, tzinfo=UTC))


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
@pytest.mark.parametrize("name", ["features", "sessions"])
def test_generated_sql_matches_its_snapshot(engine: str, name: str) -> None:
    sql = feature_query(FEATURES, CUTOFF) if name == "features" else sessions_query(CUTOFF)
    text = to_dialect(sql, engine) + "\n"
    path = SNAPSHOTS / engine / f"{name}.sql"
    if os.environ.get("INTENTFLOW_UPDATE_SNAPSHOTS"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"no snapshot at {path}: run with INTENTFLOW_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(), f"{path} is out of date: review the SQL diff, then update"
