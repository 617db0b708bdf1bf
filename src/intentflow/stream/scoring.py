"""Intent scores that follow people's events, with the champion model of the registry.

After the processor applies a batch, every person it touched is scored again, unless their last
score is younger than ``every_s`` (2 s by default): a burst of events costs one score, not one
per event. The score uses the person's online features at the moment of scoring; features that
are not online (the population's quantile scores) are missing values to the model, as
they are for a person the model has never seen.

The champion is looked up again every ``check_every_s``: a newly promoted model is picked up
without a restart. A model that cannot be loaded is logged, and the previous one keeps scoring.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from intentflow.features.kinds import MICROS
from intentflow.features.online import IntentScore, OnlinePerson
from intentflow.models.champion import Champion
from intentflow.models.intent import KIND

if TYPE_CHECKING:
    from pathlib import Path

    from intentflow.models.intent.model import IntentModel


log = logging.getLogger(__name__)


def _load(root: Path, version: str) -> IntentModel:
    from intentflow.models.intent.model import IntentModel  # the boosters load on demand

    return IntentModel.load(root, version)


class Scorer:
    """Scores people with the registry's champion (see the module's doc)."""

    def __init__(
        self,
        models_dir: str,
        *,
        every_s: float = 2.0,
        check_every_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ):
        self.every_us = int(every_s * MICROS)
        self.clock = clock
        self.models: Champion[IntentModel] = Champion(
            models_dir, KIND, _load, check_every_s=check_every_s, clock=clock
        )
        self.crossings: deque[tuple[str, IntentScore]] = deque(maxlen=1_000)
        """The latest people whose score crossed into high intent, with that score."""
        self.crossed = 0
        """How many crossings there have been."""

    @property
    def failures(self) -> int:
        """Champions that could not be loaded."""
        return self.models.failures

    def champion(self) -> IntentModel | None:
        """The model in use, looked up again when the last look is ``check_every_s`` old."""
        return self.models.current()

    def score(self, people: Mapping[str, OnlinePerson], at_us: int) -> int:
        """Score each person whose score is ``every_s`` old (or who has none) on their features
        at ``at_us`` (event time); returns how many were scored."""
        model = self.champion()
        if model is None:
            return 0
        now_us = int(self.clock() * MICROS)
        due = [
            (name, person)
            for name, person in people.items()
            if person.intent is None
            or now_us - person.intent.scored_at_us >= self.every_us
            or person.intent.model_version != model.version
        ]
        if not due:
            return 0
        # one matrix for everyone due: the booster scores rows far faster together
        try:
            matrix = np.vstack([model.schema.vector(p.values(at_us)) for _, p in due])
            results = model.score_matrix(matrix)
        except Exception as exc:  # the batch goes on: a failure here must not apply it twice
            log.error("cannot score %d people with model %s: %s", len(due), model.version, exc)
            return 0
        for (name, person), result in zip(due, results, strict=True):
            before = person.intent
            person.intent = IntentScore.of(
                result.probability, result.high_intent, result.reasons, now_us, model.version
            )
            if result.high_intent and (before is None or not before.high_intent):
                self.crossings.append((name, person.intent))
                self.crossed += 1
        return len(due)
