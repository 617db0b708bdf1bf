"""``intentflow bench recs``: recommendation latency under a fixed arrival rate, with state for
100,000 people (250,000 simulated, of whom about 100,000 come in a day), on the memory and the
Redis backend.

A simulated clickstream of ``--users`` people (``--days`` days) goes over HTTP into a fresh
``intentflow serve`` with a promoted intent model; the stream processor keeps everyone's state
(features, item trail, intent score) and the trending lists, the flusher puts the events into
the lake, and the recommender learns its lists (co-visitation, popular, category bests) from
it. Then an open-loop load generator in its own process (:mod:`_openloop`) sends
``GET /v1/recommendations/{user_id}?n=10`` at ``--rate`` requests per second for ``--seconds``:
three in four for people with state, one in ten for people never seen, the rest for people with
state on a product page (``context_item``). Latency counts from each request's scheduled time
to the end of its reply (client side, so queueing shows) and, from the ``Server-Timing`` header,
in the server.

Baseline, in the same run and under the same load: a FastAPI endpoint served by uvicorn that
only sorts a cached list (:mod:`_sorted_list_app`).

Recorded per backend: client and server p50, p95, p99 and max, the error rate (non-200 replies,
failures, and replies over 5 s), the strategies answered, the server's memory (RSS) and, for
Redis, the memory Redis uses. Goals: server p99 at most 5 ms, client p99 at most 15 ms, no
errors.

Writes ``bench-results/recs.json`` and ``bench-results/recs-latency.png`` (the latency
distributions); the last line printed is the JSON result. Options: ``--users`` (250,000),
``--days`` (1), ``--rate`` (1,000), ``--seconds`` (30), ``--connections`` (32), ``--backends``
(memory,redis).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np
import psutil
import redis
from _common import RESULTS, bench_env, log, report, start_serve, wait_json
from _intent_model import train_model

from intentflow.collect.server import free_port
from intentflow.simulate.clickstream import SimulationConfig, simulate
from intentflow.state.local import local_redis
from intentflow.stream.trending import WEIGHTS

HERE = Path(__file__).resolve().parent
WRITE_KEY, READ_KEY = "bench-write-key", "bench-read-key"
GOALS = {"server_p99_ms": 5.0, "client_p99_ms": 15.0, "error_rate": 0.0}
BATCH = 5_000


def _paths(events: list[dict[str, Any]], count: int, seed: int = 1) -> list[bytes]:
    """Request paths: people with state, people never seen, people on a product page."""
    rng = random.Random(seed)
    people = sorted({str(e.get("user_id") or e.get("anonymous_id")) for e in events})
    items = sorted({str(e["item_id"]) for e in events if e.get("item_id")})
    out = []
    for n in range(count):
        roll = rng.random()
        if roll < 0.10:
            out.append(f"/v1/recommendations/new-{n}?n=10")
        elif roll < 0.25:
            person, item = rng.choice(people), rng.choice(items)
            out.append(f"/v1/recommendations/{person}?n=10&context_item={item}")
        else:
            out.append(f"/v1/recommendations/{rng.choice(people)}?n=10")
    return [p.encode() for p in out]


def _interactions(events: list[dict[str, Any]]) -> int:
    """How many of the events the recommender learns from."""
    return sum(
        1
        for e in events
        if e["type"] in WEIGHTS and e.get("item_id") and (e.get("user_id") or e.get("anonymous_id"))
    )


def _load(url_port: int, paths_file: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(HERE / "_openloop.py"),
        "127.0.0.1",
        str(url_port),
        str(args.rate),
        str(args.seconds),
        str(paths_file),
        str(args.connections),
        READ_KEY,
    ]
    done = subprocess.run(cmd, capture_output=True, check=True, timeout=args.seconds + 120)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _measured_load(
    pid: int, port: int, paths_file: Path, args: argparse.Namespace
) -> tuple[dict[str, Any], float]:
    """The load generator's result against the server ``pid`` listens for on ``port``, and
    the server's CPU milliseconds per request answered meanwhile."""
    process = psutil.Process(pid)
    before = process.cpu_times()
    found = _load(port, paths_file, args)
    after = process.cpu_times()
    cpu_ms = (after.user + after.system - before.user - before.system) * 1000
    return found, round(cpu_ms / max(1, found["answered"]), 3)


def _summary(found: dict[str, Any]) -> dict[str, Any]:
    client = np.array(found["client_ms"])
    server = np.array([s for s in found["server_ms"] if s is not None])
    failed = found["errors"] + sum(n for code, n in found["status"].items() if code != "200")
    out: dict[str, Any] = {
        "requests": found["requests"],
        "achieved_rate": round(found["answered"] / found["seconds"], 1),
        "error_rate": round(failed / max(1, found["requests"]), 6),
        "status": found["status"],
        "errors": found["errors"],
        "scheduled_late": found["scheduled_late"],
    }
    for name, values in (("client", client), ("server", server)):
        if len(values):
            for q in (50, 95, 99):
                out[f"{name}_p{q}_ms"] = round(float(np.percentile(values, q)), 3)
            out[f"{name}_max_ms"] = round(float(values.max()), 3)
    return out


def _baseline(work: Path, paths_file: Path, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    with open(work / "baseline.log", "wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "_sorted_list_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=HERE,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_json(
            f"http://127.0.0.1:{port}/v1/recommendations/x",
            60,
            lambda _: True,
            every_s=0.2,
            timeout_s=5,
        )
        found, cpu_ms = _measured_load(server.pid, port, paths_file, args)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        **_summary(found),
        "server_cpu_ms_per_request": cpu_ms,
        "client_ms_sample": found["client_ms"],
    }


def _send(url: str, events: list[dict[str, Any]]) -> None:
    encoder = msgspec.json.Encoder()
    with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {WRITE_KEY}"}) as http:
        for at in range(0, len(events), BATCH):
            body = b'{"events":' + encoder.encode(events[at : at + BATCH]) + b"}"
            reply = http.post(
                url + "/v1/events", content=body, headers={"content-type": "application/json"}
            )
            reply.raise_for_status()


def _backend(
    kind: str,
    work: Path,
    events: list[dict[str, Any]],
    paths_file: Path,
    args: argparse.Namespace,
    redis_url: str | None,
) -> dict[str, Any]:
    data = work / kind
    extra = {
        "INTENTFLOW_WRITE_KEYS": WRITE_KEY,
        "INTENTFLOW_API_KEYS": READ_KEY,
        "INTENTFLOW_MODELS__REGISTRY_URL": str(work / "models"),
        "INTENTFLOW_FLUSH__MAX_AGE_S": "1",
        "INTENTFLOW_RECOMMEND__REFRESH_S": "2",
    }
    if redis_url is not None:
        extra |= {"INTENTFLOW_STATE": "redis", "INTENTFLOW_REDIS_URL": redis_url}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_serve(work / f"serve-{kind}.log", port, bench_env(data, **extra))
    try:
        wait_json(url + "/readyz", 60, lambda _: True, every_s=0.2, timeout_s=5)
        log(f"recs [{kind}]: sending {len(events):,} events")
        started = time.perf_counter()
        _send(url, events)
        total = len(events)
        status = wait_json(
            url + "/v1/stream/status",
            600,
            lambda s: s["events"] + s["late"] + s["repeated"] >= total,
            every_s=0.2,
            timeout_s=5,
        )
        log(f"recs [{kind}]: state for everyone in {time.perf_counter() - started:.0f} s")
        expected = _interactions(events)
        lists = wait_json(
            url + "/v1/recommend/status",
            600,
            lambda s: s["lists"]["interactions"] >= expected,
            every_s=0.2,
            timeout_s=5,
        )
        log(f"recs [{kind}]: lists learned from {lists['lists']['interactions']:,} interactions")
        rss = psutil.Process(server.pid).memory_info().rss
        used = None
        if redis_url is not None:
            used = int(redis.Redis.from_url(redis_url).info("memory")["used_memory"])
        strategies: Counter[str] = Counter()
        with httpx.Client(headers={"Authorization": f"Bearer {READ_KEY}"}) as http:
            for path in paths_file.read_bytes().splitlines()[:300]:
                strategies[http.get(url + path.decode()).json()["strategy"]] += 1
        log(f"recs [{kind}]: {args.rate} requests/s for {args.seconds} s")
        found, cpu_ms = _measured_load(server.pid, port, paths_file, args)
    finally:
        server.terminate()
        server.wait(timeout=120)
    return {
        **_summary(found),
        "server_cpu_ms_per_request": cpu_ms,
        "people_scored": status["scored"],
        "server_rss_mb": round(rss / 2**20, 1),
        "redis_used_mb": None if used is None else round(used / 2**20, 1),
        "strategies_of_300": dict(strategies),
        "client_ms_sample": found["client_ms"],
        "server_ms_sample": [s for s in found["server_ms"] if s is not None],
    }


def _plot(results: dict[str, dict[str, Any]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    bins = [float(b) for b in np.logspace(-1, 5, 120)]
    for name, found in results.items():
        ax.hist(found["client_ms_sample"], bins=bins, histtype="step", label=f"{name}, client")
        if "server_ms_sample" in found:
            ax.hist(
                found["server_ms_sample"],
                bins=bins,
                histtype="step",
                linestyle="--",
                label=f"{name}, server",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axvline(GOALS["server_p99_ms"], color="grey", linestyle=":")
    ax.axvline(GOALS["client_p99_ms"], color="grey", linestyle="-.")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("requests")
    ax.set_title("GET /v1/recommendations under a fixed arrival rate")
    ax.legend(fontsize=8)
    fig.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "recs-latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=250_000)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--rate", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--backends", default="memory,redis")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log("recs: training an intent model of online features")
        version = train_model(work / "models")
        log(f"recs: simulating {args.users:,} people")
        events = list(simulate(SimulationConfig(users=args.users, days=args.days, seed=11)))
        paths_file = work / "paths.txt"
        paths_file.write_bytes(b"\n".join(_paths(events, 20_000)) + b"\n")
        results: dict[str, dict[str, Any]] = {}
        log("recs: the baseline (a FastAPI endpoint that sorts a cached list)")
        results["baseline"] = _baseline(work, paths_file, args)
        for kind in args.backends.split(","):
            if kind == "redis":
                with local_redis(work / "redis") as url:
                    results[kind] = _backend(kind, work, events, paths_file, args, url)
            else:
                results[kind] = _backend(kind, work, events, paths_file, args, None)
        plot = _plot(results)
    people = len({str(e.get("user_id") or e.get("anonymous_id")) for e in events})
    figures: dict[str, Any] = {
        "people": people,
        "events": len(events),
        "rate": args.rate,
        "seconds": args.seconds,
        "model_version": version,
        "goals": GOALS,
        "plot": str(plot),
    }
    summary = [f"recs: {people:,} people, {len(events):,} events, {args.rate} requests/s"]
    for name, found in results.items():
        kept = {k: v for k, v in found.items() if not k.endswith("_sample")}
        figures[name] = kept
        summary.append(
            f"  {name:8} client p50 {kept.get('client_p50_ms')} p95 {kept.get('client_p95_ms')} "
            f"p99 {kept.get('client_p99_ms')} ms; server p99 {kept.get('server_p99_ms')} ms; "
            f"errors {kept['error_rate']:.4%}"
        )
    report("recs", summary, figures)


if __name__ == "__main__":
    main()
