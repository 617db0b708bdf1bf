"""Training sets: labels from the horizon after each cutoff, features from before it, and nothing
after a cutoff changes a feature at that cutoff."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from intentflow.features.build import SKIPPED_KEY, VERSION_KEY
from intentflow.features.catalog import FEATURES, catalog_version
from intentflow.features.labels import (
    ADD_TO_CART,
    PURCHASE,
    REST_OF_SESSION,
    Label,
    Within,
    parse_horizon,
)
from intentflow.features.training import HORIZON_KEY, LABEL_KEY, rolling_cutoffs, training_set
from intentflow.lake.reader import CorruptFileError, Lake
from intentflow.simulate.clickstream import SimulationConfig, simulate

from ...tables import assert_same
from .test_catalog import CUTOFF, lake_table, write_lake
from .test_command import corrupt


def after(**delta: float) -> str:
    return (CUTOFF + timedelta(**delta)).isoformat()


def before(**delta: float) -> str:
    return (CUTOFF - timedelta(**delta)).isoformat()


def event(kind: str, user_id: str | None, timestamp: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "timestamp": timestamp,
        **({"user_id": user_id} if user_id else {}),
        **fields,
    }


def people() -> list[dict[str, Any]]:
    """Six people around the cutoff:

    - ``u-1`` browses 5 minutes before it and buys 10 minutes after, in the same visit;
    - ``u-2`` browses 5 minutes before it, pauses 40 minutes (a new visit) and buys;
    - ``u-3`` was last seen 2 hours before it and buys 3 hours after;
    - ``anon-4`` browses anonymously, logs in after the cutoff as ``u-4`` and buys;
    - ``anon-5`` was linked to ``u-5`` before the cutoff and buys without logging in;
    - ``u-6`` is in a tracker session that goes on after a long pause, then buys.
    """
    return [
        event("product_view", "u-1", before(minutes=5), item_id="1"),
        event("add_to_cart", "u-1", after(minutes=2), item_id="1"),
        event("purchase", "u-1", after(minutes=10), item_id="1", revenue=9.0),
        event("product_view", "u-2", before(minutes=5), item_id="2"),
        event("page_view", "u-2", after(minutes=1)),
        event("purchase", "u-2", after(minutes=41), item_id="2", revenue=5.0),
        event("page_view", "u-3", before(hours=2)),
        event("purchase", "u-3", after(hours=3), item_id="3", revenue=7.0),
        event("product_view", None, before(minutes=1), anonymous_id="anon-4", item_id="4"),
        event("identify", "u-4", after(minutes=3), anonymous_id="anon-4"),
        event("purchase", "u-4", after(minutes=4), anonymous_id="anon-4", item_id="4"),
        event("identify", "u-5", before(hours=1), anonymous_id="anon-5"),
        event("page_view", None, before(minutes=5), anonymous_id="anon-5"),
        event("purchase", None, after(minutes=20), anonymous_id="anon-5", item_id="5"),
        event("page_view", "u-6", before(minutes=1), session_id="s6"),
        event("page_view", "u-6", after(hours=2), session_id="s6"),
        event("purchase", "u-6", after(hours=2, minutes=1), session_id="s6", item_id="6"),
    ]


def labels(lake: Lake, horizon: Any, **options: Any) -> dict[str, bool]:
    table = training_set(lake, cutoffs=[CUTOFF], horizon=horizon, **options)
    return dict(zip(table["user_id"].to_pylist(), table["label"].to_pylist(), strict=True))


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return write_lake(tmp_path / "lake", people())


def test_the_next_n_minutes(lake: Lake) -> None:
    assert labels(lake, timedelta(minutes=15)) == {
        "u-1": True,
        "u-2": False,
        "u-3": False,
        "anon-4": True,
        "u-5": False,  # buys anonymously 20 minutes after the cutoff
        "u-6": False,
    }
    assert labels(lake, Within(timedelta(minutes=30)))["u-5"] is True


def test_the_next_24_hours(lake: Lake) -> None:
    assert labels(lake, timedelta(hours=24)) == dict.fromkeys(
        ["u-1", "u-2", "u-3", "anon-4", "u-5", "u-6"], True
    )


def test_the_rest_of_the_session(lake: Lake) -> None:
    # u-3 has no open session: no row. u-2's purchase comes after a 40-minute pause: a new
    # session. u-6's tracker session id holds the visit together across its pause.
    assert labels(lake, REST_OF_SESSION) == {
        "u-1": True,
        "u-2": False,
        "anon-4": True,
        "u-5": True,
        "u-6": True,
    }
    assert labels(lake, REST_OF_SESSION, gap_s=45 * 60)["u-2"] is True


def test_another_label(lake: Lake) -> None:
    assert labels(lake, timedelta(minutes=15), label=ADD_TO_CART) == {
        "u-1": True,
        "u-2": False,
        "u-3": False,
        "anon-4": False,
        "u-5": False,
        "u-6": False,
    }


def test_an_event_at_the_cutoff_is_a_label_not_a_feature(tmp_path: Path) -> None:
    history = [
        event("page_view", "u", before(minutes=1)),
        event("purchase", "u", CUTOFF.isoformat(), item_id="1", revenue=3.0),
    ]
    lake = write_lake(tmp_path / "lake", history)
    table = training_set(lake, cutoffs=[CUTOFF], horizon=Within(timedelta(minutes=1)))
    row = table.to_pylist()[0]
    assert (row["label"], row["purchases_24h"], row["events_24h"]) == (True, 0, 1)


def test_rows_carry_the_cutoff_and_the_stamps(lake: Lake) -> None:
    cutoffs = [CUTOFF, CUTOFF - timedelta(hours=1)]
    table = training_set(lake, cutoffs=cutoffs, horizon=timedelta(hours=1))
    assert table.column_names == [
        "user_id",
        "cutoff",
        *(f.name for f in FEATURES),
        "label",
    ]
    assert sorted(set(table["cutoff"].to_pylist())) == sorted(cutoffs)
    metadata = table.schema.metadata
    assert metadata[VERSION_KEY] == catalog_version().encode()
    assert (metadata[LABEL_KEY], metadata[HORIZON_KEY]) == (b"purchase", b"1h")
    # an hour earlier, only the people seen by then have rows
    earlier = table.filter(
        pc.equal(table["cutoff"], pa.scalar(cutoffs[1], table.schema.field("cutoff").type))
    )
    assert sorted(earlier["user_id"].to_pylist()) == ["u-3"]  # u-5 was identified at it


def test_an_empty_lake_gives_an_empty_training_set(tmp_path: Path) -> None:
    table = training_set(Lake(str(tmp_path / "none")), cutoffs=[CUTOFF], horizon=REST_OF_SESSION)
    assert table.num_rows == 0
    assert table.column_names[-1] == "label"


def simulated(seed: int) -> list[dict[str, Any]]:
    """Simulated events, a third of the people without tracker session ids (sessions by gap)."""
    config = SimulationConfig(users=300, days=6, seed=seed, start=datetime(2026, 1, 1, tzinfo=UTC))
    out = []
    for event in simulate(config):
        person = str(event.get("user_id") or event.get("anonymous_id"))
        if zlib.crc32(person.encode()) % 3 == 0:
            event.pop("session_id", None)
        out.append(event)
    return out


@pytest.mark.parametrize(
    ("horizon", "label"),
    [(REST_OF_SESSION, Label("view", ("product_view",))), (Within(timedelta(hours=24)), PURCHASE)],
)
def test_events_after_a_cutoff_change_its_labels_and_no_feature(
    tmp_path: Path, horizon: Any, label: Label
) -> None:
    events = lake_table(simulated(seed=11))
    cutoffs = rolling_cutoffs(
        datetime(2026, 1, 2, 12, tzinfo=UTC),
        datetime(2026, 1, 5, 12, tzinfo=UTC),
        timedelta(hours=11),
    )
    positives = rows = 0
    for cutoff in cutoffs:
        moment = pa.scalar(cutoff, events.schema.field("timestamp").type)
        early = events.filter(pc.less(events["timestamp"], moment))
        late = events.filter(pc.greater_equal(events["timestamp"], moment))
        assert early.num_rows and late.num_rows
        blind = training_set(
            write_lake(tmp_path / f"blind-{cutoff:%d%H}", early, "early"),
            cutoffs=[cutoff],
            horizon=horizon,
            label=label,
        )
        full_lake = write_lake(tmp_path / f"full-{cutoff:%d%H}", early, "early")
        write_lake(tmp_path / f"full-{cutoff:%d%H}", late, "late")
        seeing = training_set(full_lake, cutoffs=[cutoff], horizon=horizon, label=label)
        assert_same(seeing.drop_columns(["label"]), blind.drop_columns(["label"]))
        assert not any(blind["label"].to_pylist())
        positives += sum(seeing["label"].to_pylist())
        rows += blind.num_rows
    assert rows > 10
    assert positives > 0  # the later events were there, and seen by the labels


def test_rolling_cutoffs_and_horizons() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert rolling_cutoffs(start, start + timedelta(minutes=90), timedelta(hours=1)) == [
        start,
        start + timedelta(hours=1),
    ]
    with pytest.raises(ValueError, match="positive"):
        rolling_cutoffs(start, start, timedelta(0))
    assert parse_horizon("24h") == Within(timedelta(hours=24))
    assert parse_horizon("rest-of-session") is REST_OF_SESSION
    for bad in ("soon", "0m", "5 weeks"):
        with pytest.raises(ValueError, match="horizon"):
            parse_horizon(bad)
    with pytest.raises(ValueError, match="cutoff"):
        training_set(Lake("/nonexistent"), cutoffs=[], horizon=REST_OF_SESSION)


def test_a_corrupt_file_is_named_or_skipped_for_every_cutoff(tmp_path: Path) -> None:
    lake = write_lake(tmp_path / "lake", people())
    write_lake(
        tmp_path / "lake",
        [event("page_view", f"x-{i}", after(hours=1)) for i in range(300)],
        "extra",
    )
    [bad] = (tmp_path / "lake").rglob("*extra*.parquet")
    corrupt(bad)
    cutoffs = [CUTOFF, CUTOFF + timedelta(hours=2)]
    with pytest.raises(CorruptFileError, match=bad.name):
        training_set(lake, cutoffs=cutoffs, horizon=timedelta(hours=1))
    table = training_set(lake, cutoffs=cutoffs, horizon=timedelta(hours=1), skip_corrupt=True)
    assert table.schema.metadata[SKIPPED_KEY].decode().endswith(bad.name)
    assert set(table["user_id"].to_pylist()) == {"u-1", "u-2", "u-3", "anon-4", "u-5", "u-6", "u-4"}
