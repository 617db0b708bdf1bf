"""Settings: defaults, environment variables, a TOML file, frozen."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pydantic
import pytest

from intentflow.config import Settings


def test_defaults(clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.data_dir == "./intentflow-data"
    assert settings.lake_dir == "./intentflow-data/lake"
    assert settings.collect.max_future_skew == timedelta(minutes=10)
    assert settings.wal.fsync is True


def test_environment_overrides(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTENTFLOW_DATA_DIR", "/srv/if")
    monkeypatch.setenv("INTENTFLOW_WRITE_KEYS", " web , ios ,")
    monkeypatch.setenv("INTENTFLOW_COLLECT__MAX_BODY_BYTES", "1234")
    monkeypatch.setenv("INTENTFLOW_LAKE__URL", "s3://bucket/lake")
    monkeypatch.setenv("INTENTFLOW_LAKE__STORAGE_OPTIONS", '{"endpoint_url": "http://x"}')
    settings = Settings()
    assert settings.write_keys == ("web", "ios")
    assert settings.collect.max_body_bytes == 1234
    assert settings.lake_dir == "s3://bucket/lake"
    assert settings.lake.storage_options == {"endpoint_url": "http://x"}
    assert settings.wal_dir == "/srv/if/wal"


def test_toml_file_below_environment(
    clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "conf.toml"
    toml.write_text(
        'data_dir = "/from/toml"\nwrite_keys = ["a", "b"]\n'
        '[collect]\nmax_future_skew = "PT15M"\n[flush]\nmax_age_s = 2.5\n'
    )
    monkeypatch.setenv("INTENTFLOW_CONFIG", str(toml))
    settings = Settings()
    assert settings.data_dir == "/from/toml" and settings.write_keys == ("a", "b")
    assert settings.collect.max_future_skew == timedelta(minutes=15)
    assert settings.flush.max_age_s == 2.5
    monkeypatch.setenv("INTENTFLOW_DATA_DIR", "/from/env")
    assert Settings().data_dir == "/from/env"


def test_missing_config_file_is_an_error(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTENTFLOW_CONFIG", "/no/such/intentflow.toml")
    with pytest.raises(FileNotFoundError, match=r"/no/such/intentflow\.toml"):
        Settings()


def test_settings_are_frozen_and_typos_are_refused(clean_env: None) -> None:
    settings = Settings()
    with pytest.raises(pydantic.ValidationError):
        settings.data_dir = "x"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        Settings(collect={"max_body_byte": 1})
