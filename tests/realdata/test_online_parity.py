"""Online features equal their batch twins: the real Taobao file replayed event by event, read at
several cutoffs, against the catalog's query at the same cutoffs."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from intentflow.config import Settings
from intentflow.features.build import build_features
from intentflow.features.kinds import MICROS
from intentflow.features.online import OnlinePerson, online_features
from intentflow.lake.reader import Lake
from intentflow.stream.processor import Processor
from tests.contract.test_state_stores import _store

CUTOFFS = (
    datetime(2017, 11, 26, 1, 7, 30, tzinfo=UTC),  # inside the first 15 minutes
    datetime(2017, 11, 26, 2, 20, tzinfo=UTC),
    datetime(2017, 11, 26, 3, 10, 12, tzinfo=UTC),  # just after the last event
)


def _events(lake: Lake) -> list[dict[str, object]]:
    """The lake's events in time order, keyed by person as the catalog keys them (the Taobao
    file has a user id on every event)."""
    con = lake.connect()
    return (
        lake.events(con)
        .query(  # type: ignore[no-any-return]
            "events",
            "SELECT COALESCE(user_id, anonymous_id) AS person, type, EPOCH_US(timestamp) AS us, "
            "item_id, category, revenue FROM events ORDER BY us, message_id",
        )
        .to_arrow_table()
        .to_pylist()
    )


def test_online_features_equal_the_batch_ones_at_every_cutoff(taobao_settings: Settings) -> None:
    lake = Lake(taobao_settings.lake_dir)
    features = online_features()
    names = [f.name for f in features]
    assert len(names) > 60  # every count, sum, distinct, recency and their ratios
    events = iter(_events(lake))
    people: dict[str, OnlinePerson] = {}
    pending: dict[str, object] | None = next(events)
    compared = 0
    for cutoff in CUTOFFS:
        cutoff_us = int(cutoff.timestamp() * MICROS)
        while pending is not None and int(pending["us"]) < cutoff_us:  # type: ignore[call-overload]
            person = people.setdefault(str(pending["person"]), OnlinePerson(features))
            person.update(pending)
            pending = next(events, None)
        batch = build_features(lake, cutoff).select(["user_id", *names]).to_pylist()
        assert len(batch) == len(people)
        for row in batch:
            online = people[row["user_id"]].values(cutoff_us)
            for name in names:
                want, got = row[name], online[name]
                if want is None or got is None:
                    assert want is got, (cutoff, row["user_id"], name, want, got)
                elif isinstance(want, str):  # a ranking's value
                    assert want == got, (cutoff, row["user_id"], name, want, got)
                else:
                    assert math.isclose(want, got, rel_tol=1e-9, abs_tol=1e-9), (
                        cutoff,
                        row["user_id"],
                        name,
                        want,
                        got,
                    )
                compared += 1
    assert compared > 3 * 40_000 * 60


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_the_processor_and_its_store_keep_the_same_features(
    kind: str, taobao_settings: Settings, request: pytest.FixtureRequest
) -> None:
    lake = Lake(taobao_settings.lake_dir)
    url = request.getfixturevalue("redis_url") if kind == "redis" else None
    store = _store(kind, url, max_people=100_000)
    processor = Processor(store)
    events = [
        {**e, "user_id": e["person"], "partition": "import", "offset": i, "message_id": str(i)}
        for i, e in enumerate(_events(lake))
    ]
    for start in range(0, len(events), 5000):
        processor.process(events[start : start + 5000])
    assert processor.late == 0
    cutoff = CUTOFFS[-1]
    cutoff_us = int(cutoff.timestamp() * MICROS)
    names = [f.name for f in online_features()]
    batch = build_features(lake, cutoff).select(["user_id", *names]).to_pylist()
    held = store.get_many([row["user_id"] for row in batch])
    assert len(held) == len(batch) == store.stats().people
    for row in batch:
        online = held[row["user_id"]].values(cutoff_us)
        assert all(
            (row[n] is None and online[n] is None)
            or (isinstance(row[n], str) and row[n] == online[n])
            or math.isclose(row[n], online[n], abs_tol=1e-9)  # type: ignore[arg-type]
            for n in names
        ), row["user_id"]
    store.close()
