"""The real Taobao file in a lake, imported once for the real-data tests that read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from intentflow.config import Settings
from intentflow.ingest.importer import import_file


@pytest.fixture(scope="session")
def taobao_settings(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose lake holds the whole Taobao file (read it, do not write to it)."""
    source = datasets / "taobao_userbehavior" / "UserBehavior.csv"
    if not source.exists():
        pytest.skip(f"{source} not found (set INTENTFLOW_DATASETS)")
    settings = Settings(data_dir=str(tmp_path_factory.mktemp("taobao")))
    import_file(source, settings, preset="taobao")
    return settings
