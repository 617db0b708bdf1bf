"""The recommender on real parts: a memory state fed by the processor, the file item catalog,
in-process trending and lists learned from an interaction table. Routing by state, intent and
events; the sources; the rules and their fallbacks; and what every answer says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pandas as pd
import pytest

from intentflow.features.kinds import MICROS
from intentflow.features.online import Catalog, IntentScore, online_features
from intentflow.items.local import LocalItems
from intentflow.items.model import Item
from intentflow.lake.reader import Lake
from intentflow.recommend.lists import Learner, Lists
from intentflow.recommend.policy import Policy, SourceName
from intentflow.recommend.rules import FilterError
from intentflow.recommend.service import Ask, Recommender
from intentflow.recommend.sources import SOURCES, Trends
from intentflow.state.memory import MemoryStore, MemoryTrending
from intentflow.stream.processor import Processor
from intentflow.stream.trending import WEIGHTS

T0 = 1_700_000_000 * MICROS
MINUTE = 60 * MICROS


def _interactions() -> pd.DataFrame:
    """Shoppers who view x then y (and buy y), others who view p, q; categories c1 and c2."""
    rows = []
    for n in range(30):
        rows += [(f"s{n}", "x", "c1", "product_view", n), (f"s{n}", "y", "c1", "purchase", n + 1)]
    for n in range(10):
        rows += [(f"t{n}", "p", "c2", "product_view", n), (f"t{n}", "q", "c2", "product_view", n)]
    rows += [("u", "z", "c1", "product_view", 3)]
    return pd.DataFrame(
        [
            {
                "person": p,
                "item": i,
                "category": c,
                "type": t,
                "us": T0 + m * MINUTE,
                "weight": WEIGHTS[t],
            }
            for p, i, c, t, m in rows
        ]
    )


class Setup:
    def __init__(self, tmp_path: Path, policy: Policy | None = None):
        self.store = MemoryStore(Catalog.of(online_features()), ttl_s=10**9, max_people=100)
        self.trending = MemoryTrending()
        self.items = LocalItems(tmp_path / "items")
        self.processor = Processor(self.store, trending=self.trending, items=self.items)
        self.learner = Learner(Lake(str(tmp_path / "lake")), days=7, every_s=60)
        self.learner.lists = Lists.learn_from(_interactions())
        self.now_us = T0 + 60 * MINUTE
        self.recommender = Recommender(
            policy or Policy(),
            self.items,
            self.learner,
            Trends(self.trending, ttl_s=0),
            people=self.store,
            now_us=lambda: self.now_us,
        )
        self.offset = 0

    def events(self, person: str, *rows: tuple[str, str, str | None]) -> None:
        batch = []
        for kind, item, category in rows:
            self.offset += 1
            batch.append(
                {
                    "type": kind,
                    "item_id": item,
                    "category": category,
                    "user_id": person,
                    "message_id": f"m{self.offset}",
                    "us": self.now_us - MINUTE + self.offset,
                    "partition": "log",
                    "offset": self.offset,
                }
            )
        self.processor.process(batch)

    def ask(self, user: str, **more: Any) -> Any:
        return self.recommender.recommend(Ask(user, **more))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    yield Setup(tmp_path)


def test_every_policy_source_has_a_drawing_function() -> None:
    assert set(get_args(SourceName)) == set(SOURCES)


def test_a_stranger_is_sparse_and_gets_popular_items_then_trending(setup: Setup) -> None:
    answer = setup.ask("nobody", n=3)
    assert answer.strategy == "sparse" and answer.reasons == ["no events of this person yet"]
    assert [c.item for c in answer.items] == ["y", "x", "p"]  # popular: purchases weigh more
    assert {c.source for c in answer.items} == {"popular"} and answer.fallback is None
    assert len(answer.rec_id) == 32 and answer.rec_id != setup.ask("nobody").rec_id


def test_a_sparse_visitor_on_a_product_page_gets_what_goes_with_it(setup: Setup) -> None:
    answer = setup.ask("nobody", n=2, context_item="x")
    assert (answer.items[0].item, answer.items[0].source) == ("y", "context")
    assert "x" not in [c.item for c in answer.items]


def test_high_intent_gets_their_own_items_then_what_goes_with_them(setup: Setup) -> None:
    setup.events(
        "ann", ("product_view", "x", "c1"), ("product_view", "z", "c1"), ("add_to_cart", "x", "c1")
    )
    person = setup.store.get("ann")
    assert person is not None
    person.intent = IntentScore.of(0.8, True, [], setup.now_us, "v1")
    answer = setup.ask("ann", n=4)
    assert answer.strategy == "high_intent" and "high intent: 0.80" in answer.reasons[0]
    assert [(c.item, c.source) for c in answer.items][:3] == [
        ("x", "recent"),
        ("z", "recent"),
        ("y", "cart"),
    ]
    assert answer.intent == 0.8


def test_a_casual_person_gets_trending_items_of_their_categories(setup: Setup) -> None:
    setup.events("bob", *[("product_view", "p", "c2")] * 3, ("product_view", "q", "c2"))
    setup.events("cat", ("product_view", "z", "c1"))
    answer = setup.ask("bob", n=2)
    assert answer.strategy == "casual" and answer.reasons == ["not scored yet"]
    assert [(c.item, c.source, c.reason) for c in answer.items] == [
        ("p", "trending_affinity", "trending in c2 now"),
        ("q", "trending_affinity", "trending in c2 now"),
    ]
    few = setup.ask("cat")  # one event: fewer than the policy's three
    assert few.strategy == "sparse" and few.reasons == ["1 events in 30 days, fewer than 3"]


def test_rules_remove_bought_blocked_out_of_stock_and_say_so(tmp_path: Path) -> None:
    policy = Policy.model_validate({"rules": {"blocked_items": ["x"]}})
    setup = Setup(tmp_path, policy)
    setup.items.put_many([Item(item_id="p", in_stock=False)])
    setup.events("dan", ("purchase", "y", "c1"))
    answer = setup.ask("dan", n=3)
    items = [c.item for c in answer.items]
    assert not {"x", "y", "p"} & set(items) and items[0] == "q"
    assert answer.rules == {"exclude_out_of_stock": 1}  # x and y are never drawn at all


def test_when_rules_leave_too_few_popular_items_fill_and_the_answer_says_why(
    setup: Setup,
) -> None:
    setup.items.put_many(
        [Item(item_id="y", category_path=["c1"], price=100.0), Item(item_id="x", price=5.0)]
    )
    answer = setup.ask("nobody", n=3, filter="price<=50")
    assert [c.item for c in answer.items] == ["x"]  # unpriced items do not pass a price filter
    assert answer.rules["request_filter"] >= 2
    assert answer.detail is None
    nothing = setup.ask("nobody", n=3, filter="price>1000")
    assert nothing.items == [] and nothing.detail is not None
    assert nothing.detail.startswith("every candidate was filtered out: request_filter removed")


def test_boosts_and_diversity_reorder_and_cap_categories(tmp_path: Path) -> None:
    policy = Policy.model_validate(
        {"rules": {"max_per_category": 1, "boosts": [{"factor": 10, "categories": ["c2"]}]}}
    )
    answer = Setup(tmp_path, policy).ask("nobody", n=3)
    assert [c.item for c in answer.items] == ["p", "y"]  # one of c2 (boosted), one of c1
    assert answer.rules["max_per_category"] >= 1 and answer.rules["boosts"] >= 1


def test_malformed_filters_and_conflicting_rules_are_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    setup = Setup(tmp_path, Policy.model_validate({"rules": {"exclude_categories": ["c1"]}}))
    for bad, reason in [
        ("price<cheap", "is not a number"),
        ("price", "expected FIELD OP VALUE"),
        ("tag<3", "tag takes = !="),
        ("in_stock=maybe", "true or false"),
        ("price<=inf", "finite"),
    ]:
        with pytest.raises(FilterError, match=reason):
            setup.ask("nobody", filter=bad)
    with pytest.raises(FilterError, match="excluded by the policy"):
        setup.ask("nobody", category="c1")
    with pytest.raises(ValueError, match="both included and excluded"):
        Policy.model_validate({"rules": {"include_categories": ["a"], "exclude_categories": ["a"]}})
    with pytest.raises(ValueError, match="undefined strategies"):
        Policy.model_validate({"segments": {"Bargain hunters": "bargains"}})


def test_similar_items_are_neighbours_then_the_best_of_the_category(setup: Setup) -> None:
    known, items, detail = setup.recommender.similar("x", 3)
    assert known and [c.item for c in items][:1] == ["y"] and detail is None
    assert "x" not in [c.item for c in items]
    assert setup.recommender.similar("nothing-known", 3) == (False, [], None)


def test_the_lists_are_learned_again_only_when_the_lake_changed(tmp_path: Path) -> None:
    from intentflow.events import event_from_dict, lake_lines
    from intentflow.lake.layout import LakeLayout
    from intentflow.lake.writer import LakeWriter, table_from_lines

    def write(name: str, person: str) -> None:
        events = [
            event_from_dict(
                {
                    "message_id": f"{name}-{n}",
                    "type": "product_view",
                    "user_id": person,
                    "item_id": item,
                    "timestamp": f"2026-11-20T10:0{n}:00Z",
                }
            )
            for n, item in enumerate(["a", "b"])
        ]
        LakeWriter(LakeLayout(str(tmp_path / "lake")), fsync=False).write(
            table_from_lines(lake_lines(events)), name
        )

    learner = Learner(Lake(str(tmp_path / "lake")), days=7, every_s=60)
    assert learner.refresh().interactions == 0
    write("first", "p1")
    first = learner.refresh()
    assert first.interactions == 2 and first.covisitation.neighbours_["a"] == [("b", 1.0)]
    assert learner.refresh() is first  # nothing new in the lake: nothing learned again
    write("second", "p2")
    assert learner.refresh().interactions == 4
    before = learner.lists
    assert learner.refresh(force=True) is not before  # asked to: learned again all the same
