"""The ``intentflow`` command end to end, as users run it: a real process per command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

from tests.conftest import WRITE_KEY
from tests.integration.conftest import ServerProcess


def run(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTFLOW_")}
    env.update({"INTENTFLOW_DATA_DIR": str(data_dir), "INTENTFLOW_WRITE_KEYS": WRITE_KEY})
    result = subprocess.run(
        [sys.executable, "-m", "intentflow.cli", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def last_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_simulate_ingest_stats_compact(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for out in (first, second):
        run(
            data,
            "simulate",
            "--users",
            "60",
            "--days",
            "3",
            "--seed",
            "5",
            "--start",
            "2026-11-01",
            "--out",
            str(out),
        )
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_bytes().count(b"\n")
    assert lines > 500
    report = last_json(run(data, "ingest", str(first), "--json"))
    assert report["rows"] == report["accepted"] == lines and report["quarantined"] == 0
    stats = last_json(run(data, "lake", "stats", "--json"))
    assert stats["events"] == lines and sum(stats["by_type"].values()) == lines
    assert [d["date"] for d in stats["by_day"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    rerun = last_json(run(data, "ingest", str(first), "--json"))
    assert rerun["accepted"] == lines
    assert last_json(run(data, "lake", "stats", "--json"))["events"] == lines
    csv = tmp_path / "extra.csv"
    csv.write_text("who,what,when\nu1,sku-1,1762000000\nu2,sku-2,1762000100\n")
    mapped = last_json(
        run(
            data,
            "ingest",
            str(csv),
            "--map",
            "user_id=who",
            "--map",
            "item_id=what",
            "--type",
            "product_view",
            "--timestamp",
            "when",
            "--json",
        )
    )
    assert mapped["accepted"] == 2
    before = last_json(run(data, "lake", "stats", "--json"))
    compacted = last_json(run(data, "lake", "compact", "--json"))
    assert compacted["files_after"] <= compacted["files_before"]
    after = last_json(run(data, "lake", "stats", "--json"))
    assert after["events"] == before["events"] == lines + 2
    assert after["by_type"] == before["by_type"]


def test_quarantine_list_and_replay_after_a_fix(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    events = [
        {
            "message_id": "ok",
            "type": "product_view",
            "user_id": "u",
            "item_id": "a",
            "timestamp": "2026-11-20T10:00:00Z",
        },
        {
            "message_id": "no-person",
            "type": "product_view",
            "item_id": "b",
            "timestamp": "2026-11-20T10:00:00Z",
        },
        {
            "message_id": "no-item",
            "type": "add_to_cart",
            "user_id": "u",
            "timestamp": "2026-11-20T10:00:00Z",
        },
    ]
    reply = httpx.post(server.url + "/v1/events", json={"events": events}, auth=(WRITE_KEY, ""))
    assert reply.json()["accepted"] == 1
    assert server.terminate() == 0
    data = tmp_path / "data"
    listed = last_json(run(data, "quarantine", "list", "--json"))
    assert listed["total"] == 2
    reasons = {r["index"]: r["reason"] for r in listed["records"]}
    assert "user_id or an anonymous_id" in reasons[1] and "item_id" in reasons[2]
    report = last_json(
        run(
            data,
            "quarantine",
            "replay",
            "--all",
            "--patch",
            '{"anonymous_id": "anon-fixed"}',
            "--json",
        )
    )
    assert report["replayed"] == 1 and report["still_rejected"] == 1
    remaining = last_json(run(data, "quarantine", "list", "--json"))
    assert remaining["total"] == 1 and "item_id" in remaining["records"][0]["reason"]
    again = last_json(
        run(
            data,
            "quarantine",
            "replay",
            remaining["records"][0]["id"][:8],
            "--patch",
            '{"item_id": "c"}',
            "--json",
        )
    )
    assert again["replayed"] == 1
    assert last_json(run(data, "quarantine", "list", "--json"))["total"] == 0
    stats = last_json(run(data, "lake", "stats", "--json"))
    assert stats["events"] == 3
    assert stats["by_type"] == {"product_view": 2, "add_to_cart": 1}


def test_simulate_to_a_running_collector(server: ServerProcess) -> None:
    result = run(
        server.data_dir,
        "simulate",
        "--users",
        "20",
        "--days",
        "1",
        "--seed",
        "9",
        "--to",
        server.url,
        "--write-key",
        WRITE_KEY,
    )
    assert "sent" in result.stderr
    assert server.terminate() == 0
    stats = last_json(run(server.data_dir, "lake", "stats", "--json"))
    assert stats["events"] > 0


def test_schema_and_errors(tmp_path: Path) -> None:
    schema = last_json(run(tmp_path, "schema"))
    assert "discriminator" in schema
    missing = run(tmp_path, "bench", "no-such-benchmark", check=False)
    assert missing.returncode != 0 and "no benchmark" in missing.stderr
    both = run(tmp_path, "simulate", check=False)
    assert both.returncode != 0 and "--out" in both.stderr


def test_demo_sends_flushes_builds_features_trains_intent_segments_and_replays_live(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "demo"
    # 400 people buy often enough on any weekday (the simulated week starts at the run's
    # date) for a 24-hour purchase label with five buyers or more
    result = run(
        data_dir,
        "demo",
        "--users",
        "400",
        "--days",
        "5",
        "--live-users",
        "100",
        "--speedup",
        "17280",
    )
    assert "collector:" in result.stderr and "features:" in result.stderr
    (path,) = (data_dir / "features").glob("as_of_date=*/features-*.parquet")
    table = pq.read_table(path)
    stats = json.loads(run(data_dir, "lake", "stats", "--json").stdout.strip().splitlines()[-1])
    assert table.num_rows > 10
    # every event of the five simulated days lies in everyone's 30-day window; the lake also
    # holds the live day, replayed after the features were built
    words = " ".join(result.stderr.split())  # the console wraps long lines
    (replayed,) = re.findall(r"live: ([\d,]+) events of a day", words)
    live = int(replayed.replace(",", ""))
    assert sum(table["events_30d"].to_pylist()) == stats["events"] - live
    assert "most active people" in result.stdout
    # the intent model: trained on the lake, champion, explained, reported
    (champion,) = [m for m in last_json(run(data_dir, "models", "list", "--json")) if m["champion"]]
    assert f"intent model {champion['version']}" in result.stderr
    assert "logistic regression" in result.stdout and "rule" in result.stdout
    scored = re.findall(r"intent (\d\.\d\d) \((high intent|casual)\), (because|no feature)", words)
    assert len(scored) == 2  # two people, each with their reasons
    assert float(scored[0][0]) >= float(scored[1][0])  # the highest score, then a median one
    assert (data_dir / "reports" / f"intent-{champion['version']}" / "index.html").exists()
    # segments of everyone, named, with their report
    (segments,) = [
        m for m in last_json(run(data_dir, "models", "list", "--kind", "segments", "--json"))
    ]
    assert f"segments {segments['version']}: k={segments['k']}" in result.stdout
    assert segments["people"] == table.num_rows
    assert (data_dir / "reports" / f"segments-{segments['version']}" / "map_tsne.png").exists()
    # the live replay went through the stream processor, every event of it
    (applied,) = re.findall(r"live: ([\d,]+) events applied \(([\d,]+) late\)", words)
    assert int(applied[0].replace(",", "")) + int(applied[1]) == live
    assert "trending at" in words
    # and the running API recommends to three kinds of people, each with strategy and reasons
    assert "recommendations from the running API" in words
    for kind, strategy in (("high intent", "high_intent"), ("casual", "casual"), ("new", "sparse")):
        assert re.search(rf"{kind} \S+( on the page of \S+)?: strategy {strategy} \(", words), kind
