"""Offline evaluation of candidate generators on real data, every method in one run.

Temporal split (the Taobao protocol): the interactions before a cutoff (the first event plus
``after_s``, 80 minutes) train; for each person with interactions on both sides, the items they
interact with from the cutoff on are the truth. HR@k is the share of those people with at least
one of their items among the ``k`` recommended; recall@k the mean share of their items found.
Items the person already had are not excluded: people come back to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from intentflow.features.kinds import MICROS
from intentflow.recommend.base import Generator


@dataclass(frozen=True)
class Split:
    """Interactions split at ``cutoff_us``: what trains, and per person evaluated their history
    (items in time order) and what they went on to interact with."""

    cutoff_us: int
    train: pd.DataFrame
    histories: dict[str, list[str]]
    truth: dict[str, set[str]]


def temporal_split(interactions: pd.DataFrame, after_s: float = 80 * 60) -> Split:
    """The split at the first interaction plus ``after_s`` (see the module's doc)."""
    cutoff = int(interactions["us"].min()) + int(after_s * MICROS)
    train = interactions[interactions["us"] < cutoff]
    test = interactions[interactions["us"] >= cutoff]
    histories = {str(p): list(map(str, g)) for p, g in train.groupby("person", sort=False)["item"]}
    truth = {
        str(p): set(map(str, g))
        for p, g in test.groupby("person", sort=False)["item"]
        if str(p) in histories
    }
    return Split(cutoff, train, {p: histories[p] for p in truth}, truth)


def evaluate(
    split: Split, generators: Sequence[Generator], k: int = 10
) -> dict[str, dict[str, float]]:
    """Each generator's ``hr@k`` and ``recall@k`` on ``split`` (fitted on its training part)."""
    out = {}
    for generator in generators:
        generator.fit(split.train)
        hits = recall = 0.0
        for person, wanted in split.truth.items():
            shown = {s.item for s in generator.recommend(split.histories[person], k)}
            found = len(shown & wanted)
            hits += found > 0
            recall += found / len(wanted)
        people = max(len(split.truth), 1)
        out[generator.name] = {f"hr@{k}": hits / people, f"recall@{k}": recall / people}
    return out
