"""The model registry: versioned model directories, one champion per kind, and its history.

Layout under the registry root, one folder per kind of model (``intent``, ``segments``)::

    intent/
      20261126T210501-3f9a1c/     a version: the model's files and meta.json
      registry.json               {"champion": version, "champions": [older champions...]}

A version is written to a hidden folder and renamed into place, so a reader sees it whole or not
at all; ``registry.json`` is replaced atomically under a lock. A new version is a *challenger*
until it is promoted (by :meth:`Registry.promote`, by hand or by the training command when it
beats the champion); :meth:`Registry.rollback` brings back the previous champion.

>>> import tempfile
>>> registry = Registry(tempfile.mkdtemp())
>>> v1 = registry.register("intent", lambda folder: None, {"roc_auc": 0.9})
>>> registry.promote("intent", v1)
>>> registry.champion("intent") == v1, registry.info("intent", v1).meta["roc_auc"]
(True, 0.9)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from intentflow.durable import FileLock, fsync_dir, write_atomic

META = "meta.json"
STATE = "registry.json"


class RegistryError(LookupError):
    """A version or champion that does not exist, with what does."""


@dataclass(frozen=True)
class ModelInfo:
    """One registered version: where it lives, its metadata, whether it is the champion."""

    kind: str
    version: str
    path: Path
    meta: dict[str, Any]
    champion: bool


class Registry:
    """Versioned models in a local directory (see the module's doc)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def _kind(self, kind: str) -> Path:
        folder = self.root / kind
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _state(self, kind: str) -> dict[str, Any]:
        path = self._kind(kind) / STATE
        if not path.exists():
            return {"champion": None, "champions": []}
        return dict(json.loads(path.read_text()))

    def _write_state(self, kind: str, state: dict[str, Any]) -> None:
        write_atomic(self._kind(kind) / STATE, json.dumps(state, indent=2).encode())

    def register(self, kind: str, write: Callable[[Path], None], meta: dict[str, Any]) -> str:
        """Store a new version: ``write(folder)`` writes the model's files, ``meta`` is kept
        beside them (with ``version``, ``kind`` and ``created_at`` added). Returns the version."""
        now = datetime.now(UTC)
        digest = hashlib.sha256(
            json.dumps(meta, sort_keys=True, default=str).encode() + os.urandom(8)
        ).hexdigest()[:6]
        version = f"{now:%Y%m%dT%H%M%S}-{digest}"
        folder = self._kind(kind)
        staging = folder / f".{version}.tmp"
        staging.mkdir()
        try:
            write(staging)
            full = {**meta, "version": version, "kind": kind, "created_at": now.isoformat()}
            (staging / META).write_text(json.dumps(full, indent=2, default=str))
            for path in staging.iterdir():  # the files are on disk before the name appears
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
            fsync_dir(staging)
            os.replace(staging, folder / version)
            fsync_dir(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return version

    def versions(self, kind: str) -> list[ModelInfo]:
        """Every version of ``kind``, oldest first."""
        folder = self._kind(kind)
        champion = self._state(kind)["champion"]
        out = []
        for path in sorted(
            p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
        ):
            try:
                meta = json.loads((path / META).read_text())
            except (OSError, ValueError):  # not a version this registry wrote
                continue
            out.append(ModelInfo(kind, path.name, path, meta, path.name == champion))
        return out

    def info(self, kind: str, version: str | None = None) -> ModelInfo:
        """One version (default: the champion)."""
        if version is None:
            version = self.champion(kind)
            if version is None:
                raise RegistryError(f"no {kind} model is champion yet: train one first")
        path = self._kind(kind) / version
        if not (path / META).exists():
            known = ", ".join(i.version for i in self.versions(kind)[-5:]) or "none"
            raise RegistryError(f"no {kind} model version {version!r} (latest: {known})")
        meta = json.loads((path / META).read_text())
        return ModelInfo(kind, version, path, meta, version == self.champion(kind))

    def champion(self, kind: str) -> str | None:
        """The champion version of ``kind``, if any."""
        value = self._state(kind)["champion"]
        return str(value) if value else None

    def promote(self, kind: str, version: str, *, replacing: str | None = None) -> None:
        """Make ``version`` the champion; the one it replaces can be rolled back to. With
        ``replacing``, only if that version is still the champion (a comparison made against it
        holds)."""
        self.info(kind, version)
        with FileLock(self._kind(kind) / ".lock"):
            state = self._state(kind)
            if replacing is not None and state["champion"] != replacing:
                raise RegistryError(
                    f"the {kind} champion changed to {state['champion']} during the comparison "
                    f"with {replacing}: compare again"
                )
            if state["champion"] == version:
                return
            if state["champion"]:
                state["champions"].append(state["champion"])
            state["champion"] = version
            self._write_state(kind, state)

    def rollback(self, kind: str) -> str:
        """Bring back the previous champion; returns it."""
        with FileLock(self._kind(kind) / ".lock"):
            state = self._state(kind)
            if not state["champions"]:
                raise RegistryError(f"no earlier {kind} champion to roll back to")
            state["champion"] = state["champions"].pop()
            self._write_state(kind, state)
            return str(state["champion"])


def version_folder(
    source: str | os.PathLike[str], kind: str, version: str | None, marker: str
) -> Path:
    """The folder of a model: ``source`` itself when it holds ``marker`` (the model's file),
    otherwise ``version`` of ``kind`` (default: the champion) in the registry at ``source``."""
    path = Path(source)
    if (path / marker).exists():
        return path
    return Registry(path).info(kind, version).path
