"""The split helpers catch leaks: shared rows, people on both sides, training after the test."""

from __future__ import annotations

import numpy as np
import pytest

from intentflow.models.intent.splits import (
    LeakError,
    check_split,
    grouped_folds,
    stratified_folds,
    time_cut,
)

RNG = np.random.default_rng(7)
LABELS = (RNG.random(600) < 0.1).astype(int)
PEOPLE = RNG.integers(0, 80, size=600)
TIMES = np.sort(RNG.integers(0, 10_000, size=600))


def test_stratified_folds_keep_rare_positives_in_every_fold() -> None:
    folds = stratified_folds(LABELS, 5)
    shares = [LABELS[test].mean() for _, test in folds]
    assert max(shares) - min(shares) < 0.02
    for train, test in folds:
        check_split(train, test)
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(600))


def test_grouped_folds_keep_each_person_in_one_fold() -> None:
    for train, test in grouped_folds(LABELS, PEOPLE, 4):
        check_split(train, test, groups=PEOPLE)


def test_row_folds_on_repeated_people_are_caught_as_leaky() -> None:
    train, test = stratified_folds(LABELS, 4)[0]
    with pytest.raises(LeakError, match="people are on both sides"):
        check_split(train, test, groups=PEOPLE)


def test_time_cuts_order_train_validation_test() -> None:
    rest, test = time_cut(TIMES, 0.2)
    train, valid = (rest[part] for part in time_cut(TIMES[rest], 0.25))
    check_split(train, valid, times=TIMES)
    check_split(np.concatenate([train, valid]), test, times=TIMES)
    assert len(train) > len(valid) > 0 and len(test) > 0
    assert len(np.unique(TIMES[test])) == round(len(np.unique(TIMES)) * 0.2)


def test_a_shuffled_split_of_events_in_time_is_caught_as_leaky() -> None:
    train, test = stratified_folds(LABELS, 4)[0]
    with pytest.raises(LeakError, match="at or after the first test time"):
        check_split(train, test, times=TIMES)


def test_a_time_cut_needs_two_times_and_keeps_one_on_each_side() -> None:
    with pytest.raises(ValueError, match="two distinct times"):
        time_cut(np.array([1, 1, 1]), 0.2)
    earlier, later = time_cut(np.array([1, 2, 2]), 0.9)
    assert earlier.tolist() == [0] and later.tolist() == [1, 2]
