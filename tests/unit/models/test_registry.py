"""The model registry: versions appear whole, one champion, promotion and rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from intentflow.models.registry import Registry, RegistryError


def write(text: str):  # type: ignore[no-untyped-def]
    def into(folder: Path) -> None:
        (folder / "model.txt").write_text(text)

    return into


def test_versions_champion_and_rollback(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    assert registry.champion("intent") is None and registry.versions("intent") == []
    first = registry.register("intent", write("a"), {"score": 1})
    second = registry.register("intent", write("b"), {"score": 2})
    assert [i.version for i in registry.versions("intent")] == sorted([first, second])
    assert (registry.info("intent", second).path / "model.txt").read_text() == "b"
    registry.promote("intent", first)
    registry.promote("intent", second)
    assert registry.info("intent").version == second and registry.info("intent").champion
    assert registry.rollback("intent") == first
    assert registry.champion("intent") == first
    with pytest.raises(RegistryError, match="no earlier intent champion"):
        registry.rollback("intent")
    assert registry.champion("segments") is None  # kinds are apart


def test_unknown_versions_and_missing_champion_are_clear_errors(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    with pytest.raises(RegistryError, match="no intent model is champion yet"):
        registry.info("intent")
    registry.register("intent", write("a"), {})
    with pytest.raises(RegistryError, match="no intent model version 'nope'"):
        registry.promote("intent", "nope")


def test_a_failed_write_leaves_no_version(tmp_path: Path) -> None:
    registry = Registry(tmp_path)

    def broken(folder: Path) -> None:
        (folder / "half.txt").write_text("x")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        registry.register("intent", broken, {})
    assert registry.versions("intent") == []
    assert not any(p.name.startswith(".") and p.is_dir() for p in (tmp_path / "intent").iterdir())


def test_a_promotion_made_against_a_champion_that_changed_is_refused(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    first, second, third = (registry.register("intent", write(t), {}) for t in "abc")
    registry.promote("intent", first)
    registry.promote("intent", second)  # meanwhile, by hand
    with pytest.raises(RegistryError, match="champion changed"):
        registry.promote("intent", third, replacing=first)
    assert registry.champion("intent") == second
    (tmp_path / "intent" / "stray").mkdir()  # a folder the registry did not write
    assert [i.version for i in registry.versions("intent")] == sorted([first, second, third])
