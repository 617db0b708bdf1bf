"""Shared fixtures: settings in a temporary data dir, the datasets folder, real servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from intentflow.config import Settings

hypothesis_settings.register_profile(
    "intentflow", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=150
)
hypothesis_settings.load_profile("intentflow")

REPO = Path(__file__).resolve().parents[1]
WRITE_KEY = "test-write-key"
READ_KEY = "test-read-key"
READ = {"Authorization": f"Bearer {READ_KEY}"}
"""Headers of a request with the read key."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose data dir is a fresh temporary folder; flushes quickly."""
    return Settings(
        data_dir=str(tmp_path / "data"),
        write_keys=(WRITE_KEY,),
        api_keys=(READ_KEY,),
        flush={"max_age_s": 0.2},
    )


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The shared real datasets; tests that need them skip with the reason when absent."""
    path = Path(os.environ.get("INTENTFLOW_DATASETS", REPO.parent / "shared" / "datasets"))
    if not path.is_dir():
        pytest.skip(f"real datasets not found at {path}; set INTENTFLOW_DATASETS")
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No INTENTFLOW_* variables leak into a test from the caller's shell."""
    for key in list(os.environ):
        if key.startswith("INTENTFLOW_"):
            monkeypatch.delenv(key)
    yield


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local Spark session (``local[2]``) for the whole run; skips without Java."""
    import shutil

    if shutil.which("java") is None:
        pytest.skip("Spark needs Java: install the Debian package openjdk-17-jre-headless")
    from intentflow.features.engines import spark_session

    session = spark_session(
        "local[2]",
        **{
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "4",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.host": "127.0.0.1",
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis server on a free port for the whole run (no persistence); skips without
    the binary."""
    from intentflow.state.local import local_redis

    try:
        with local_redis(tmp_path_factory.mktemp("redis")) as url:
            yield url
    except FileNotFoundError as exc:
        pytest.skip(f"the Redis tests need a server: {exc}")
