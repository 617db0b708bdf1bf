"""The public datasets import completely, with exactly the counts their READMEs verified."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from intentflow.config import Settings
from intentflow.ingest.importer import ImportReport, import_file
from intentflow.lake.reader import Lake
from intentflow.lake.stats import lake_stats


@dataclass
class Imported:
    """One dataset file imported into its own lake."""

    path: Path
    settings: Settings
    report: ImportReport

    @property
    def lake(self) -> Lake:
        """The lake it went into."""
        return Lake(self.settings.lake_dir)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run SQL over the lake's events (``ev``), read through :class:`Lake`."""
        lake = self.lake
        con = lake.connect()
        try:
            con.register("ev", lake.events(con))
            return con.execute(sql).fetchall()
        finally:
            con.close()


ImportOf = Callable[[str, str], Imported]


@pytest.fixture(scope="module")
def import_of(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> ImportOf:
    """Import a dataset file with a preset into a fresh lake (once per module and file)."""
    done: dict[tuple[str, str], Imported] = {}

    def run(relative: str, preset: str) -> Imported:
        if (relative, preset) not in done:
            path = datasets / relative
            settings = Settings(data_dir=str(tmp_path_factory.mktemp(preset)))
            done[relative, preset] = Imported(
                path, settings, import_file(path, settings, preset=preset)
            )
        return done[relative, preset]

    return run


def assert_complete(imported: Imported, rows: int) -> None:
    """Every row of the file was accepted; none quarantined or dropped as duplicate."""
    report = imported.report
    assert (report.rows, report.accepted, report.quarantined, report.duplicates) == (
        rows,
        rows,
        0,
        0,
    ), report.reasons
    assert imported.lake.count() == rows


def test_taobao_user_behavior(import_of: ImportOf) -> None:
    taobao = import_of("taobao_userbehavior/UserBehavior.csv", "taobao")
    assert_complete(taobao, 110_300)
    stats = lake_stats(taobao.lake)
    assert stats["events"] == 110_300
    assert stats["by_type"] == {
        "product_view": 98_361,
        "add_to_cart": 6_063,
        "add_to_wishlist": 3_383,
        "purchase": 2_493,
    }
    assert stats["users"] == stats["people"] == 66_454
    assert stats["anonymous_ids"] == 0
    assert stats["items"] == 84_793
    assert stats["by_day"] == [{"date": "2017-11-26", "events": 110_300, "people": 66_454}]
    assert stats["partitions"] == 1
    assert stats["first_event"] == "2017-11-26T01:00:00+00:00"
    assert stats["last_event"] == "2017-11-26T03:10:11+00:00"
    ((categories, buyers, sources),) = taobao.query(
        """SELECT count(DISTINCT category),
                  count(DISTINCT user_id) FILTER (WHERE type = 'purchase'),
                  list(DISTINCT source) FROM ev"""
    )
    assert (categories, buyers, sources) == (3_913, 2_407, ["import:taobao"])


def test_yoochoose_train_full(import_of: ImportOf) -> None:
    yoochoose = import_of("yoochoose_sample/yoochoose-clicks-100k_train_full.txt", "yoochoose")
    assert_complete(yoochoose, 70_278)
    stats = lake_stats(yoochoose.lake)
    assert stats["by_type"] == {"product_view": 70_278}
    assert stats["anonymous_ids"] == stats["people"] == 17_794
    assert stats["users"] == 0
    assert stats["items"] == 2_933
    assert stats["first_event"].startswith("2014-04-01T01:02:")
    assert stats["last_event"].startswith("2014-04-07T00:43:")
    assert [day["date"] for day in stats["by_day"]] == [f"2014-04-0{d}" for d in range(1, 8)]
    ((sessions, mismatched),) = yoochoose.query(
        "SELECT count(DISTINCT session_id), count(*) FILTER "
        "(WHERE anonymous_id <> 'yc-' || session_id) FROM ev"
    )
    assert (sessions, mismatched) == (17_794, 0)


def test_diginetica_sample(import_of: ImportOf) -> None:
    diginetica = import_of("diginetica_sample/sample_train-item-views.csv", "diginetica")
    assert_complete(diginetica, 12_391)
    stats = lake_stats(diginetica.lake)
    assert stats["by_type"] == {"product_view": 12_391}
    assert stats["anonymous_ids"] == 2_986
    assert stats["items"] == 7_139
    ((sessions, first_day, last_day, with_user),) = diginetica.query(
        "SELECT count(DISTINCT session_id), min(event_date), max(event_date), count(user_id) "
        "FROM ev"
    )
    assert (sessions, first_day, last_day) == (2_986, date(2016, 1, 3), date(2016, 6, 1))
    with open(diginetica.path, newline="") as fh:
        named = sum(1 for row in csv.DictReader(fh, delimiter=";") if row["user_id"] != "NA")
    assert with_user == named
    assert 0.3 < with_user / 12_391 < 0.45


def test_movielens_ratings(import_of: ImportOf) -> None:
    movielens = import_of("movielens_small/ratings.csv", "movielens")
    assert_complete(movielens, 100_836)
    with open(movielens.path, newline="") as fh:
        ratings = list(csv.DictReader(fh))
    days = {datetime.fromtimestamp(int(r["timestamp"]), UTC).date() for r in ratings}
    stars = sum(float(r["rating"]) for r in ratings)
    lake = movielens.lake
    files = lake.files()
    assert len({f.rsplit("/", 2)[-2] for f in files}) == len(days)
    con = lake.connect()
    try:
        # All files share the lake schema, so DuckDB need not unify thousands of them by name.
        relation = con.read_parquet(
            [lake.layout.qualified(f) for f in files], hive_partitioning=True
        )
        con.register("ev", relation)
        row = con.execute(
            """SELECT count(*), count(DISTINCT user_id), count(DISTINCT item_id),
                      min(timestamp), max(timestamp),
                      sum(CAST(json_extract(properties, '$.rating') AS DOUBLE)),
                      list(DISTINCT type), count(DISTINCT event_date) FROM ev"""
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    events, users, items, first, last, total, kinds, day_count = row
    assert (events, users, items) == (100_836, 610, 9_724)
    assert first == datetime(1996, 3, 29, 18, 36, 55, tzinfo=UTC)
    assert last == datetime(2018, 9, 24, 14, 27, 30, tzinfo=UTC)
    assert total == stars
    assert kinds == ["product_view"]
    assert day_count == len(days)
