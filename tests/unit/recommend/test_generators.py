"""The candidate generators and their evaluation on small interaction tables worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from intentflow.features.kinds import MICROS
from intentflow.recommend.affinity import AffinityPopular
from intentflow.recommend.base import Generator
from intentflow.recommend.chain import Chain
from intentflow.recommend.covisit import CoVisitation
from intentflow.recommend.ease import Ease
from intentflow.recommend.evaluation import evaluate, leave_last_out, temporal_split
from intentflow.recommend.factors import ImplicitAls, ImplicitItemKnn
from intentflow.recommend.matrix import Matrix, top
from intentflow.recommend.popular import Popular, trending
from intentflow.recommend.recent import RecentItems
from intentflow.stream.trending import WEIGHTS

MINUTE = 60 * MICROS


def _frame(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """Interactions from (person, item, type, minute)."""
    return pd.DataFrame(
        [
            {
                "person": p,
                "item": i,
                "category": "c",
                "type": t,
                "us": m * MINUTE,
                "weight": WEIGHTS[t],
            }
            for p, i, t, m in rows
        ]
    )


VIEW, CART, BUY = "product_view", "add_to_cart", "purchase"


def test_popular_weighs_event_types_and_trending_keeps_the_last_minutes() -> None:
    frame = _frame(
        [("a", "x", VIEW, 0), ("b", "x", VIEW, 1), ("c", "y", BUY, 2), ("d", "z", VIEW, 40)]
    )
    assert [s.item for s in Popular().fit(frame).recommend([], 3)] == ["y", "x", "z"]
    assert [s.item for s in Popular().fit(frame).recommend([], 3, exclude={"y"})] == ["x", "z"]
    assert [s.item for s in trending(15 * 60).fit(frame).recommend([], 3)] == ["z"]


def test_recent_items_are_the_persons_own_latest_first_without_repeats() -> None:
    got = RecentItems().recommend(["a", "b", "a", "c"], 5, exclude={"b"})
    assert [(s.item, s.score) for s in got] == [("c", 1.0), ("a", 0.5)]


def test_covisitation_counts_close_pairs_by_the_other_events_weight() -> None:
    frame = _frame(
        [
            ("p", "a", VIEW, 0),
            ("p", "b", CART, 5),  # b after a: a pair both ways
            ("q", "a", VIEW, 0),
            ("q", "c", VIEW, 10),
            ("r", "a", VIEW, 0),
            ("r", "d", VIEW, 500),  # too far apart
        ]
    )
    model = CoVisitation(window_s=3600).fit(frame)
    assert model.neighbours_["a"] == [("b", WEIGHTS[CART]), ("c", WEIGHTS[VIEW])]
    assert model.neighbours_["b"] == [("a", WEIGHTS[VIEW])]
    assert "d" not in dict(model.neighbours_["a"])
    # the latest item's neighbours count most
    got = model.recommend(["b", "a"], 3)
    assert [s.item for s in got] == ["b", "c", "a"]
    assert got[0].score == pytest.approx(WEIGHTS[CART])


def test_a_chain_takes_each_generators_new_items_in_turn() -> None:
    frame = _frame([("a", "x", VIEW, 0), ("b", "y", VIEW, 1), ("b", "y", VIEW, 2)])
    chain = Chain([RecentItems(), Popular()], name="both").fit(frame)
    assert [s.item for s in chain.recommend(["x"], 3)] == ["x", "y"]


def test_a_temporal_split_keeps_people_seen_on_both_sides_and_scores_hits() -> None:
    frame = _frame(
        [
            ("a", "x", VIEW, 0),
            ("b", "y", VIEW, 10),
            ("c", "z", VIEW, 20),
            ("a", "x", BUY, 90),
            ("a", "w", VIEW, 91),
            ("b", "q", VIEW, 95),
            ("d", "x", VIEW, 99),
        ]
    )
    split = temporal_split(frame, after_s=80 * 60)
    assert split.histories == {"a": ["x"], "b": ["y"]}
    assert split.truth == {"a": {"x", "w"}, "b": {"q"}}
    scores = evaluate(split, [RecentItems()])["recent"]
    # a finds x of x and w (at the top: a gain of 1 of 1 + 1/log2(3)); b nothing
    assert scores == {"hr@10": 0.5, "recall@10": 0.25, "ndcg@10": pytest.approx(0.3066, abs=1e-4)}


def _tastes() -> pd.DataFrame:
    """Two tastes: people who see a, b and c, and people who see x, y and z."""
    rows = []
    for person in range(12):
        group = ("a", "b", "c") if person % 2 else ("x", "y", "z")
        rows += [(f"p{person}", item, VIEW, person * 10 + i) for i, item in enumerate(group)]
    return _frame(rows)


@pytest.mark.parametrize(
    "model", [Ease(l2=1.0), ImplicitItemKnn(neighbours=5), ImplicitAls(factors=4)]
)
def test_matrix_models_recommend_what_goes_with_a_persons_items(model: Generator) -> None:
    model.fit(_tastes())
    got = [s.item for s in model.recommend(["a", "b"], 2, exclude={"a", "b"})]
    assert got[0] == "c"
    assert model.recommend(["never-seen"], 3) == []


def test_leave_last_out_holds_each_persons_last_item_out() -> None:
    frame = _frame(
        [("a", "x", VIEW, 0), ("a", "y", VIEW, 5), ("a", "z", VIEW, 5), ("b", "x", VIEW, 1)]
    )
    split = leave_last_out(frame)
    assert split.truth == {"a": {"z"}} and split.histories == {"a": ["x", "y"]}
    assert split.exclude_seen
    scores = evaluate(split, [Popular()])["popular"]  # popular: x (2), y... x is a's: left out
    assert scores["hr@10"] == 0.0 and scores["ndcg@10"] == 0.0


def test_affinity_draws_the_best_items_of_the_persons_top_categories() -> None:
    frame = pd.concat(
        [
            _frame([("a", "s1", BUY, 0), ("b", "s2", VIEW, 1), ("c", "s3", VIEW, 2)]).assign(
                category="shoes"
            ),
            _frame([("d", "h1", CART, 3), ("e", "h2", VIEW, 4)]).assign(category="hats"),
            _frame([("f", "g1", BUY, 5)]).assign(category="gloves"),
        ]
    )
    model = AffinityPopular().fit(frame)
    # two shoes, one hat seen: shoes first, then hats; gloves are not the person's
    got = [s.item for s in model.recommend(["s3", "h2", "s2"], 4, exclude={"s2"})]
    assert got == ["s1", "s3", "h1", "h2"]
    assert model.recommend(["unknown"], 3) == []


def test_no_items_asked_none_given_and_ties_go_to_the_smaller_id() -> None:
    frame = _tastes()
    for model in (RecentItems(), AffinityPopular(), Chain([RecentItems(), Popular()], "c")):
        assert model.fit(frame).recommend(["a", "b"], 0) == []
    ease = Ease(l2=1.0).fit(frame)
    # a, b and c are all the person's: every other item scores the same, by id
    assert [s.item for s in ease.recommend(["a", "b", "c"], 2, exclude={"a", "b", "c"})] == [
        "x",
        "y",
    ]


def test_leave_last_out_does_not_rely_on_a_unique_index() -> None:
    one = _frame([("a", "x", VIEW, 0), ("a", "y", VIEW, 1), ("a", "z", VIEW, 2)])
    two = _frame(
        [("c", "p", VIEW, 0), ("c", "q", VIEW, 1), ("c", "r", VIEW, 2), ("c", "s", VIEW, 3)]
    )
    split = leave_last_out(pd.concat([one, two]))  # labels 0..2 twice
    assert split.histories == {"a": ["x", "y"], "c": ["p", "q", "r"]}
    assert split.truth == {"a": {"z"}, "c": {"s"}}


def test_top_breaks_ties_by_item_id_and_skips_what_is_excluded() -> None:
    matrix = Matrix.of(_frame([("p", "b", VIEW, 0), ("p", "a", VIEW, 1), ("p", "c", VIEW, 2)]))
    assert matrix.items == ["b", "a", "c"]
    assert [s.item for s in top(np.array([0.0, 0.0, 0.0]), matrix, 2)] == ["a", "b"]
    assert [s.item for s in top(np.array([0.0, 0.0, 1.0]), matrix, 2, exclude={"a"})] == ["c", "b"]
    assert top(np.zeros(3), matrix, 5, exclude={"a", "b", "c"}) == []


def test_the_offline_router_routes_by_events_and_cart_and_draws_the_policys_sources() -> None:
    from intentflow.recommend.evaluation import Split, validation_split
    from intentflow.recommend.policy import Policy
    from intentflow.recommend.router import PolicyRouter

    frame = _frame(
        [
            *[("a", "x", VIEW, 0), ("a", "y", VIEW, 1), ("b", "x", VIEW, 2), ("b", "y", VIEW, 3)],
            *[("c", "y", VIEW, 4), ("c", "z", CART, 5), ("c", "w", VIEW, 6)],
            *[("d", "w", VIEW, 7), ("d", "v", VIEW, 8), ("d", "u", VIEW, 9)],
            ("e", "q", BUY, 50),
        ]
    )
    policy = Policy.model_validate(
        {
            "min_events": 2,
            "strategies": {
                "high_intent": ["cart", "recent"],
                "casual": ["recent", "popular"],
                "sparse": ["trending", "popular"],
            },
        }
    )
    router = PolicyRouter(policy).fit(frame)
    assert router.strategy(router.signals_["c"]) == "high_intent"
    assert router.strategy(router.signals_["d"]) == "casual"
    assert router.strategy(router.signals_["e"]) == "sparse"  # one event
    assert router.strategy(None) == "sparse"
    # c's cart (z) goes with y and w (a tie: the smaller id first); then c's own items
    assert [s.item for s in router.recommend_for("c", ["y", "z", "w"], 3)] == ["w", "y", "z"]
    assert [s.item for s in router.recommend_for("d", ["w", "v", "u"], 4)][:3] == ["u", "v", "w"]
    # e bought q (excluded); the trending window (15 minutes) holds only q
    assert [s.item for s in router.recommend_for("e", ["q"], 2)] == ["y", "z"]  # popular
    split = Split(frame, {"d": ["w", "v"]}, {"d": {"u"}}, exclude_seen=True)
    assert set(validation_split(split).truth) <= {"a", "b", "c", "d"}
