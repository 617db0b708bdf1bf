"""``intentflow bench segments_quality``: behavioral segments of real people, and what they are.

- Taobao (events through the whole pipeline): the file imported into a lake (``intentflow
  ingest --preset taobao``), then ``intentflow segment`` on the lake's people (the catalog's
  twenty behavioral features just after the last event, less those constant here, such as
  revenue without prices; kmeans, k chosen by silhouette in 2..12). The extract covers two
  hours and most people have one or two events, so expect a few coarse segments (buyers, cart
  users, one-view visitors).
- MovieLens small (ratings as activity): per-user features built with pandas from
  ``ratings.csv`` and ``movies.csv`` (ratings, active days, days from first to last rating,
  days since the last rating before the dataset's last one, ratings per active day, mean and
  spread of the ratings, shares of high (>= 4) and low (<= 2) ratings, genres rated, share of
  the top genre, and the top genre as text), written as Parquet, then ``intentflow segment
  --table FILE --id user_id``.

For each: people, k, silhouette, Davies-Bouldin, Calinski-Harabasz, the segments (id, name,
size) and the wall seconds of the segment command, and the registered version's
``profiles.md``, printed and copied to ``bench-results/segments-<dataset>-profiles.md``.

Every step runs as the command a user would type, in its own process. Reads the datasets from
``INTENTFLOW_DATASETS`` (default ``../shared/datasets``). Writes
``bench-results/segments_quality.json``; the last line printed is the JSON result.

Options: ``--skip-taobao``, ``--skip-movielens``, ``--algorithm`` (default kmeans).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import RESULTS, bench_env, log, report, run_json

DATASETS = Path(os.environ.get("INTENTFLOW_DATASETS", "../shared/datasets"))
DAY = 86_400
NO_GENRE = "(no genres listed)"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "intentflow.cli", *args]


def _segment(name: str, data_dir: Path, algorithm: str, *table: str) -> dict[str, Any]:
    """``intentflow segment`` (on ``--table ...`` when given, else the lake's people): the
    figures, with the registered version's profiles printed and copied to bench-results."""
    cmd = _cli("segment", *table, "--algorithm", algorithm, "--json")
    result, wall, peak = run_json(cmd, bench_env(data_dir))
    version = data_dir / "models" / "segments" / result["model_version"]
    profiles = (version / "profiles.md").read_text()
    meta = json.loads((version / "meta.json").read_text())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"segments-{name}-profiles.md").write_text(profiles)
    print(f"\n## {name}: {result['people']:,} people, k={result['k']}\n")
    print(profiles)
    return {
        "people": result["people"],
        "k": result["k"],
        "silhouette": result["silhouette"],
        "davies_bouldin": result["davies_bouldin"],
        "calinski_harabasz": result["calinski_harabasz"],
        "segments": result["segments"],
        "features_used": len(meta["preprocessing"]["columns"]),
        "features_dropped": meta["preprocessing"]["dropped"],
        "features_logged": meta["preprocessing"]["log"],
        "seconds": round(wall, 1),
        "command_seconds": result["seconds"],
        "peak_rss_mb": round(peak / 2**20),
        "model_version": result["model_version"],
    }


def taobao(data_dir: Path, algorithm: str) -> dict[str, Any]:
    source = DATASETS / "taobao_userbehavior" / "UserBehavior.csv"
    env = bench_env(data_dir)
    log("segments_quality: Taobao: import")
    cmd = _cli("ingest", str(source), "--preset", "taobao", "--json")
    imported, ingest_s, _ = run_json(cmd, env)
    log(f"segments_quality: Taobao: imported in {ingest_s:.1f} s; segmenting the lake's people")
    out = _segment("taobao", data_dir, algorithm)
    return {"events": imported["accepted"], **out}


def movielens_features(folder: Path) -> pd.DataFrame:
    """One row per MovieLens user: rating activity and taste (see the module's doc)."""
    ratings = pd.read_csv(folder / "ratings.csv")
    movies = pd.read_csv(folder / "movies.csv")
    ratings["day"] = ratings["timestamp"] // DAY
    last = ratings["timestamp"].max()
    users = ratings.groupby("userId")
    features = pd.DataFrame(
        {
            "rating_count": users.size(),
            "active_days": users["day"].nunique(),
            "rating_span_days": (users["timestamp"].max() - users["timestamp"].min()) / DAY,
            "days_since_last_rating": (last - users["timestamp"].max()) / DAY,
            "mean_rating": users["rating"].mean(),
            "rating_std": users["rating"].std(ddof=0),
            "high_rating_share": users["rating"].agg(lambda r: float((r >= 4).mean())),
            "low_rating_share": users["rating"].agg(lambda r: float((r <= 2).mean())),
        }
    )
    features["ratings_per_active_day"] = features["rating_count"] / features["active_days"]
    genres = movies.assign(genre=movies["genres"].str.split("|")).explode("genre")
    genres = genres.loc[genres["genre"] != NO_GENRE, ["movieId", "genre"]]
    rated = ratings[["userId", "movieId"]].merge(genres, on="movieId")
    counts = rated.groupby(["userId", "genre"]).size().rename("n").reset_index()
    # The top genre: the most rated, the first alphabetically on a tie.
    top = counts.sort_values(["userId", "n", "genre"], ascending=[True, False, True])
    top = top.drop_duplicates("userId").set_index("userId")
    features["distinct_genres"] = counts.groupby("userId").size()
    features["top_genre_share"] = top["n"] / features["rating_count"]
    features["top_genre"] = top["genre"]
    features["distinct_genres"] = features["distinct_genres"].fillna(0)
    return features.rename_axis("user_id").reset_index()


def movielens(data_dir: Path, algorithm: str) -> dict[str, Any]:
    folder = DATASETS / "movielens_small"
    log("segments_quality: MovieLens: per-user features from the ratings")
    features = movielens_features(folder)
    data_dir.mkdir(parents=True, exist_ok=True)
    table = data_dir / "movielens-users.parquet"
    features.to_parquet(table, index=False)
    numeric = features.drop(columns=["user_id", "top_genre"])
    log(
        f"segments_quality: MovieLens: {len(features):,} users x {numeric.shape[1]} features "
        f"(+ top_genre); segmenting"
    )
    out = _segment("movielens", data_dir, algorithm, "--table", str(table), "--id", "user_id")
    medians = {c: round(float(v), 3) for c, v in numeric.median().items() if np.isfinite(v)}
    return {"features": list(numeric.columns), "feature_medians": medians, **out}


def _line(name: str, r: dict[str, Any]) -> str:
    names = ", ".join(f"{s['name']} ({s['size']:,})" for s in r["segments"])
    dropped = ", ".join(f"{c} ({why})" for c, why in r["features_dropped"].items())
    return (
        f"{name}: {r['people']:,} people, {r['features_used']} features"
        + (f" (left out: {dropped})" if dropped else "")
        + f", k={r['k']}, silhouette {r['silhouette']}, Davies-Bouldin {r['davies_bouldin']}, "
        f"Calinski-Harabasz {r['calinski_harabasz']:,.0f}, {r['seconds']} s; segments: {names}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--algorithm", default="kmeans")
    parser.add_argument("--skip-taobao", action="store_true")
    parser.add_argument("--skip-movielens", action="store_true")
    args = parser.parse_args()
    figures: dict[str, Any] = {"algorithm": args.algorithm}
    summary = [""]
    with tempfile.TemporaryDirectory(prefix="intentflow-bench-") as tmp:
        if not args.skip_taobao:
            figures["taobao"] = taobao(Path(tmp) / "taobao", args.algorithm)
            summary.append(_line("Taobao (lake)", figures["taobao"]))
        if not args.skip_movielens:
            figures["movielens"] = movielens(Path(tmp) / "movielens", args.algorithm)
            summary.append(_line("MovieLens small", figures["movielens"]))
        shutil.rmtree(tmp, ignore_errors=True)
    report("segments_quality", summary, figures)


if __name__ == "__main__":
    main()
