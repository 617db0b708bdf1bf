"""The lake on S3: a real S3-protocol server (``moto_server``) over loopback, no mocks.

One ``moto_server`` subprocess serves the whole module; each test gets its own prefix in one bucket,
so the tests do not see each other's files. The lake is reached the way a deployment reaches it:
``Settings(lake={"url": "s3://BUCKET/PREFIX", "storage_options": {...}})`` for the writers and
``Lake(url, storage_options)`` for the readers, through s3fs and (for queries) DuckDB with the
fsspec store registered.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import duckdb
import httpx
import pytest

from intentflow.collect.server import free_port
from intentflow.config import FlushSettings, LakeSettings, Settings
from intentflow.events import event_from_dict, lake_lines
from intentflow.ingest.importer import import_file
from intentflow.ingest.presets import Mapping
from intentflow.lake.compact import compact, recover
from intentflow.lake.layout import LakeLayout
from intentflow.lake.reader import Lake
from intentflow.lake.stats import lake_stats
from intentflow.lake.writer import LakeWriter, table_from_lines
from intentflow.wal.service import EventLog

BUCKET = "intentflow-lake-test"
KEY = SECRET = "testing"
REGION = "us-east-1"
DAYS = ("2026-03-01", "2026-03-02", "2026-03-03")


@dataclass(frozen=True)
class S3Server:
    """A running ``moto_server`` with one bucket."""

    endpoint: str
    bucket: str

    @property
    def storage_options(self) -> dict[str, Any]:
        """What s3fs needs to reach the server (``endpoint_url``, ``key``, ``secret``)."""
        return {
            "endpoint_url": self.endpoint,
            "key": KEY,
            "secret": SECRET,
            "client_kwargs": {"region_name": REGION},
        }

    def client(self) -> Any:
        """A boto3 client of the server, to look at the bucket independently of s3fs."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
            region_name=REGION,
        )

    def keys(self, prefix: str) -> list[str]:
        """Every object key under ``prefix``, as S3 itself lists them."""
        pages = (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=prefix)
        )
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """``moto_server`` on a free loopback port with a fresh bucket; stopped after the module."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    moto_server = Path(sys.executable).with_name("moto_server")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {log_path.read_text()[-3000:]}")
            try:
                httpx.get(endpoint + "/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto_server did not answer: {log_path.read_text()[-3000:]}"
                    ) from None
                time.sleep(0.1)
        server = S3Server(endpoint, BUCKET)
        server.client().create_bucket(Bucket=BUCKET)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def lake_url(s3: S3Server) -> str:
    """A fresh lake prefix in the bucket for one test."""
    return f"s3://{s3.bucket}/{uuid.uuid4().hex[:10]}/lake"


def _prefix(url: str) -> str:
    """The object key prefix of a lake URL (``s3://bucket/x/lake`` -> ``x/lake/``)."""
    return url.removeprefix("s3://").split("/", 1)[1] + "/"


def _settings(tmp_path: Path, s3: S3Server, url: str) -> Settings:
    return Settings(
        data_dir=str(tmp_path / "data"),
        lake=LakeSettings(url=url, storage_options=s3.storage_options),
        flush=FlushSettings(max_age_s=60.0),
    )


def _events(prefix: str, per_day: int, days: tuple[str, ...] = DAYS) -> list[dict[str, Any]]:
    """``per_day`` events on each of ``days``, of three types, at distinct hours and minutes."""
    kinds = ("product_view", "add_to_cart", "purchase")
    rows: list[dict[str, Any]] = []
    for d, day in enumerate(days):
        for i in range(per_day):
            kind = kinds[i % 3]
            row: dict[str, Any] = {
                "message_id": f"{prefix}-{d}-{i}",
                "type": kind,
                "user_id": f"u{i % 5}",
                "timestamp": f"{day}T{i % 24:02d}:{i % 60:02d}:00Z",
            }
            if kind != "purchase":
                row["item_id"] = f"sku-{i % 7}"
            else:
                row["revenue"] = 10.0 + i
            rows.append(row)
    return rows


def _lines(rows: list[dict[str, Any]]) -> bytes:
    return lake_lines([event_from_dict(row) for row in rows])


def _ids(lake: Lake, start: datetime | None = None, end: datetime | None = None) -> list[str]:
    con = lake.connect()
    try:
        return sorted(r[0] for r in lake.events(con, start, end).project("message_id").fetchall())
    finally:
        con.close()


def _flush_into_lake(tmp_path: Path, s3: S3Server, url: str, batches: list[bytes]) -> int:
    """Append each batch to a fresh event log and flush it into the lake; returns events moved."""
    log = EventLog(_settings(tmp_path, s3, url))
    log.open()
    try:
        moved = 0
        for batch in batches:
            log.append_sync(batch)
            moved += log.flush()
        return moved
    finally:
        log.close()


def test_event_log_round_trip_through_s3(tmp_path: Path, s3: S3Server, lake_url: str) -> None:
    rows = _events("rt", per_day=40)
    assert _flush_into_lake(tmp_path, s3, lake_url, [_lines(rows[:50]), _lines(rows[50:])]) == 120

    keys = s3.keys(_prefix(lake_url))
    assert keys, "nothing reached the bucket"
    assert all(
        "/events/event_date=" in k and k.rsplit("/", 1)[1].startswith("part-") for k in keys
    ), keys
    assert not [k for k in keys if k.rsplit("/", 1)[1].startswith(".part-")]

    lake = Lake(lake_url, s3.storage_options)
    assert not lake.layout.is_local
    assert lake.layout.staged_files() == []
    assert lake.count() == 120
    assert sorted(lake.message_ids()) == sorted(r["message_id"] for r in rows)
    assert _ids(lake) == sorted(r["message_id"] for r in rows)
    assert {f.split("event_date=")[1].split("/")[0] for f in lake.files()} == set(DAYS)

    # pruning by date: only the middle day's files are listed for it
    middle = lake.files(date(2026, 3, 2), date(2026, 3, 2))
    assert middle and all("/event_date=2026-03-02/" in f for f in middle)
    assert lake.files(date(2026, 3, 2), date(2026, 3, 3)) == sorted(
        f for f in lake.files() if "event_date=2026-03-01" not in f
    )
    start = datetime(2026, 3, 2, tzinfo=UTC)
    end = start + timedelta(days=1)
    expected = sorted(r["message_id"] for r in rows if r["timestamp"].startswith("2026-03-02"))
    assert _ids(lake, start, end) == expected

    # a partition outside the range is never opened: garbage there does not disturb the query
    garbage = lake.layout.final_path("2026-03-01", "garbage")
    with lake.layout.fs.open(garbage, "wb") as fh:
        fh.write(b"not a parquet file")
    assert _ids(lake, start, end) == expected
    con = lake.connect()
    try:
        with pytest.raises(duckdb.Error, match=r"(?i)parquet|magic"):
            lake.events(con).project("message_id").fetchall()
    finally:
        con.close()


def test_a_reader_sees_what_other_writers_add_and_remove(
    tmp_path: Path, s3: S3Server, lake_url: str
) -> None:
    # Another collector or a compaction run elsewhere has its own S3 client; the reader's
    # listings must not be served from a cache that only its own writes invalidate.
    rows = _events("ow", per_day=6)
    _flush_into_lake(tmp_path, s3, lake_url, [_lines(rows[:9]), _lines(rows[9:])])
    lake = Lake(lake_url, s3.storage_options)
    assert lake.count() == 18 and len(lake.files()) == 4
    elsewhere = {**s3.storage_options, "skip_instance_cache": True}
    more = _events("ow-more", per_day=2, days=("2026-03-02", "2026-03-04"))
    LakeWriter(LakeLayout(lake_url, elsewhere)).write(table_from_lines(_lines(more)), "other")
    assert lake.count() == 22
    assert sorted(lake.message_ids()) == sorted(r["message_id"] for r in rows + more)

    reports = compact(Lake(lake_url, elsewhere), target_bytes=64 << 20)
    assert [(r["date"], r["inputs"]) for r in reports] == [("2026-03-02", 3)]
    assert [f.split("event_date=")[1][:10] for f in lake.files()] == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
    ]
    assert lake.count() == 22
    assert _ids(lake) == sorted(r["message_id"] for r in rows + more)


def test_recent_message_ids_use_s3_modification_times(
    tmp_path: Path, s3: S3Server, lake_url: str
) -> None:
    rows = _events("mt", per_day=5)
    _flush_into_lake(tmp_path, s3, lake_url, [_lines(rows)])
    lake = Lake(lake_url, s3.storage_options)
    an_hour = 3600.0
    assert sorted(lake.message_ids(since_mtime=time.time() - an_hour)) == sorted(
        r["message_id"] for r in rows
    )
    assert list(lake.message_ids(since_mtime=time.time() + an_hour)) == []


def test_event_log_recovery_on_s3_discards_uncommitted_staged_files(
    tmp_path: Path, s3: S3Server, lake_url: str
) -> None:
    settings = _settings(tmp_path, s3, lake_url)
    log = EventLog(settings)
    log.open()
    log.append_sync(_lines(_events("rc", per_day=4)))
    log.close(flush=False)
    # a flush that crashed before its commit point left a staged file under the log's name
    wal_id = (Path(settings.wal_dir) / "id").read_text().strip()
    layout = LakeLayout(lake_url, s3.storage_options)
    staged = LakeWriter(layout).stage(
        table_from_lines(_lines(_events("rc", per_day=4))), f"{wal_id}-crashed"
    )
    assert len(layout.staged_files()) == len(DAYS) == len(staged)

    log = EventLog(settings)
    log.open()
    try:
        assert layout.staged_files() == []
        log.flush()  # the log's backlog (the background flusher may have taken it already)
    finally:
        log.close()
    assert not [k for k in s3.keys(_prefix(lake_url)) if "/.part-" in k]
    assert Lake(lake_url, s3.storage_options).count() == 4 * len(DAYS)


def test_lake_stats_over_s3(tmp_path: Path, s3: S3Server, lake_url: str) -> None:
    rows = _events("st", per_day=30)
    _flush_into_lake(tmp_path, s3, lake_url, [_lines(rows)])
    stats = lake_stats(Lake(lake_url, s3.storage_options))
    assert stats["events"] == 90
    assert stats["by_type"] == {"product_view": 30, "add_to_cart": 30, "purchase": 30}
    assert [d["date"] for d in stats["by_day"]] == list(DAYS)
    assert [d["events"] for d in stats["by_day"]] == [30, 30, 30]
    assert stats["users"] == stats["people"] == 5
    assert stats["partitions"] == 3
    assert stats["files"] == 3
    sizes = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=_prefix(lake_url))["Contents"]
    assert stats["bytes"] == sum(obj["Size"] for obj in sizes) > 0
    assert stats["first_event"].startswith("2026-03-01")
    assert stats["last_event"].startswith("2026-03-03")
    assert stats["lake"] == lake_url


def test_compaction_on_s3_merges_a_partition(s3: S3Server, lake_url: str) -> None:
    layout = LakeLayout(lake_url, s3.storage_options)
    writer = LakeWriter(layout)
    rows = _events("cp", per_day=60, days=("2026-03-05",))
    for i in range(4):
        writer.write(table_from_lines(_lines(rows[i * 15 : (i + 1) * 15])), f"small-{i}")
    other = _events("keep", per_day=3, days=("2026-03-06",))
    writer.write(table_from_lines(_lines(other)), "other")
    lake = Lake(lake_url, s3.storage_options)
    assert len(lake.files(date(2026, 3, 5), date(2026, 3, 5))) == 4

    reports = compact(lake, target_bytes=64 << 20)

    assert [(r["date"], r["inputs"], r["rows"]) for r in reports] == [("2026-03-05", 4, 60)]
    merged = lake.files(date(2026, 3, 5), date(2026, 3, 5))
    assert merged == [reports[0]["output"]]
    assert lake.rows_in(merged[0]) == 60
    ids = list(lake.message_ids())
    assert len(ids) == len(set(ids)) == 63
    assert sorted(ids) == sorted(r["message_id"] for r in rows + other)
    assert _ids(lake) == sorted(ids)
    keys = s3.keys(_prefix(lake_url))
    assert not [k for k in keys if "/_journal/" in k], keys
    assert not [k for k in keys if "/.part-" in k], keys
    assert len([k for k in keys if "event_date=2026-03-05" in k]) == 1


def test_interrupted_compaction_on_s3_rolls_forward(s3: S3Server, lake_url: str) -> None:
    layout = LakeLayout(lake_url, s3.storage_options)
    writer = LakeWriter(layout)
    rows = _events("rf", per_day=20, days=("2026-03-07",))
    inputs = [
        writer.write(table_from_lines(_lines(rows[:10])), "a")[0],
        writer.write(table_from_lines(_lines(rows[10:])), "b")[0],
    ]
    # the crash came after the output was in place, before the inputs were deleted
    output = writer.write(table_from_lines(_lines(rows)), "c-merged")[0]
    journal = f"{layout.journal_dir}/compact-c-merged.json"
    entry = {
        "inputs": inputs,
        "staged": layout.staged_path("2026-03-07", "c-merged"),
        "output": output,
    }
    layout.fs.makedirs(layout.journal_dir, exist_ok=True)
    writer.put(journal, json.dumps(entry).encode())

    lake = Lake(lake_url, s3.storage_options)
    assert lake.files() == [output]
    assert lake.count() == 20
    assert recover(layout) == 1
    assert lake.files() == [output]
    assert not [k for k in s3.keys(_prefix(lake_url)) if "/_journal/" in k]
    assert sorted(lake.message_ids()) == sorted(r["message_id"] for r in rows)


def test_import_csv_into_s3_lake(tmp_path: Path, s3: S3Server, lake_url: str) -> None:
    source = tmp_path / "clicks.csv"
    actions = ("view", "cart", "buy")
    base = datetime(2026, 3, 10, 6, tzinfo=UTC)
    with open(source, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["visitor", "sku", "action", "ts"])
        for i in range(300):
            stamp = base + timedelta(hours=i // 100 * 24, minutes=i)
            out.writerow([f"v{i % 11}", f"sku-{i % 17}", actions[i % 3], int(stamp.timestamp())])
        out.writerow(["v1", "sku-1", "teleport", int(base.timestamp())])  # unknown type
    mapping = Mapping(
        fields={"user_id": "visitor", "item_id": "sku"},
        type_column="action",
        type_values={"view": "product_view", "cart": "add_to_cart", "buy": "purchase"},
        timestamp="ts",
    )
    settings = _settings(tmp_path, s3, lake_url)

    report = import_file(source, settings, fmt="csv", mapping=mapping, chunk_rows=120, workers=1)

    assert (report.rows, report.accepted, report.quarantined) == (301, 300, 1)
    lake = Lake(lake_url, s3.storage_options)
    assert lake.count() == 300
    assert {f.split("event_date=")[1][:10] for f in lake.files()} == {
        "2026-03-10",
        "2026-03-11",
        "2026-03-12",
    }
    assert report.files == len(lake.files())
    assert lake.layout.staged_files() == []
    ids = list(lake.message_ids())
    assert len(set(ids)) == 300
    day = datetime(2026, 3, 11, tzinfo=UTC)
    assert len(_ids(lake, day, day + timedelta(days=1))) == 100

    # re-running the import replaces the same files with the same rows
    again = import_file(source, settings, fmt="csv", mapping=mapping, chunk_rows=120, workers=1)
    assert again.accepted == 300
    assert lake.count() == 300
    assert sorted(lake.message_ids()) == sorted(ids)
