"""``intentflow bench ingest``: HTTP ingestion and file import, against baselines in the same run.

HTTP: batches of 100 simulated events over keep-alive connections from a separate load-generator
process, fsync per group of batches, then a clean stop and an id-by-id comparison of what was
acknowledged with what the lake holds. The ceiling is the same load against an endpoint on the same
web stack that only parses the JSON.

Import: the real Taobao file and simulated JSON-lines files of growing size, through
``intentflow ingest`` in a subprocess (peak RSS of its process tree sampled), beside DuckDB
converting the same file to Parquet with no validation (the cost of the conversion alone).

Options: ``--events N`` HTTP events (default 600,000), ``--concurrency C`` connections (default
8), ``--scale S`` simulated import sizes S x (1M, 2M) events (``--scale 5`` gives 10M),
``--skip-http``, ``--skip-import``.
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import httpx
import msgspec
from _common import RESULTS, bench_env, log, report, run_json

from intentflow.collect.server import free_port
from intentflow.lake.reader import Lake
from intentflow.lake.writer import LAKE_COLUMNS
from intentflow.simulate.clickstream import SimulationConfig, simulate
from intentflow.simulate.sinks import batched, write_jsonl

HERE = Path(__file__).resolve().parent
KEY = "bench-key"
DATASETS = Path(os.environ.get("INTENTFLOW_DATASETS", HERE.parents[1] / "shared" / "datasets"))


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return bench_env(data_dir, INTENTFLOW_WRITE_KEYS=KEY, **extra)


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited during start")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _bodies(n_events: int, work: Path) -> tuple[Path, list[str]]:
    events = simulate(SimulationConfig(users=max(1000, n_events // 12), days=3, seed=11))
    ids: list[str] = []
    path = work / "bodies.bin"
    encoder = msgspec.json.Encoder()
    with open(path, "wb") as fh:
        for batch in batched((e for _, e in zip(range(n_events), events, strict=False)), 100):
            ids.extend(e["message_id"] for e in batch)
            body = encoder.encode({"events": batch})
            fh.write(struct.pack("<I", len(body)) + body)
    return path, ids


def _load(port: int, bodies: Path, concurrency: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            str(HERE / "_loadgen.py"),
            "127.0.0.1",
            str(port),
            "/v1/events",
            KEY,
            str(bodies),
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = msgspec.json.decode(out.stdout.strip().splitlines()[-1])
    lat = sorted(result.pop("latencies_ms"))
    result["p50_ms"] = lat[len(lat) // 2]
    result["p99_ms"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    result["events_per_s"] = result["requests"] * 100 / result["elapsed_s"]
    return result


def bench_http(n_events: int, concurrency: int, work: Path) -> dict[str, Any]:
    """Ceiling first, then intentflow on the same bodies; then the lost/duplicated check."""
    log(f"http: preparing {n_events:,} events in batches of 100")
    bodies, ids = _bodies(n_events, work)
    port = free_port()
    log("http: ceiling (parse-only endpoint on the same stack)")
    ceiling_proc = subprocess.Popen([sys.executable, str(HERE / "_ceiling.py"), str(port)])
    try:
        _wait_ready(f"http://127.0.0.1:{port}/docs", ceiling_proc)
        ceiling = _load(port, bodies, concurrency)
    finally:
        ceiling_proc.terminate()
        ceiling_proc.wait()
    data_dir = work / "http-data"
    port = free_port()
    log("http: intentflow collector (validation, dedup, write-ahead log with fsync)")
    server = subprocess.Popen(
        [sys.executable, "-m", "intentflow.cli", "serve", "--port", str(port)],
        env=_env(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz", server)
        ours = _load(port, bodies, concurrency)
    finally:
        server.terminate()
        server.wait(timeout=120)
    lake = Lake(str(data_dir / "lake"))
    con = lake.connect()
    stored = Counter(row[0] for row in lake.events(con).project("message_id").fetchall())
    acked = set(ids) if ours["accepted"] == len(ids) else set()
    lost = len(acked - set(stored)) if acked else len(ids) - ours["accepted"]
    duplicated = sum(n - 1 for n in stored.values() if n > 1)
    return {
        "events": len(ids),
        "batch": 100,
        "concurrency": concurrency,
        "events_per_s": round(ours["events_per_s"]),
        "p50_ms": ours["p50_ms"],
        "p99_ms": ours["p99_ms"],
        "status": ours["status"],
        "accepted": ours["accepted"],
        "lost": lost,
        "duplicated": duplicated,
        "ceiling_events_per_s": round(ceiling["events_per_s"]),
        "ceiling_p99_ms": ceiling["p99_ms"],
        "ratio_to_ceiling": round(ours["events_per_s"] / ceiling["events_per_s"], 3),
    }


def _import(path: Path, args: list[str], work: Path, label: str) -> dict[str, Any]:
    data_dir = work / f"import-{label}"
    cmd = [sys.executable, "-m", "intentflow.cli", "ingest", str(path), *args, "--json"]
    rep, wall, peak = run_json(cmd, _env(data_dir))
    return {
        "rows": rep["rows"],
        "accepted": rep["accepted"],
        "quarantined": rep["quarantined"],
        "seconds": round(rep["seconds"], 2),
        "events_per_s": rep["events_per_s"],
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(peak / 2**20, 1),
    }


def _plain(path: Path, work: Path, reader: str) -> float:
    """Events/s of DuckDB converting the file to Parquet with no validation at all (JSON lines
    are read with the lake's columns given, as the flusher reads them)."""
    out = work / "plain.parquet"
    options = ""
    if reader == "read_json":
        columns = ", ".join(f"'{k}': '{v}'" for k, v in LAKE_COLUMNS.items())
        options = f", format='newline_delimited', columns={{{columns}}}"
    started = time.perf_counter()
    con = duckdb.connect()
    rows = con.execute(
        f"COPY (SELECT * FROM {reader}('{path}'{options})) TO '{out}' "
        "(FORMAT parquet, COMPRESSION zstd)"
    ).fetchall()[0][0]
    con.close()
    return float(rows) / (time.perf_counter() - started)


def _simulated(n: int) -> Path:
    cache = RESULTS / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"sim-{n}.jsonl"
    if not path.exists():
        log(f"import: generating {n:,} simulated events (cached in {cache})")
        tmp = path.with_suffix(".tmp")
        events = simulate(SimulationConfig(users=max(1000, n // 60), days=30, seed=3))
        write_jsonl((e for _, e in zip(range(n), events, strict=False)), str(tmp))
        tmp.rename(path)
    return path


def bench_import(scale: float, work: Path) -> dict[str, Any]:
    """Taobao and simulated files through ``intentflow ingest``, with plain conversion beside."""
    out: dict[str, Any] = {}
    taobao = DATASETS / "taobao_userbehavior" / "UserBehavior.csv"
    if taobao.exists():
        log("import: taobao (real)")
        out["taobao"] = _import(taobao, ["--preset", "taobao"], work, "taobao")
        out["taobao"]["plain_events_per_s"] = round(_plain(taobao, work, "read_csv"))
    for n in (int(1_000_000 * scale), int(2_000_000 * scale)):
        path = _simulated(n)
        log(f"import: {n:,} simulated events")
        figures = _import(path, [], work, f"sim{n}")
        figures["plain_events_per_s"] = round(_plain(path, work, "read_json"))
        figures["file_mib"] = round(path.stat().st_size / 2**20, 1)
        out[f"simulated_{n}"] = figures
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=600_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-import", action="store_true")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    summary = []
    with tempfile.TemporaryDirectory(prefix="intentflow-bench-") as tmp:
        work = Path(tmp)
        if not args.skip_http:
            http = bench_http(args.events, args.concurrency, work)
            figures.update(
                {
                    k: http[k]
                    for k in (
                        "events_per_s",
                        "p99_ms",
                        "lost",
                        "duplicated",
                        "ceiling_events_per_s",
                    )
                }
            )
            figures["http"] = http
            summary.append(
                f"HTTP ingest: {http['events_per_s']:,} events/s, p99 {http['p99_ms']} ms, "
                f"lost {http['lost']}, duplicated {http['duplicated']}; ceiling "
                f"{http['ceiling_events_per_s']:,} events/s (ratio {http['ratio_to_ceiling']})"
            )
        if not args.skip_import:
            imports = bench_import(args.scale, work)
            figures["import"] = imports
            for label, f in imports.items():
                summary.append(
                    f"import {label}: {f['rows']:,} rows, {f['events_per_s']:,} events/s, "
                    f"peak RSS {f['peak_rss_mib']} MiB (plain conversion "
                    f"{f['plain_events_per_s']:,} events/s)"
                )
    report("ingest", summary, figures)


if __name__ == "__main__":
    main()
