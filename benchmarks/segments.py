"""``intentflow bench segments``: segmenting a million people, and placing one person online.

- Segmenting: a simulated behavioral table of ``--people`` people x 20 features (a mixture of
  six latent groups: skewed counts with many zeros, money that is mostly zero, durations, rates
  in 0-1, about 2 % missing values in five columns; seeded), written as Parquet, then
  ``intentflow segment --table FILE --id user_id --algorithm kmeans --json`` (k chosen by
  silhouette in 2..12, the defaults) in its own process: wall time and peak RSS of its process
  tree, k and the validity scores. Goals: at most 120 s and 4 GB peak RSS.
- Baseline in the same run, what a user would otherwise write, in its own process: median
  imputation, ``log1p`` of the non-negative columns and ``StandardScaler``, then scikit-learn
  ``KMeans(k, n_init="auto")`` on every row for each k in 2..12, each scored by
  ``silhouette_score(..., sample_size=10000)``, the best silhouette chosen. Full K-Means on a
  million rows eleven times takes long, so the baseline runs on ``--baseline-people`` rows
  (the first ones of the same table) when there are more people than that, and ours runs on
  those rows as well: the speed-up is only ever given for the same rows. When the baseline at
  the baseline's rows extrapolates (linearly) to at most 4 minutes for all the people, it runs
  on all of them too.
- Online assignment, in-process: the registered model (``SegmentModel.load``) places 5,000
  people one at a time from their feature mappings (``assign_one``), p50/p99/max; beside it
  scikit-learn ``KMeans.predict`` on the same 1-row point (the model's own preprocessing, then
  a K-Means holding the model's centroids). Goal: p99 at most 0.2 ms.

Writes ``bench-results/segments.json`` and ``bench-results/segments-latency.png`` (histograms
of both latencies); the last line printed is the JSON result.

Options: ``--people`` (default 1,000,000), ``--baseline-people`` (200,000), ``--seed`` (7),
``--skip-baseline``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import RESULTS, bench_env, log, report, run_json

ID = "user_id"
K_RANGE = range(2, 13)
GOAL_SECONDS = 120.0
GOAL_RSS_MB = 4096.0
GOAL_P99_MS = 0.2
BASELINE_BUDGET_S = 240.0
"""The longest the baseline may be expected to take on all the people before it is cut down."""
LATENCY_PEOPLE = 5000

# The six latent groups: light browsers, casual visitors, window shoppers, regular buyers, big
# spenders, lapsed. One value per group for each parameter.
WEIGHTS = np.array([0.34, 0.24, 0.14, 0.12, 0.04, 0.12])
SESSIONS = np.array([1.2, 4.0, 10.0, 8.0, 14.0, 0.3])
PAGES = np.array([2.0, 4.0, 7.0, 5.0, 6.0, 2.0])
VIEW_SHARE = np.array([0.3, 0.45, 0.6, 0.5, 0.55, 0.3])
CART_RATE = np.array([0.01, 0.04, 0.08, 0.1, 0.12, 0.02])
ORDERS = np.array([0.05, 0.3, 0.4, 3.0, 8.0, 0.2])
ORDER_LOG_VALUE = np.array([3.2, 3.5, 3.6, 4.0, 5.0, 3.4])
COUPON = np.array([0.1, 0.3, 0.5, 0.2, 0.1, 0.3])
EMAIL_OPENS = np.array([0.5, 2.0, 1.0, 4.0, 6.0, 0.2])
OPEN_RATE = np.array([0.1, 0.25, 0.15, 0.4, 0.5, 0.05])
SEARCHES = np.array([0.5, 2.0, 6.0, 3.0, 4.0, 0.1])
TICKETS = np.array([0.01, 0.02, 0.03, 0.1, 0.2, 0.05])
RECENCY = np.array([20.0, 7.0, 2.0, 3.0, 1.5, 60.0])
TENURE = np.array([60.0, 200.0, 150.0, 500.0, 700.0, 400.0])
SESSION_LOG_SECONDS = np.array([3.5, 5.0, 6.0, 5.3, 5.8, 3.8])
DWELL_LOG_SECONDS = np.array([2.5, 3.5, 4.0, 3.5, 3.8, 2.7])
BOUNCE = np.array([0.7, 0.4, 0.2, 0.25, 0.15, 0.75])
SCROLL = np.array([0.3, 0.5, 0.7, 0.55, 0.6, 0.3])
MOBILE = np.array([0.8, 0.6, 0.5, 0.4, 0.3, 0.7])
WITH_GAPS = (
    "mean_session_seconds_30d",
    "mean_dwell_seconds_30d",
    "mean_scroll_depth_30d",
    "email_open_rate_30d",
    "mobile_share_30d",
)
"""The columns with about 2 % missing values."""


def simulate_people(people: int, seed: int) -> pd.DataFrame:
    """``people`` rows of 20 behavioral features from six latent groups (see the module's doc)."""
    rng = np.random.default_rng(seed)
    group = rng.choice(len(WEIGHTS), size=people, p=WEIGHTS)

    def counts(mean: np.ndarray, shape: float = 1.5) -> np.ndarray:
        """Gamma-Poisson (negative binomial) counts: skewed, overdispersed, many zeros."""
        return rng.poisson(mean * rng.gamma(shape, 1 / shape, size=people)).astype(np.float64)

    def rate(mean: np.ndarray, concentration: float = 8.0) -> np.ndarray:
        return rng.beta(mean * concentration, (1 - mean) * concentration)

    sessions = counts(SESSIONS[group])
    events = rng.poisson(sessions * PAGES[group]).astype(np.float64)
    views = rng.binomial(events.astype(np.int64), VIEW_SHARE[group]).astype(np.float64)
    carts = rng.poisson(views * CART_RATE[group]).astype(np.float64)
    orders = counts(ORDERS[group], shape=0.8)
    revenue = np.where(
        orders > 0, orders * rng.lognormal(ORDER_LOG_VALUE[group], 0.8, size=people), 0.0
    )
    coupon = (orders > 0) & (rng.random(people) < COUPON[group])
    savings = np.where(coupon, revenue * rng.beta(2, 12, size=people), 0.0)
    frame = pd.DataFrame(
        {
            ID: np.arange(1, people + 1, dtype=np.int64),
            "sessions_30d": sessions,
            "events_30d": events,
            "product_views_30d": views,
            "add_to_carts_30d": carts,
            "orders_90d": orders,
            "email_opens_30d": counts(EMAIL_OPENS[group]),
            "distinct_categories_30d": np.minimum(rng.poisson(np.sqrt(views) * 1.2), views).astype(
                np.float64
            ),
            "searches_30d": counts(SEARCHES[group]),
            "support_tickets_90d": rng.poisson(TICKETS[group]).astype(np.float64),
            "revenue_90d": np.round(revenue, 2),
            "coupon_savings_90d": np.round(savings, 2),
            "mean_session_seconds_30d": np.where(
                sessions > 0, rng.lognormal(SESSION_LOG_SECONDS[group], 0.7), 0.0
            ),
            "mean_dwell_seconds_30d": np.where(
                views > 0, rng.lognormal(DWELL_LOG_SECONDS[group], 0.6), 0.0
            ),
            "days_since_last_visit": np.minimum(
                rng.gamma(1.2, RECENCY[group] / 1.2), 365.0
            ).round(),
            "days_since_first_seen": rng.gamma(2.0, TENURE[group] / 2.0).round(),
            "bounce_rate_30d": rate(BOUNCE[group]),
            "view_to_cart_30d": np.divide(
                np.minimum(carts, views), views, out=np.zeros(people), where=views > 0
            ),
            "mean_scroll_depth_30d": rate(SCROLL[group]),
            "email_open_rate_30d": rate(OPEN_RATE[group], 6.0),
            "mobile_share_30d": rate(MOBILE[group], 4.0),
        }
    )
    for column in WITH_GAPS:
        frame.loc[rng.random(people) < 0.02, column] = np.nan
    return frame


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "intentflow.cli", *args]


def _ours(path: Path, data_dir: Path) -> dict[str, Any]:
    """``intentflow segment`` on a table in its own process: its summary, wall s, peak RSS."""
    shutil.rmtree(data_dir, ignore_errors=True)
    cmd = _cli("segment", "--table", str(path), "--id", ID, "--algorithm", "kmeans", "--json")
    result, wall, peak = run_json(cmd, bench_env(data_dir))
    version = data_dir / "models" / "segments" / result["model_version"]
    meta = json.loads((version / "meta.json").read_text())
    return {
        "people": result["people"],
        "seconds": round(wall, 2),
        "command_seconds": result["seconds"],
        "peak_rss_mb": round(peak / 2**20),
        "k": result["k"],
        "silhouette": result["silhouette"],
        "davies_bouldin": result["davies_bouldin"],
        "calinski_harabasz": result["calinski_harabasz"],
        "model_version": result["model_version"],
        "segments": result["segments"],
        "silhouette_by_k": {
            str(s["k"]): None if s["silhouette"] is None else round(s["silhouette"], 4)
            for s in meta["scores"]
        },
    }


def _baseline(path: Path, seed: int, data_dir: Path) -> dict[str, Any]:
    """The scikit-learn baseline (:func:`baseline_child`) in its own process."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--baseline-child", str(path)]
    result, wall, peak = run_json([*cmd, "--seed", str(seed)], bench_env(data_dir))
    return {
        "people": result["people"],
        "seconds": round(wall, 2),
        "fit_seconds": result["seconds"],
        "growing_seconds": result["growing_seconds"],
        "peak_rss_mb": round(peak / 2**20),
        "k": result["k"],
        "silhouette": result["silhouette"],
        "scores": result["scores"],
    }


def baseline_child(path: Path, seed: int) -> None:
    """What a user would otherwise write: impute, log1p, scale, K-Means for every k on all the
    rows, a sampled silhouette each; prints a JSON line."""
    from sklearn.cluster import KMeans
    from sklearn.impute import SimpleImputer
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    started = time.perf_counter()
    frame = pd.read_parquet(path).drop(columns=[ID])
    matrix = SimpleImputer(strategy="median").fit_transform(frame.to_numpy(np.float64))
    nonnegative = matrix.min(axis=0) >= 0
    matrix[:, nonnegative] = np.log1p(matrix[:, nonnegative])
    matrix = StandardScaler().fit_transform(matrix)
    scaling = time.perf_counter() - started  # grows with the rows, like the fits
    scores, fitting = {}, 0.0
    for k in K_RANGE:
        clock = time.perf_counter()
        labels = KMeans(k, n_init="auto", random_state=seed).fit(matrix).labels_
        fitting += time.perf_counter() - clock
        scores[k] = float(silhouette_score(matrix, labels, sample_size=10000, random_state=seed))
        print(f"k={k}: silhouette {scores[k]:.4f}", file=sys.stderr, flush=True)
    best = max(scores, key=lambda k: (scores[k], -k))
    out = {
        "people": len(frame),
        "k": best,
        "silhouette": round(scores[best], 4),
        "scores": {str(k): round(v, 4) for k, v in scores.items()},
        "seconds": round(time.perf_counter() - started, 2),
        "growing_seconds": round(scaling + fitting, 2),
    }
    print(json.dumps(out))


def _records(sample: pd.DataFrame) -> list[dict[str, Any]]:
    """Each person's feature mapping, as an online caller sends it (missing values as None)."""
    rows = sample.drop(columns=[ID]).to_dict("records")
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in rows
    ]


def _latency(models_dir: Path, sample: pd.DataFrame) -> dict[str, Any]:
    """Milliseconds of ``assign_one`` and of scikit-learn's 1-row ``predict``, per person."""
    from sklearn.cluster import KMeans

    from intentflow.models.segments.model import SegmentModel

    model = SegmentModel.load(models_dir)
    centroids = model.centroids
    # A K-Means holding exactly the model's centroids: fitted on them, started from them.
    kmeans = KMeans(len(centroids), init=centroids, n_init=1, max_iter=1).fit(centroids)
    assert np.allclose(kmeans.cluster_centers_, centroids)
    records = _records(sample)
    for record in records[:50]:  # warm up
        model.assign_one(record)
        kmeans.predict(model.preprocessor.transform_one(record).reshape(1, -1))
    ours, theirs, placed, predicted = [], [], [], []
    for record in records:  # each loop alone: scikit-learn's thread pools do not disturb ours
        started = time.perf_counter_ns()
        placed.append(model.assign_one(record).segment)
        ours.append(time.perf_counter_ns() - started)
    for record in records:
        started = time.perf_counter_ns()
        point = model.preprocessor.transform_one(record)
        label = kmeans.predict(point.reshape(1, -1))[0]
        theirs.append(time.perf_counter_ns() - started)
        predicted.append(int(model.ids[label]))
    agree = sum(a == b for a, b in zip(placed, predicted, strict=True))
    batch = model.assign(sample.drop(columns=[ID]))
    singles = np.array([model.assign_one(r).segment for r in records])
    ms, base_ms = np.array(ours) / 1e6, np.array(theirs) / 1e6
    _plot(ms, base_ms)
    return {
        "assign_people": len(records),
        "assign_p50_ms": round(float(np.percentile(ms, 50)), 4),
        "assign_p99_ms": round(float(np.percentile(ms, 99)), 4),
        "assign_max_ms": round(float(ms.max()), 4),
        "baseline_predict_p50_ms": round(float(np.percentile(base_ms, 50)), 4),
        "baseline_predict_p99_ms": round(float(np.percentile(base_ms, 99)), 4),
        "baseline_predict_max_ms": round(float(base_ms.max()), 4),
        "assign_agrees_with_predict": round(agree / len(records), 4),
        "assign_one_agrees_with_batch": round(float((batch == singles).mean()), 4),
    }


def _plot(ms: np.ndarray, base_ms: np.ndarray) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import FormatStrFormatter

    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    low = float(min(np.percentile(ms, 0.1), np.percentile(base_ms, 0.1)))
    high = float(max(np.percentile(ms, 99.9), np.percentile(base_ms, 99.9)))
    bins = np.geomspace(max(low, 1e-4), high, 70).tolist()
    axes.hist(np.clip(ms, bins[0], bins[-1]), bins=bins, alpha=0.7, label="assign_one")
    axes.hist(
        np.clip(base_ms, bins[0], bins[-1]),
        bins=bins,
        alpha=0.7,
        label="transform_one + sklearn KMeans.predict",
    )
    for q, style in ((50, "--"), (99, ":")):
        at = float(np.percentile(ms, q))
        axes.axvline(at, color="black", linestyle=style, label=f"assign_one p{q}")
    axes.axvline(GOAL_P99_MS, color="red", linestyle="-", label="p99 goal")
    axes.set_xscale("log")
    ticks = [t for t in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50) if low <= t]
    axes.set_xticks([t for t in ticks if t <= high] or ticks[:1], minor=False)
    axes.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    axes.set_xlabel("latency per person (ms, log scale)")
    axes.set_ylabel("people")
    axes.set_title("placing one person in a segment, in-process")
    axes.legend(fontsize="small")
    figure.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    figure.savefig(RESULTS / "segments-latency.png", dpi=110)


def _compare(
    args: argparse.Namespace, work: Path, path: Path, ours: dict[str, Any]
) -> dict[str, Any]:
    """The baseline, and ours on the same rows; the figures for the JSON."""
    rows = min(args.people, args.baseline_people)
    same_path = path
    if rows < args.people:
        same_path = work / f"people-{rows}.parquet"
        pd.read_parquet(path).iloc[:rows].to_parquet(same_path, index=False)
    log(f"segments: baseline (scikit-learn KMeans x {len(K_RANGE)} k) on {rows:,} people")
    base = _baseline(same_path, args.seed, work / "baseline")
    log(f"segments: baseline {base['seconds']:.1f} s, k={base['k']}, peak {base['peak_rss_mb']} MB")
    out: dict[str, Any] = {}
    same = ours
    if rows < args.people:
        # The fits and the scaling grow with the rows; start-up and the sampled silhouettes
        # do not.
        estimate = base["seconds"] + base["growing_seconds"] * (args.people / rows - 1)
        out["baseline_estimated_seconds_all_people"] = round(estimate, 1)
        if estimate <= BASELINE_BUDGET_S:
            log(f"segments: baseline estimated at {estimate:.0f} s for everyone: running it")
            out["baseline_probe"] = {k: base[k] for k in ("people", "seconds", "peak_rss_mb")}
            base = _baseline(path, args.seed, work / "baseline")
            out["baseline_note"] = f"ran on all {args.people:,} people"
        else:
            out["baseline_note"] = (
                f"ran on the first {rows:,} people: on all {args.people:,} it would take about "
                f"{estimate:.0f} s (estimate: fits and scaling linear in the rows), over the "
                f"{BASELINE_BUDGET_S:.0f} s budget"
            )
            log(f"segments: ours on the baseline's {rows:,} people")
            same = _ours(same_path, work / "same-rows")
            out["same_rows"] = {k: v for k, v in same.items() if k != "segments"}
    else:
        out["baseline_note"] = f"ran on all {args.people:,} people"
    out |= {
        "baseline_people": base["people"],
        "baseline_seconds": base["seconds"],
        "baseline_fit_seconds": base["fit_seconds"],
        "baseline_peak_rss_mb": base["peak_rss_mb"],
        "baseline_k": base["k"],
        "baseline_silhouette": base["silhouette"],
        "baseline_silhouette_by_k": base["scores"],
        "speedup_people": same["people"],
        "speedup": round(base["seconds"] / same["seconds"], 2),
        "same_rows_seconds": same["seconds"],
        "same_rows_peak_rss_mb": same["peak_rss_mb"],
        "same_rows_k": same["k"],
        "same_rows_silhouette": same["silhouette"],
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--baseline-people", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--baseline-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_child is not None:
        baseline_child(args.baseline_child, args.seed)
        return
    with tempfile.TemporaryDirectory(prefix="intentflow-bench-segments-") as tmp:
        work = Path(tmp)
        log(f"segments: simulating {args.people:,} people x 20 features")
        frame = simulate_people(args.people, args.seed)
        features = frame.shape[1] - 1
        path = work / "people.parquet"
        frame.to_parquet(path, index=False)
        sample = frame.sample(min(LATENCY_PEOPLE, len(frame)), random_state=3)
        del frame
        log(f"segments: intentflow segment on {args.people:,} people (k 2..12)")
        ours = _ours(path, work / "ours")
        log(
            f"segments: {ours['seconds']:.1f} s, peak RSS {ours['peak_rss_mb']:,} MB, "
            f"k={ours['k']}, silhouette {ours['silhouette']}"
        )
        log(f"segments: placing {len(sample):,} people one at a time")
        latency = _latency(work / "ours" / "models", sample)
        compared = {} if args.skip_baseline else _compare(args, work, path, ours)
        shutil.rmtree(tmp, ignore_errors=True)
    goals = {
        "seconds_goal_met": ours["seconds"] <= GOAL_SECONDS,
        "peak_rss_goal_met": ours["peak_rss_mb"] <= GOAL_RSS_MB,
        "assign_p99_goal_met": latency["assign_p99_ms"] <= GOAL_P99_MS,
    }
    figures = {
        "people": args.people,
        "features": features,
        "seed": args.seed,
        **{k: v for k, v in ours.items() if k != "people"},
        **latency,
        **compared,
        "goal_seconds": GOAL_SECONDS,
        "goal_peak_rss_mb": GOAL_RSS_MB,
        "goal_assign_p99_ms": GOAL_P99_MS,
        **goals,
        "goals_met": all(goals.values()),
    }
    report("segments", _summary(args, ours, latency, compared, goals), figures)


def _curve(scores: dict[str, float | None]) -> str:
    return ", ".join(f"{k}: {v if v is not None else '-'}" for k, v in scores.items())


def _mark(met: bool) -> str:
    return "met" if met else "MISSED"


def _summary(
    args: argparse.Namespace,
    ours: dict[str, Any],
    latency: dict[str, Any],
    compared: dict[str, Any],
    goals: dict[str, bool],
) -> list[str]:
    sizes = ", ".join(f"{s['name']} {s['size']:,}" for s in ours["segments"])
    lines = [
        f"segmenting {args.people:,} people x 20 features (kmeans, k 2..12): "
        f"{ours['seconds']:.1f} s (goal <= {GOAL_SECONDS:.0f} s: "
        f"{_mark(goals['seconds_goal_met'])}), peak RSS {ours['peak_rss_mb']:,} MB (goal <= "
        f"{GOAL_RSS_MB:,.0f} MB: {_mark(goals['peak_rss_goal_met'])})",
        f"  k={ours['k']}, silhouette {ours['silhouette']}, Davies-Bouldin "
        f"{ours['davies_bouldin']}, Calinski-Harabasz {ours['calinski_harabasz']:,.0f}",
        f"  segments: {sizes}",
        f"  silhouette by k (on a sample): {_curve(ours['silhouette_by_k'])}",
        f"assign_one: p50 {latency['assign_p50_ms']} ms, p99 {latency['assign_p99_ms']} ms, max "
        f"{latency['assign_max_ms']} ms (goal p99 <= {GOAL_P99_MS} ms: "
        f"{_mark(goals['assign_p99_goal_met'])}); transform_one + sklearn KMeans.predict: p50 "
        f"{latency['baseline_predict_p50_ms']} ms, p99 {latency['baseline_predict_p99_ms']} ms",
    ]
    if compared:
        lines += [
            f"baseline (scikit-learn KMeans on every row for each k, sampled silhouette) on "
            f"{compared['baseline_people']:,} people: {compared['baseline_seconds']:.1f} s, peak "
            f"RSS {compared['baseline_peak_rss_mb']:,} MB, k={compared['baseline_k']}, "
            f"silhouette {compared['baseline_silhouette']} ({compared['baseline_note']})",
            f"  baseline silhouette by k: {_curve(compared['baseline_silhouette_by_k'])}",
            f"  same {compared['speedup_people']:,} people: intentflow segment "
            f"{compared['same_rows_seconds']:.1f} s, peak RSS "
            f"{compared['same_rows_peak_rss_mb']:,} MB, k={compared['same_rows_k']}, silhouette "
            f"{compared['same_rows_silhouette']}: {compared['speedup']}x the baseline's speed",
        ]
    return lines


if __name__ == "__main__":
    main()
