"""A registry's champion of one kind, kept loaded and looked up again now and then: a newly
promoted model is picked up without a restart, and one that cannot be loaded is logged while the
previous one stays in use."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from intentflow.models.registry import Registry, RegistryError

log = logging.getLogger(__name__)


class Versioned(Protocol):
    """A loaded model that knows its version."""

    @property
    def version(self) -> str: ...


M = TypeVar("M", bound=Versioned)


class Champion(Generic[M]):
    """The champion of ``kind`` in the registry at ``root``, loaded with ``load(root, version)``
    (see the module's doc)."""

    def __init__(
        self,
        root: str | Path,
        kind: str,
        load: Callable[[Path, str], M],
        *,
        check_every_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ):
        self.registry = Registry(root)
        self.kind = kind
        self.load = load
        self.check_every_s = check_every_s
        self.clock = clock
        self.model: M | None = None
        self.checked_at: float | None = None
        self.failures = 0
        """Champions that could not be loaded."""

    def current(self) -> M | None:
        """The model in use, looked up again when the last look is ``check_every_s`` old."""
        now = self.clock()
        if self.checked_at is not None and now - self.checked_at < self.check_every_s:
            return self.model
        self.checked_at = now
        try:
            version = self.registry.champion(self.kind)
        except (OSError, ValueError) as exc:
            log.error("cannot read the model registry: %s", exc)
            return self.model
        if version is None or (self.model is not None and self.model.version == version):
            return self.model
        try:
            self.model = self.load(self.registry.root, version)
            log.info("the %s champion in use is now %s", self.kind, version)
        except (OSError, ValueError, KeyError, RegistryError) as exc:
            self.failures += 1
            kept = self.model.version if self.model else "none"
            log.error("cannot load %s model %s (%s); keeping %s", self.kind, version, exc, kept)
        return self.model
