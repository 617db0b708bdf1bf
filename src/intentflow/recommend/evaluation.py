"""Offline evaluation of candidate generators on real data, every method in one run.

- Temporal split (the Taobao protocol): the interactions before a cutoff (the first event plus
  ``after_s``, 80 minutes) train; for each person with interactions on both sides, the items they
  interact with from the cutoff on are the truth. Items the person already had are not excluded:
  people come back to them.
- Leave-last-out (the MovieLens protocol): each person's last interaction (by time; among those
  of the same time, the largest item id as text) is the truth, the others train; the whole
  catalog is ranked without the person's items.
- Validation (:func:`validation_split`): the same protocol inside the training part, so that
  choices (a policy's strategies) are made without the truth they are measured on.

HR@k is the share of people with at least one of their items among the ``k`` recommended,
recall@k the mean share of their items found, NDCG@k the mean of each person's discounted gain
over the best one possible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from intentflow.features.kinds import MICROS
from intentflow.recommend.base import Generator


@dataclass(frozen=True)
class Split:
    """Interactions split in two: what trains, and per person evaluated their history (items in
    time order) and what they went on to interact with."""

    train: pd.DataFrame
    histories: dict[str, list[str]]
    truth: dict[str, set[str]]
    exclude_seen: bool = False
    """Whether a person's own items are left out of what they are shown."""


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
    return Split(train, {p: histories[p] for p in truth}, truth)


def leave_last_out(interactions: pd.DataFrame) -> Split:
    """Each person's last interaction against the others (see the module's doc)."""
    ordered = (
        interactions.assign(item=interactions["item"].astype(str))
        .reset_index(drop=True)
        .sort_values(["person", "us", "item"], kind="stable")
    )
    last = ordered.groupby("person", sort=False).tail(1)
    train = ordered.drop(last.index).sort_values("us", kind="stable")
    histories = {str(p): list(g) for p, g in train.groupby("person", sort=False)["item"]}
    truth = {str(p): {str(i)} for p, i in zip(last["person"], last["item"], strict=True)}
    truth = {p: t for p, t in truth.items() if p in histories}
    return Split(train, {p: histories[p] for p in truth}, truth, exclude_seen=True)


def validation_split(split: Split, before_s: float = 20 * 60) -> Split:
    """A split of ``split``'s training part alone, to choose settings on without looking at
    its truth: for a temporal split, the training part's last ``before_s`` are the truth; for
    leave-last-out, each person's last training interaction is."""
    if split.exclude_seen:
        return leave_last_out(split.train)
    span = int(split.train["us"].max()) - int(split.train["us"].min())
    return temporal_split(split.train, after_s=span / MICROS - before_s)


def evaluate(
    split: Split, generators: Sequence[Generator], k: int = 10, *, fit: bool = True
) -> dict[str, dict[str, float]]:
    """Each generator's ``hr@k``, ``recall@k`` and ``ndcg@k`` on ``split`` (fitted on its
    training part, unless ``fit`` is false: they already are)."""
    out = {}
    for generator in generators:
        if fit:
            generator.fit(split.train)
        hits = recall = gain = 0.0
        for person, wanted in split.truth.items():
            history = split.histories[person]
            exclude = set(history) if split.exclude_seen else ()
            personal = getattr(generator, "recommend_for", None)
            if personal is not None:  # a router reads more of the person than their items
                shown = [s.item for s in personal(person, history, k, exclude)]
            else:
                shown = [s.item for s in generator.recommend(history, k, exclude)]
            found = [rank for rank, item in enumerate(shown) if item in wanted]
            hits += bool(found)
            recall += len(found) / len(wanted)
            ideal = sum(1 / math.log2(r + 2) for r in range(min(len(wanted), k)))
            gain += sum(1 / math.log2(r + 2) for r in found) / ideal
        people = max(len(split.truth), 1)
        out[generator.name] = {
            f"hr@{k}": hits / people,
            f"recall@{k}": recall / people,
            f"ndcg@{k}": gain / people,
        }
    return out
