"""The lists recommendations are served from, learned from the lake and held in memory:
co-visitation neighbours, popular items, and the best items of each category. They are learned
from the last days of the lake (``recommend.history_days`` before its latest event) and learned
again in a background thread whenever the lake's files have changed, looked at every
``recommend.refresh_s``; the lists in use are replaced whole, so a request reads one consistent
set.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import pandas as pd

from intentflow.lake.reader import Lake
from intentflow.recommend.affinity import AffinityPopular
from intentflow.recommend.covisit import CoVisitation
from intentflow.recommend.interactions import interactions
from intentflow.recommend.popular import Popular

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lists:
    """One learned set of lists."""

    covisitation: CoVisitation
    popular: Popular
    affinity: AffinityPopular
    interactions: int
    """How many interactions they were learned from."""
    learned_at: float = field(default_factory=time.time)

    @classmethod
    def empty(cls) -> Lists:
        """Lists of nothing (before the first learning, or for an empty lake), made without
        learning: every server starts with them."""
        covisitation, popular, affinity = CoVisitation(), Popular(), AffinityPopular()
        covisitation.neighbours_ = {}
        popular.ranked_ = []
        affinity.category_of_, affinity.best_ = {}, {}
        return cls(covisitation, popular, affinity, 0)

    @classmethod
    def learn_from(cls, frame: pd.DataFrame) -> Lists:
        """The lists of ``frame``'s interactions."""
        return cls(
            CoVisitation().fit(frame),
            Popular().fit(frame),
            AffinityPopular().fit(frame),
            len(frame),
        )


def learn(lake: Lake, days: float) -> Lists:
    """The lists of the last ``days`` of ``lake``."""
    span = lake.time_range()
    if span is None:
        return Lists.empty()
    _, last = span
    return Lists.learn_from(
        interactions(lake, last - timedelta(days=days), last + timedelta(microseconds=1))
    )


class Learner:
    """Keeps :attr:`lists` learned from the lake (see the module's doc)."""

    def __init__(self, lake: Lake, *, days: float, every_s: float):
        self.lake = lake
        self.days = days
        self.every_s = every_s
        self.lists = Lists.empty()
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._learned = threading.Event()
        self._files: frozenset[str] | None = None
        """The lake's files the lists were learned from."""

    def refresh(self, *, force: bool = False) -> Lists:
        """Learn the lists again if the lake's files changed since they were learned (or when
        ``force``); a failure keeps the lists in use, and is logged."""
        try:
            files = frozenset(self.lake.files())
            if force or files != self._files:
                self.lists = learn(self.lake, self.days)
                self._files = files
            self.last_error = None
        except Exception as exc:  # a broken lake file must not take serving down
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("cannot learn the recommendation lists: %s", self.last_error)
        self._learned.set()
        return self.lists

    def start(self) -> Learner:
        """Learn now and then every ``every_s``, in a background thread."""
        self._thread = threading.Thread(target=self._run, name="recommend-lists", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the first learning; whether it happened."""
        return self._learned.wait(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.every_s)

    def stop(self) -> None:
        """Stop learning."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
