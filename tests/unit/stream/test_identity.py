"""People who browse anonymously and then log in (or are mailed as users) are one person online
as in the batch features: the processor's online features equal the batch ones at every cutoff,
on simulated visits with identify calls and emails that carry both ids."""

from __future__ import annotations

import math
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intentflow.features.build import build_features
from intentflow.features.kinds import MICROS
from intentflow.features.online import Catalog, online_features
from intentflow.simulate.clickstream import SimulationConfig, simulate
from intentflow.state.memory import MemoryStore
from intentflow.stream.processor import Processor
from tests.unit.features.test_catalog import write_lake


@pytest.mark.parametrize("tracker_sessions", [True, False])
def test_linked_people_have_the_batch_features_at_every_cutoff(
    tracker_sessions: bool, tmp_path: Path
) -> None:
    history = []
    events = list(simulate(SimulationConfig(users=120, days=3, seed=11)))
    last_day = max(e["timestamp"] for e in events).date()
    seen: dict[str, int] = {}
    for offset, event in enumerate(events):
        # on the last day half of the users come back on a second device: each visit starts
        # anonymous there, and they log in at its tenth event (their history is long by then)
        if (
            event.get("user_id")
            and event.get("session_id")
            and event["timestamp"].date() == last_day
            and zlib.crc32(event["user_id"].encode()) % 2 == 0
        ):
            event["anonymous_id"] = f"{event['anonymous_id']}-2"
            seen[event["session_id"]] = seen.get(event["session_id"], 0) + 1
            if seen[event["session_id"]] <= 9:
                event["user_id"] = None
        if not tracker_sessions:
            event["session_id"] = None
        event["message_id"] = f"m{offset}"
        history.append(event)
    assert sum(1 for count in seen.values() if count > 9) > 5
    lake = write_lake(tmp_path / "lake", history)
    rows = [
        {**e, "us": int(e["timestamp"].timestamp() * MICROS), "partition": "log", "offset": i}
        for i, e in enumerate(history)
    ]
    rows.sort(key=lambda r: (r["us"], r["offset"]))
    features = online_features()
    store = MemoryStore(Catalog.of(features), ttl_s=90 * 86_400, max_people=10_000)
    processor = Processor(store, lateness_s=60)
    first, last = rows[0]["us"], rows[-1]["us"]
    times = [r["us"] for r in rows]
    cutoffs = sorted(
        [first + int(share * (last + 1 - first)) for share in (0.4, 1.0)]
        + [times[len(times) * k // 6] + 20 * MICROS for k in (2, 3, 5)]
    )
    fed = compared = linked = 0
    for cutoff_us in cutoffs:
        batch = [r for r in rows[fed:] if r["us"] < cutoff_us]
        fed += len(batch)
        for at in range(0, len(batch), 7):  # small batches: a login often comes in a later one
            processor.process(batch[at : at + 7])
        cutoff = datetime.fromtimestamp(cutoff_us / MICROS, UTC)
        expected = build_features(lake, cutoff).to_pylist()
        online = store.get_many([row["user_id"] for row in expected])
        assert set(online) == {row["user_id"] for row in expected}
        for row in expected:
            got = online[row["user_id"]].values(cutoff_us)
            for feature in features:
                want, have = row[feature.name], got[feature.name]
                where = (cutoff, row["user_id"], feature.name, want, have)
                if want is None or have is None or isinstance(want, str):
                    assert want == have, where
                else:
                    assert math.isclose(want, have, abs_tol=1e-9), where
                compared += 1
        linked = len(store.links)
    assert compared > 100 * len(features)
    assert linked > 15  # people whose anonymous history moved to their user
    anonymous = {e["anonymous_id"] for e in history if e.get("user_id")}
    assert not set(store.get_many(sorted(anonymous)))  # no linked id keeps a state of its own


def test_a_link_lives_as_long_as_its_anonymous_id_is_used() -> None:
    now = [0.0]
    store = MemoryStore(
        Catalog.of(online_features()), ttl_s=100, max_people=10, clock=lambda: now[0]
    )
    processor = Processor(store)
    view = {"type": "page_view", "partition": "log", "us": MICROS}

    def send(offset: int, **ids: str | None) -> None:
        processor.process([{**view, "message_id": f"m{offset}", "offset": offset, **ids}])

    send(1, anonymous_id="a1", user_id="ada")  # the login
    for offset in range(2, 6):  # visits logged out, 60 s apart: each one refreshes the link
        now[0] += 60
        send(offset, anonymous_id="a1", user_id=None)
    assert store.aliases(["a1"]) == {"a1": "ada"}
    now[0] += 150  # idle past the TTL: forgotten, with the person
    send(6, anonymous_id="other", user_id=None)
    assert store.aliases(["a1"]) == {} and store.get("ada") is None
