"""Segmenting end to end: bad input, the stored model, one person placed like everyone, and a
refresh that keeps ids for the same groups."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intentflow.models.registry import Registry
from intentflow.models.segments.build import (
    SegmentOptions,
    read_assignments,
    register,
    segment,
    summary,
)
from intentflow.models.segments.inputs import SegmentError, from_frame
from intentflow.models.segments.model import KIND, FeatureVersionError, SegmentModel
from intentflow.models.segments.refresh import migration_matrix
from tests.unit.models.segments.conftest import FOUR, groups, same_partition

SIZES = (400, 300, 200, 100)


def _people(frame: pd.DataFrame) -> object:
    return from_frame(frame.drop(columns=["truth"]), "user_id")


def test_four_groups_become_four_segments_with_ids_by_size(tmp_path: Path) -> None:
    frame = groups(FOUR, SIZES)
    result = segment(from_frame(frame.drop(columns=["truth"]), "user_id"), SegmentOptions())
    assert result.k == 4 and same_partition(result.segments, frame["truth"].to_numpy())
    assert [p.size for p in result.profiles] == list(SIZES)  # id 1 is the largest
    assert [p.id for p in result.profiles] == [1, 2, 3, 4]
    assert result.validity["silhouette"] > 0.7
    out = summary(result, "v1")
    assert out["k"] == 4 and out["model_version"] == "v1"
    assert [s["size"] for s in out["segments"]] == list(SIZES)
    assert {"silhouette", "davies_bouldin", "calinski_harabasz"} <= set(out)


@pytest.mark.parametrize("algorithm", ["kmeans", "agglomerative", "dbscan", "hdbscan"])
def test_the_stored_model_places_one_person_like_everyone(algorithm: str, tmp_path: Path) -> None:
    frame = groups(FOUR, SIZES, spread=0.4)
    frame.loc[::13, "f1"] = np.nan  # filled by the median, online alike
    people = from_frame(frame.drop(columns=["truth"]), "user_id")
    result = segment(people, SegmentOptions(algorithm=algorithm, k_max=6, min_cluster_size=30))
    registry = Registry(tmp_path)
    version = register(registry, result)
    assert registry.champion(KIND) == version
    model = SegmentModel.load(tmp_path, feature_version=people.feature_version)
    assert model.version == version and model.algorithm == algorithm
    features = frame[["f0", "f1", "f2"]]
    np.testing.assert_array_equal(model.assign(features), result.segments)
    for row in range(0, len(frame), 37):
        one = model.assign_one(features.iloc[row].to_dict())
        assert one.segment == result.segments[row]
        assert one.name == model.names[one.segment]
    stored = read_assignments(registry.info(KIND, version).path)
    assert stored["segment"].tolist() == result.segments.tolist()
    folder = registry.info(KIND, version).path
    assert (folder / "profiles.csv").exists() and (folder / "profiles.md").exists()
    with pytest.raises(FeatureVersionError, match="segment anew"):
        SegmentModel.load(tmp_path, feature_version="table:other")


def test_a_refresh_keeps_ids_for_the_same_groups_and_reports_migrations(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    before = groups(FOUR, SIZES, seed=1)
    first = segment(from_frame(before.drop(columns=["truth"]), "user_id"))
    register(registry, first)
    old_model = SegmentModel.load(tmp_path)
    id_of = {t: int(first.segments[before["truth"] == t][0]) for t in range(4)}

    # a month later: the same people, one group drifted slightly, and a new group appeared
    shifted = [list(c) for c in FOUR]
    shifted[2][1] += 0.5
    later = groups([*shifted, (6, 6, 6)], (*SIZES, 150), seed=2)
    people = from_frame(later.drop(columns=["truth"]), "user_id")
    refreshed = segment(
        people,
        previous=old_model,
        previous_assignments=read_assignments(registry.info(KIND, first.model.version).path),
    )
    version = register(registry, refreshed)
    assert refreshed.k == 5
    for truth in range(4):  # every old group keeps its id and its name
        members = refreshed.segments[later["truth"] == truth]
        assert set(members.tolist()) == {id_of[truth]}
        assert refreshed.model.names[id_of[truth]] == old_model.names[id_of[truth]]
    newcomers = set(refreshed.segments[later["truth"] == 4].tolist())
    assert newcomers == {5} and refreshed.matching is not None
    assert refreshed.matching.new == [5] and refreshed.matching.vanished == []
    assert refreshed.matching.matched == {i: i for i in range(1, 5)}
    out = summary(refreshed, version)
    assert out["matched"] == {str(i): i for i in range(1, 5)} and out["new_segments"] == [5]
    # the first 1,000 ids were there before and stay; the 150 of the new group are new people
    moves = {(m["from"], m["to"]): m["people"] for m in out["migrations"]}
    assert moves == {**{(i, i): n for i, n in zip(range(1, 5), SIZES, strict=True)}, (None, 5): 150}
    matrix = migration_matrix(out["migrations"])
    assert matrix.loc["new people", "5"] == 150

    # the group that shifted moved farther than the others, and within its spread
    moved = refreshed.matching.distances
    assert max(moved[id_of[t]] for t in (0, 1, 3)) < moved[id_of[2]] < 1.0
    again = segment(people, previous=SegmentModel.load(tmp_path, version))
    assert sorted(again.model.ids.tolist()) == [1, 2, 3, 4, 5]
    assert again.model.meta["next_id"] == 6


def test_a_group_that_vanishes_frees_no_id_for_reuse(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    first = segment(from_frame(groups(FOUR, SIZES).drop(columns=["truth"]), "user_id"))
    register(registry, first)
    three = groups(FOUR[:3], SIZES[:3], seed=3)
    refreshed = segment(
        from_frame(three.drop(columns=["truth"]), "user_id"),
        SegmentOptions(k_max=6),
        previous=SegmentModel.load(tmp_path),
    )
    assert refreshed.matching is not None
    assert refreshed.matching.vanished == [4] and refreshed.matching.new == []
    assert sorted(refreshed.model.ids.tolist()) == [1, 2, 3]
    assert refreshed.model.meta["next_id"] == 5
    # a group that appears later is new: it gets 5, not the 4 of the group that vanished
    again = groups((*FOUR[:3], (9, 9, 9)), (*SIZES[:3], 80), seed=4)
    later = segment(
        from_frame(again.drop(columns=["truth"]), "user_id"),
        SegmentOptions(k_max=6),
        previous=refreshed.model,
    )
    assert later.matching is not None and later.matching.new == [5]
    assert set(later.segments[again["truth"] == 3].tolist()) == {5}


def test_a_refresh_on_other_features_is_refused(tmp_path: Path) -> None:
    frame = groups(FOUR, SIZES)
    first = segment(from_frame(frame.drop(columns=["truth"]), "user_id"))
    other = frame.drop(columns=["truth"]).rename(columns={"f2": "visits"})
    with pytest.raises(FeatureVersionError, match="a refresh must read the same features"):
        segment(from_frame(other, "user_id"), previous=first.model)


def test_bad_input_gets_a_clear_error() -> None:
    frame = groups(FOUR, SIZES).drop(columns=["truth"])
    with pytest.raises(SegmentError, match="1 person: segments need two people"):
        segment(from_frame(frame.head(1), "user_id"))
    with pytest.raises(SegmentError, match="k=5 segments for 3 people"):
        segment(from_frame(frame.head(3), "user_id"), SegmentOptions(k=5))
    with pytest.raises(SegmentError, match="finds its own number"):
        segment(from_frame(frame, "user_id"), SegmentOptions(algorithm="dbscan", k=3))
    with pytest.raises(SegmentError, match="choose one of kmeans"):
        segment(from_frame(frame, "user_id"), SegmentOptions(algorithm="spectral"))
    constant = frame.assign(f0=1.0, f1=2.0, f2=np.nan)
    with pytest.raises(SegmentError, match="every feature is constant or empty"):
        segment(from_frame(constant, "user_id"))
    with pytest.raises(SegmentError, match="one row per person"):
        from_frame(pd.concat([frame.head(2), frame.head(1)]), "user_id")
    with pytest.raises(SegmentError, match="no id column 'person'"):
        from_frame(frame, "person")
    with pytest.raises(SegmentError, match="no numeric feature"):
        from_frame(frame[["user_id"]].assign(city="x"), "user_id")


def test_missing_values_and_text_are_handled_as_documented() -> None:
    frame = groups(FOUR, SIZES).drop(columns=["truth"])
    frame.loc[::5, "f0"] = np.nan
    frame["f3"] = 7.0  # constant: left out
    frame["city"] = np.where(frame.index < 400, "Lyon", "Oslo")
    people = from_frame(frame, "user_id")
    result = segment(people)
    assert result.k == 4
    assert result.model.preprocessor.dropped_ == {"f3": "constant"}
    tops = {p.id: p.top["city"][0][0] for p in result.profiles}
    assert tops[1] == "Lyon" and tops[2] == "Oslo"


def test_segments_of_chosen_features_refresh_only_on_the_same_choice() -> None:
    frame = groups(FOUR, SIZES).drop(columns=["truth"])
    people = from_frame(frame, "user_id")
    two = segment(people, SegmentOptions(features=("f0", "f1")))
    assert two.k == 3 and two.model.preprocessor.columns_ == ["f0", "f1"]
    with pytest.raises(SegmentError, match="no feature visits; known: f0, f1, f2"):
        segment(people, SegmentOptions(features=("visits",)))
    with pytest.raises(FeatureVersionError, match="built on f0, f1; these people offer f0, f1, f2"):
        segment(people, previous=two.model)
    assert segment(people, SegmentOptions(features=("f0", "f1")), previous=two.model).matching


@pytest.mark.parametrize(
    "options",
    [
        SegmentOptions(k=4),
        SegmentOptions(k=4, minibatch_above=100),
        SegmentOptions(k=4, algorithm="agglomerative"),
    ],
    ids=["kmeans", "minibatch", "agglomerative"],
)
def test_on_overlapping_groups_the_model_places_everyone_as_segmented(
    options: SegmentOptions,
) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(3000, 2)), columns=["a", "b"])
    frame.insert(0, "user_id", range(3000))
    people = from_frame(frame, "user_id")
    result = segment(people, options)
    placed = result.model.assign(frame[["a", "b"]])
    np.testing.assert_array_equal(placed, result.segments)
    assert [p.size for p in result.profiles] == np.bincount(placed)[1:].tolist()


def test_infinite_missing_and_odd_values_are_filled_alike_in_batch_and_online() -> None:
    frame = groups(FOUR, SIZES).drop(columns=["truth"])
    frame.loc[3, "f0"] = np.inf
    frame.loc[4, "f1"] = -np.inf
    result = segment(from_frame(frame, "user_id"))
    model = result.model
    features = frame[["f0", "f1", "f2"]]
    np.testing.assert_array_equal(model.assign(features), result.segments)
    row = features.iloc[3].to_dict()
    gap = model.assign_one({**row, "f0": None})
    assert model.assign_one(row) == gap == model.assign_one({**row, "f0": pd.NA})
    assert model.assign_one(row).segment == result.segments[3]
    with pytest.raises(SegmentError, match="f0 is 'many', not a number"):
        model.assign_one({"f0": "many"})


def test_ids_are_text_so_that_refreshes_join_whatever_the_file_held(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    frame = groups(FOUR, SIZES).drop(columns=["truth"])
    frame["user_id"] = range(len(frame))  # numbers at first
    first = segment(from_frame(frame, "user_id"))
    register(registry, first)
    frame["user_id"] = [str(i) for i in range(len(frame))]
    frame.loc[0, "user_id"] = "u-new"  # later a text id among them
    stored = read_assignments(registry.info(KIND, first.model.version).path)
    later = segment(from_frame(frame, "user_id"), previous=first.model, previous_assignments=stored)
    moves = {(m["from"], m["to"]): m["people"] for m in later.migrations or []}
    assert moves[(None, int(later.segments[0]))] == 1  # u-new is new
    assert sum(n for (a, b), n in moves.items() if b is None) == 1  # person 0 is gone
    # integer column names (a frame from an array) work too
    assert from_frame(pd.DataFrame(np.eye(3)).assign(id=[1, 2, 3]), "id").features.shape == (3, 3)


def test_a_silhouette_that_cannot_be_measured_is_null_in_json() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": np.r_[rng.normal(size=15_000), 500.0]})
    frame.insert(0, "user_id", range(len(frame)))
    result = segment(from_frame(frame, "user_id"), SegmentOptions(k=2))
    out = json.dumps(summary(result, "v"), allow_nan=False)  # valid JSON whatever the scores
    assert json.loads(out)["k"] == 2


def test_all_people_identical_but_one_still_make_two_segments() -> None:
    frame = pd.DataFrame({"user_id": range(50), "a": [1.0] * 49 + [9.0]})
    result = segment(from_frame(frame, "user_id"), SegmentOptions(k=2))
    assert sorted(p.size for p in result.profiles) == [1, 49]
    with pytest.raises(SegmentError, match="choose k by 'gap'"):
        segment(from_frame(frame, "user_id"), SegmentOptions(choose_by="gap"))


def test_profiles_show_every_feature_even_those_left_out_of_the_distances() -> None:
    frame = groups(FOUR, SIZES).drop(columns=["truth"])
    frame["f0_twice"] = frame["f0"] * 2
    result = segment(from_frame(frame, "user_id"))
    assert "f0_twice" not in result.model.preprocessor.columns_
    assert all("f0_twice" in p.lift for p in result.profiles)
