"""``intentflow bench stream``: how fast the stream processor keeps people's online state.

A simulated clickstream (``--users`` people over ``--days`` days; page views, product views,
carts, purchases, emails...) is encoded as the JSON lines the log holds. Three loops read the
same lines, in batches of ``--batch`` events, on one thread, in ``--repeat`` rounds (the host's
speed varies from second to second; the best round of each loop counts, and every round is
recorded):

- the ceiling: a bare loop that only decodes the lines as the stream's sources do
  (:func:`intentflow.stream.records.decode`: msgspec, and the event and acceptance times);
- the memory backend: parse, then :class:`~intentflow.stream.processor.Processor` with the
  memory state store and memory trending, scoring people with an intent model at most every
  2 s each (the catalog's online features, trending and scores all kept up to date);
- the Redis backend: the same with the Redis state store and Redis trending, against a real
  ``redis-server`` started on a free port.

The intent model is trained first on a simulated table of online features (two trials), and
promoted in a scratch registry. Also measured: the bytes of a person's state in Redis (``MEMORY
USAGE`` of the person keys, key and overhead included) and the memory backend's process memory
per person (RSS growth over the run).

The Redis bytes include each person's share of the keys that link anonymous ids to users.

Goals: memory at least 50,000 events/s on one core, Redis at least 15,000 events/s, at most
400 bytes per person in Redis.

Freshness (:mod:`_freshness`): ``intentflow serve`` runs in its own process with the model as
champion; ``--seconds`` of the simulated events go to it over HTTP at ``--rate`` events/s, in
batches of 50; its ``/v1/stream/status`` then gives the p50 and p99 of the time from each event's
acceptance to its person's state written. Once through the log (the embedded default), once
through Kafka (a Tansu broker: the collector's forwarder, the topic, the server's consumer-group
member). Goals: p99 at most 1 s in-process, 2 s through Kafka.

Writes ``bench-results/stream.json`` and the freshness histograms of both transports,
``bench-results/stream_freshness.png``; the last line printed is the JSON result.
Options: ``--users`` (20,000), ``--days`` (1), ``--batch`` (1,000), ``--rate`` (2,000),
``--seconds`` (15), ``--repeat`` (3).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import redis
from _common import RESULTS, log, report
from _freshness import freshness
from _intent_model import train_model

from intentflow.events import event_from_dict, lake_line
from intentflow.features.online import Catalog, online_features
from intentflow.simulate.clickstream import SimulationConfig, simulate
from intentflow.state.local import local_redis
from intentflow.state.memory import MemoryStore, MemoryTrending
from intentflow.state.redis import RedisStore, RedisTrending
from intentflow.stream.local_kafka import local_kafka
from intentflow.stream.processor import Processor
from intentflow.stream.records import decode
from intentflow.stream.runner import relax_gc
from intentflow.stream.scoring import Scorer

GOALS = {"memory_events_per_s": 50_000, "redis_events_per_s": 15_000}
GOAL_REDIS_BYTES = 400
GOALS_FRESHNESS_MS = {"freshness_p99_ms": 1_000, "kafka_freshness_p99_ms": 2_000}


def _events(users: int, days: int) -> list[dict[str, Any]]:
    return list(simulate(SimulationConfig(users=users, days=days, seed=5)))


def _lines(events: list[dict[str, Any]]) -> list[bytes]:
    """The events as the log holds them: lake lines."""
    return [lake_line(event_from_dict(e)) for e in events]


def _parse(lines: list[bytes], start: int) -> list[dict[str, Any]]:
    """The events of some lines, decoded as the stream's sources decode them."""
    return decode(b"".join(lines), "log", start)


def _run(lines: list[bytes], batch: int, processor: Processor | None) -> tuple[float, int]:
    """Events per second over the lines, and the people scored."""
    scored = 0
    started = time.perf_counter()
    for at in range(0, len(lines), batch):
        events = _parse(lines[at : at + batch], at)
        if processor is not None:
            scored += processor.process(events).scored
    return len(lines) / (time.perf_counter() - started), scored


def _redis_run(
    work: Path, lines: list[bytes], batch: int, catalog: Catalog
) -> tuple[float, int, list[float], list[int], float]:
    """Events per second and people scored on the Redis backend, and per person key the bytes
    Redis uses (with its share of the links) and the bytes of the encoded state, and that share."""
    with local_redis(work / "redis") as url:
        store = RedisStore(url, catalog, namespace="bench", ttl_s=35 * 86_400)
        rate, scored = _run(
            lines,
            batch,
            Processor(
                store,
                trending=RedisTrending(url, namespace="bench"),
                scorer=Scorer(str(work / "models")),
            ),
        )
        client = redis.Redis.from_url(url)
        people = list(client.scan_iter(match="bench:p:*", count=1000))
        keys = people[:2000]
        usage = [int(client.memory_usage(k) or 0) for k in keys]
        encoded = [int(client.strlen(k)) for k in keys]
        # the links of anonymous ids to their users, shared out over the people
        links = list(client.scan_iter(match="bench:a:*", count=1000))
        linked = [int(client.memory_usage(k) or 0) for k in links[:2000]]
        share = statistics.mean(linked) * len(links) / len(people) if linked else 0.0
        with_links = [u + share for u in usage]
        client.close()
        store.close()
    return rate, scored, with_links, encoded, share


def plot(runs: dict[str, dict[str, Any]]) -> None:
    """The freshness histograms of both transports, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.4
    for shift, (label, run) in zip((-width / 2, width / 2), runs.items(), strict=True):
        counts = run["histogram"]["counts"]
        total = sum(counts) or 1
        shares = [100 * c / total for c in counts]
        ax.bar([i + shift for i in range(len(counts))], shares, width, label=label)
    edges = next(iter(runs.values()))["histogram"]["edges_ms"]
    names = [f"{a:,}-{b:,}" for a, b in itertools.pairwise(edges)] + [f"{edges[-1]:,}+"]
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_xlabel("accepted to state written, ms")
    ax.set_ylabel("% of events")
    ax.set_title("Stream freshness in a running server (2,000 events/s)")
    ax.legend()
    fig.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    fig.savefig(RESULTS / "stream_freshness.png", dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=2000, help="events/s sent for freshness")
    parser.add_argument("--seconds", type=int, default=15, help="seconds of sending")
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of the three loops; the best of each counts"
    )
    args = parser.parse_args()
    catalog = Catalog.of(online_features())
    relax_gc()  # as a running processor does (its loops are timed here without the runner)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log("stream: training a model of online features")
        version = train_model(work / "models")
        log(f"stream: simulating {args.users:,} people x {args.days} day(s)")
        events = _events(args.users, args.days)
        lines = _lines(events)
        ceilings, memories, redises = [], [], []
        for attempt in range(1, args.repeat + 1):
            log(f"stream: {len(lines):,} events, round {attempt} of {args.repeat}: the ceiling")
            ceilings.append(_run(lines, args.batch, None)[0])
            log("stream: memory backend")
            scorer = Scorer(str(work / "models"))
            scorer.champion()  # the model's memory is not the people's
            memory = MemoryStore(catalog, ttl_s=35 * 86_400, max_people=10_000_000)
            rss_before = psutil.Process().memory_info().rss
            memories.append(
                _run(lines, args.batch, Processor(memory, trending=MemoryTrending(), scorer=scorer))
            )
            if attempt == 1:  # the process's growth for the people, measured once
                people = memory.stats().people
                grown = psutil.Process().memory_info().rss - rss_before
                rss_per_person = grown / max(people, 1)
            del memory, scorer
            log("stream: Redis backend")
            try:
                redises.append(_redis_run(work, lines, args.batch, catalog))
            except FileNotFoundError as exc:
                raise SystemExit(f"the stream benchmark needs Redis: {exc}") from None
        ceiling = max(ceilings)
        memory_rate, memory_scored = max(memories)
        redis_rate, redis_scored, usage, encoded, link_share = max(redises, key=lambda run: run[0])

        sample = events[: args.rate * args.seconds + 1]
        log(f"stream: freshness in a running server, {len(sample):,} events at {args.rate:,}/s")
        fresh = freshness(work, sample, work / "models", rate=args.rate)
        log("stream: freshness through Kafka (forwarder, topic, consumer group)")
        with local_kafka() as kafka:
            kafka_fresh = freshness(work, sample, work / "models", rate=args.rate, kafka=kafka)
    plot(
        {
            f"in-process (p99 {fresh['p99_ms']} ms)": fresh,
            f"Kafka (p99 {kafka_fresh['p99_ms']} ms)": kafka_fresh,
        }
    )
    figures = {
        "events": len(lines),
        "people": people,
        "batch": args.batch,
        "model_version": version,
        "ceiling_events_per_s": round(ceiling),
        "memory_events_per_s": round(memory_rate),
        "redis_events_per_s": round(redis_rate),
        "rounds": args.repeat,
        "ceiling_runs": [round(x) for x in ceilings],
        "memory_runs": [round(rate) for rate, _ in memories],
        "redis_runs": [round(run[0]) for run in redises],
        "memory_share_of_ceiling": round(memory_rate / ceiling, 3),
        "redis_share_of_ceiling": round(redis_rate / ceiling, 3),
        "memory_scored": memory_scored,
        "redis_scored": redis_scored,
        "memory_rss_bytes_per_user": round(rss_per_person),
        "redis_bytes_per_user": round(statistics.mean(usage)),
        "redis_encoded_bytes_per_user": round(statistics.mean(encoded)),
        "redis_link_bytes_per_user": round(link_share),
        "freshness_events": fresh["events"],
        "freshness_rate": fresh["rate"],
        "freshness_p50_ms": fresh["p50_ms"],
        "freshness_p99_ms": fresh["p99_ms"],
        "kafka_freshness_rate": kafka_fresh["rate"],
        "kafka_freshness_p50_ms": kafka_fresh["p50_ms"],
        "kafka_freshness_p99_ms": kafka_fresh["p99_ms"],
    }
    figures["goals_met"] = {
        **{key: figures[key] >= goal for key, goal in GOALS.items()},
        "redis_bytes_per_user": figures["redis_bytes_per_user"] <= GOAL_REDIS_BYTES,
        **{key: figures[key] <= goal for key, goal in GOALS_FRESHNESS_MS.items()},
    }
    summary = [
        f"{len(lines):,} simulated events of {people:,} people, batches of {args.batch:,}",
        f"ceiling (parse only): {ceiling:,.0f} events/s",
        f"memory: {memory_rate:,.0f} events/s ({memory_rate / ceiling:.0%} of the ceiling; "
        f"goal {GOALS['memory_events_per_s']:,}), {memory_scored:,} scores, "
        f"{rss_per_person:,.0f} bytes of process memory per person",
        f"Redis: {redis_rate:,.0f} events/s ({redis_rate / ceiling:.0%}; goal "
        f"{GOALS['redis_events_per_s']:,}), {redis_scored:,} scores, "
        f"{figures['redis_bytes_per_user']} bytes per person in Redis "
        f"(goal {GOAL_REDIS_BYTES}; the encoded state alone "
        f"{figures['redis_encoded_bytes_per_user']}, the links of anonymous ids "
        f"{figures['redis_link_bytes_per_user']})",
        f"freshness (accepted to state written) in a running server at {fresh['rate']:,} "
        f"events/s: p50 {fresh['p50_ms']} ms, p99 {fresh['p99_ms']} ms (goal 1,000)",
        f"through Kafka at {kafka_fresh['rate']:,} events/s: p50 {kafka_fresh['p50_ms']} ms, "
        f"p99 {kafka_fresh['p99_ms']} ms (goal 2,000)",
    ]
    report("stream", summary, figures)


if __name__ == "__main__":
    main()
