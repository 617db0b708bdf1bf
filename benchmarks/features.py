"""``intentflow bench features``: the whole feature catalog over simulated lakes.

- DuckDB (``intentflow features build``, the embedded default) over lakes of 1M to 10M simulated
  events with about one person per ten events; wall time and peak RSS of the process.
- pandas, the same catalog written in plain pandas (``_pandas_features.py``), over the 1M lake in
  the same run, against ``build_features`` on DuckDB timed the same way (in-process, reading the
  lake and computing the table, not writing it); the two tables are compared cell by cell before
  the times are.
- Spark ``local[2]`` over the 1M lake (the scale-out path): query time and wall time with the
  JVM's start.

Each measurement runs in its own process. Lakes are imported once with ``intentflow ingest`` and
cached in ``bench-results/cache``. Writes ``bench-results/features.json`` and
``bench-results/features.png``; the last line printed is the JSON result.

Options: ``--sizes 1,2,5,10`` (millions of events), ``--skip-pandas``, ``--skip-spark``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

from _common import RESULTS, bench_env, log, report, run_json

HERE = Path(__file__).resolve().parent
USERS_PER_EVENT = 0.25
"""Simulated users per event: the lake of N events holds the first N events of N/4 simulated
users (about one person per ten events once anonymous visitors are joined to their logins)."""


def _lake(n: int) -> Path:
    """A data dir whose lake holds ``n`` simulated events (imported once, then cached)."""
    users = int(n * USERS_PER_EVENT)
    data_dir = RESULTS / "cache" / f"features-{n}-{users}"
    if (data_dir / "ready").exists():
        return data_dir
    from intentflow.simulate.clickstream import SimulationConfig, simulate
    from intentflow.simulate.sinks import write_jsonl

    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="intentflow-bench-") as tmp:
        path = Path(tmp) / "events.jsonl"
        log(f"features: simulating {n:,} events of {users:,} users")
        config = SimulationConfig(users=users, days=30, seed=5)
        write_jsonl(islice(simulate(config), n), str(path))
        log(f"features: importing {n:,} events")
        cmd = [sys.executable, "-m", "intentflow.cli", "ingest", str(path), "--json"]
        run_json(cmd, bench_env(data_dir))
    (data_dir / "ready").touch()
    return data_dir


def _cutoff(data_dir: Path) -> str:
    """One second after the lake's last event: the catalog over everything."""
    from datetime import timedelta

    from intentflow.lake.reader import Lake

    lake = Lake(str(data_dir / "lake"))
    con = lake.connect()
    [(last,)] = lake.events(con).aggregate("MAX(timestamp)").fetchall()
    con.close()
    return str((last + timedelta(seconds=1)).isoformat())


def _child(args: list[str], data_dir: Path) -> tuple[dict[str, Any], float, float]:
    """Run this script as a measured child; its JSON line, wall seconds and peak RSS MiB."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    result, wall, peak = run_json(cmd, bench_env(data_dir))
    return result, wall, peak / 2**20


def _duckdb(data_dir: Path, cutoff: str, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "intentflow.cli", "features", "build", "--as-of", cutoff]
    cmd += ["--out", str(out), "--json"]
    summary, wall, peak = run_json(cmd, bench_env(data_dir))
    return {
        "people": summary["people"],
        "query_s": summary["seconds"],
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(peak / 2**20),
    }


def child_pandas(data_dir: str, cutoff: str, reference: str) -> dict[str, Any]:
    """The pandas catalog over the lake, compared with DuckDB's table at ``reference``."""
    from datetime import datetime

    import pyarrow.parquet as pq

    from intentflow.features.build import cutoff_us

    spec = importlib.util.spec_from_file_location("_pandas_features", HERE / "_pandas_features.py")
    assert spec and spec.loader
    baseline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(baseline)
    moment = cutoff_us(datetime.fromisoformat(cutoff))
    started = time.perf_counter()
    events = baseline.load_events(str(Path(data_dir) / "lake"), moment)
    table = baseline.pandas_features(events, moment)
    seconds = time.perf_counter() - started
    mismatches = baseline.compare(table, pq.read_table(reference))
    return {"seconds": round(seconds, 2), "people": len(table), "mismatches": mismatches[:5]}


def child_duckdb(data_dir: str, cutoff: str, reference: str) -> dict[str, Any]:
    """``build_features`` on DuckDB timed as the pandas baseline is (no writing), then its
    table saved for the comparison."""
    from datetime import datetime

    import pyarrow.parquet as pq

    from intentflow.features.build import build_features
    from intentflow.lake.reader import Lake

    started = time.perf_counter()
    table = build_features(Lake(str(Path(data_dir) / "lake")), datetime.fromisoformat(cutoff))
    seconds = time.perf_counter() - started
    pq.write_table(table, reference)
    return {"seconds": round(seconds, 2), "people": table.num_rows}


def child_spark(data_dir: str, cutoff: str) -> dict[str, Any]:
    """The catalog on Spark ``local[2]``: session start and query time."""
    from datetime import datetime

    from intentflow.features.build import build_features
    from intentflow.features.engines import SparkEngine, spark_session
    from intentflow.lake.reader import Lake

    started = time.perf_counter()
    session = spark_session("local[2]", **{"spark.driver.memory": "4g"})
    ready = time.perf_counter()
    table = build_features(
        Lake(str(Path(data_dir) / "lake")),
        datetime.fromisoformat(cutoff),
        engine=SparkEngine(session),
    )
    done = time.perf_counter()
    session.stop()
    return {
        "query_s": round(done - ready, 2),
        "start_s": round(ready - started, 2),
        "people": table.num_rows,
    }


def plot(scaling: list[dict[str, Any]], pandas: dict[str, Any] | None, spark: Any) -> None:
    """Seconds against events: DuckDB's line, pandas and Spark at 1M."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    xs = [row["events"] / 1e6 for row in scaling]
    ax.plot(xs, [row["query_s"] for row in scaling], "o-", label="DuckDB (intentflow)")
    for row, x in zip(scaling, xs, strict=True):
        ax.annotate(f"{row['peak_rss_mb']:,} MB", (x, row["query_s"]), textcoords="offset points",
                    xytext=(4, -12), fontsize=8)  # fmt: skip
    if pandas:
        ax.plot([1], [pandas["seconds"]], "s", color="tab:red", label="pandas")
    if spark:
        ax.plot([1], [spark["query_s"]], "^", color="tab:green", label="Spark local[2]")
    ax.set_xlabel("events (millions)")
    ax.set_ylabel("seconds, whole catalog")
    ax.set_title("Feature catalog build time")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "features.png", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1,2,5,10", help="millions of events, comma-separated")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--child", choices=["duckdb", "pandas", "spark"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--cutoff", help=argparse.SUPPRESS)
    parser.add_argument("--reference", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "duckdb":
        print(json.dumps(child_duckdb(args.data_dir, args.cutoff, args.reference)))
        return
    if args.child == "pandas":
        print(json.dumps(child_pandas(args.data_dir, args.cutoff, args.reference)))
        return
    if args.child == "spark":
        print(json.dumps(child_spark(args.data_dir, args.cutoff)))
        return

    sizes = [int(float(s) * 1_000_000) for s in args.sizes.split(",")]
    scaling: list[dict[str, Any]] = []
    pandas: dict[str, Any] | None = None
    spark: dict[str, Any] | None = None
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="intentflow-bench-") as tmp:
        for n in sizes:
            data_dir = _lake(n)
            cutoff = _cutoff(data_dir)
            out = Path(tmp) / f"features-{n}.parquet"
            log(f"features: DuckDB over {n:,} events")
            row = {"events": n, **_duckdb(data_dir, cutoff, out)}
            scaling.append(row)
            log(f"  {row['people']:,} people, {row['query_s']} s, {row['peak_rss_mb']} MB")
            if n != sizes[0]:
                continue
            if not args.skip_pandas:
                where = ["--data-dir", str(data_dir), "--cutoff", cutoff, "--reference", str(out)]
                log(f"features: DuckDB in-process over {n:,} events, then pandas")
                duck, _, duck_peak = _child(["--child", "duckdb", *where], data_dir)
                result, wall, peak = _child(["--child", "pandas", *where], data_dir)
                pandas = {
                    **result,
                    "events": n,
                    "wall_s": round(wall, 2),
                    "peak_rss_mb": round(peak),
                    "duckdb_s": duck["seconds"],
                    "duckdb_peak_rss_mb": round(duck_peak),
                }
                log(
                    f"  DuckDB {duck['seconds']} s, pandas {pandas['seconds']} s, "
                    f"mismatches {len(pandas['mismatches'])}"
                )
            if not args.skip_spark:
                log(f"features: Spark local[2] over {n:,} events")
                child = ["--child", "spark", "--data-dir", str(data_dir), "--cutoff", cutoff]
                result, wall, peak = _child(child, data_dir)
                spark = {
                    **result,
                    "events": n,
                    "wall_s": round(wall, 2),
                    "peak_rss_mb": round(peak),
                }
                log(f"  query {spark['query_s']} s (JVM start {spark['start_s']} s)")
    plot(scaling, pandas, spark)
    largest = scaling[-1]
    figures: dict[str, Any] = {
        f"duckdb_{largest['events'] // 1_000_000}m_s": largest["query_s"],
        "duckdb_peak_rss_mb": largest["peak_rss_mb"],
        "ratio_vs_pandas": (
            round(pandas["seconds"] / pandas["duckdb_s"], 2)
            if pandas and not pandas["mismatches"]
            else None
        ),
        "spark_1m_s": spark["query_s"] if spark else None,
        "scaling": scaling,
        "pandas": pandas,
        "spark": spark,
    }
    summary = [
        f"DuckDB {r['events']:,} events, {r['people']:,} people: {r['query_s']} s "
        f"(wall {r['wall_s']} s), peak RSS {r['peak_rss_mb']} MB"
        for r in scaling
    ]
    if pandas:
        summary.append(
            f"pandas {pandas['events']:,} events: {pandas['seconds']} s, peak RSS "
            f"{pandas['peak_rss_mb']} MB; DuckDB the same way {pandas['duckdb_s']} s, peak RSS "
            f"{pandas['duckdb_peak_rss_mb']} MB; same table: {not pandas['mismatches']}; DuckDB "
            f"{figures['ratio_vs_pandas']}x faster"
        )
    if spark:
        summary.append(
            f"Spark local[2] {spark['events']:,} events: {spark['query_s']} s "
            f"(+{spark['start_s']} s JVM start), peak RSS {spark['peak_rss_mb']} MB"
        )
    report("features", summary, figures)


if __name__ == "__main__":
    main()
