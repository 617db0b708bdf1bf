"""The runner's account of freshness: percentiles and a histogram over the latest events."""

from __future__ import annotations

from intentflow.stream.runner import HISTOGRAM_EDGES_MS, StreamStats


def test_freshness_gives_percentiles_and_a_histogram_of_the_last_events() -> None:
    stats = StreamStats()
    assert stats.freshness() == {
        "p50": None,
        "p99": None,
        "max": None,
        "histogram": {"edges_ms": list(HISTOGRAM_EDGES_MS), "counts": [0] * 14},
    }
    stats.freshness_ms.extend([0.5] * 51 + [3.0] * 39 + [700.0] * 9 + [60_000.0])
    found = stats.freshness()
    assert found["p50"] == 0.5 and found["max"] == 60_000.0
    counts = dict(zip(HISTOGRAM_EDGES_MS, found["histogram"]["counts"], strict=True))
    assert counts[0] == 51 and counts[2] == 39 and counts[500] == 9 and counts[10_000] == 1
    assert sum(counts.values()) == 100
    last = stats.freshness(last=10)  # the slow tail only
    assert last["histogram"]["counts"][HISTOGRAM_EDGES_MS.index(500)] == 9
    assert last["p50"] == 700.0
