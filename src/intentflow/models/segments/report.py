"""An HTML report of one registered segments version.

It reads the version's folder (``meta.json``, the map sample in ``sample.npz``, the profiles)
and writes ``index.html`` beside one PNG per plot: the choice of k (silhouette,
Davies-Bouldin, Calinski-Harabasz over the range), segment sizes, a 2-D map by PCA and by
t-SNE (on a sample) coloured by segment, the profile heatmap (each feature's lift per segment)
and, for a refresh, the migrations between the previous segments and these. The profiles
are copied beside it as CSV and Markdown.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any, Final

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from sklearn.manifold import TSNE

from intentflow.models.reporting import save, write_page
from intentflow.models.segments.build import SAMPLE
from intentflow.models.segments.profile import Profile
from intentflow.models.segments.refresh import migration_matrix

TSNE_SAMPLE: Final = 2000
LIFT_LIMIT: Final = 4.0
"""The heatmap's colours saturate at this lift (and its inverse)."""

TEMPLATE: Final = """{{ table("header", [], header) }}
<h2>Segments</h2>
{{ table("segments", ["id", "name", "people", "share", "stands out by", "top categories"],
   segments) }}
<p>Profiles: <a href="profiles.csv">profiles.csv</a>, <a href="profiles.md">profiles.md</a>.</p>
{% if scores %}<h2>Choosing k</h2>
{{ table("scores", ["k", "silhouette", "Davies-Bouldin", "Calinski-Harabasz"], scores, mark) }}
{% endif %}
{% if refresh %}<h2>Refresh against {{ previous }}</h2>
{{ table("refresh", [], refresh) }}
{% if moves %}{{ table("migrations", ["from", "to", "people"], moves) }}{% endif %}
{% endif %}
<h2>Plots</h2>
{% for file, title in plots %}<h3>{{ title }}</h3><img src="{{ file }}" alt="{{ title }}">
{% endfor %}
<h2>Lift of each feature per segment</h2>
{{ table("lift", ["feature"] + names, lifts) }}
<h2>Preparation</h2>
{{ table("preparation", [], preparation) }}
</body></html>
"""


def _colors(ids: list[int]) -> dict[int, Any]:
    real = [s for s in ids if s >= 0]
    palette = mpl.colormaps["tab10" if len(real) <= 10 else "tab20"]
    colors = {seg: palette(i % palette.N) for i, seg in enumerate(real)}
    colors[-1] = (0.75, 0.75, 0.75, 1.0)
    return colors


def _scatter(
    coords: np.ndarray,
    segments: np.ndarray,
    names: dict[int, str],
    title: str,
    out: Path,
    name: str,
) -> str:
    fig = Figure(figsize=(8, 6), layout="constrained")
    ax = fig.subplots()
    colors = _colors(sorted(names))
    for seg in sorted(np.unique(segments).tolist()):
        part = coords[segments == seg]
        label = f"{seg}: {names.get(seg, seg)}"
        ax.scatter(part[:, 0], part[:, 1], s=5, alpha=0.6, color=colors.get(seg), label=label)
    ax.set(title=title, xticks=[], yticks=[])
    ax.legend(loc="center left", bbox_to_anchor=(1, 0.5), markerscale=3, fontsize="small")
    return save(fig, out, name)


def _two_wide(points: np.ndarray) -> np.ndarray:
    """Points of one dimension get a second, zero, so that both maps can draw them."""
    if points.shape[1] >= 2:
        return points
    return np.column_stack([points, np.zeros((len(points), 2 - points.shape[1]))])


def _pca(points: np.ndarray) -> np.ndarray:
    centered = _two_wide(points - points.mean(axis=0))
    _, _, axes = np.linalg.svd(centered, full_matrices=False)
    return np.asarray(centered @ axes[:2].T)


def _tsne(points: np.ndarray, seed: int = 0) -> np.ndarray:
    perplexity = float(min(30, max(2, (len(points) - 1) // 3)))
    return np.asarray(
        TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
            _two_wide(points)
        )
    )


def _k_plot(scores: list[dict[str, Any]], chosen: int, by: str, out: Path) -> str:
    fig = Figure(figsize=(11, 3.5), layout="constrained")
    axes = fig.subplots(1, 3)
    ks = [s["k"] for s in scores]
    for ax, key, title in zip(
        axes,
        ("silhouette", "davies_bouldin", "calinski_harabasz"),
        ("silhouette (higher is better)", "Davies-Bouldin (lower)", "Calinski-Harabasz (higher)"),
        strict=True,
    ):
        values = [np.nan if s[key] is None else s[key] for s in scores]
        ax.plot(ks, values, marker="o")
        ax.axvline(chosen, color="tab:red", linestyle="--", linewidth=1, label=f"k = {chosen}")
        ax.set(xlabel="k", title=title)
        ax.set_xticks(ks)
    axes[0].legend(loc="best", title=f"chosen by {by}")
    return save(fig, out, "k_selection.png")


def _sizes(found: list[Profile], out: Path) -> str:
    fig = Figure(figsize=(7, 1 + 0.4 * len(found)), layout="constrained")
    ax = fig.subplots()
    colors = _colors([p.id for p in found])
    labels = [f"{p.id}: {p.name}" for p in found][::-1]
    ax.barh(labels, [p.size for p in found][::-1], color=[colors[p.id] for p in found][::-1])
    ax.set(xlabel="people", title="Segment sizes")
    return save(fig, out, "sizes.png")


def _lift_value(value: float | None) -> float:
    """A lift on the heatmap's log2 scale, clipped to its ends (NaN: no lift to show)."""
    if value is None or not math.isfinite(value) or value < 0:
        return math.nan
    limit = math.log2(LIFT_LIMIT)
    return -limit if value == 0 else max(-limit, min(limit, math.log2(value)))


def _heatmap(found: list[Profile], out: Path) -> str:
    features = list(found[0].lift)
    grid = np.array([[_lift_value(p.lift[f]) for p in found] for f in features])
    fig = Figure(figsize=(2 + 1.1 * len(found), 1.5 + 0.35 * len(features)), layout="constrained")
    ax = fig.subplots()
    limit = math.log2(LIFT_LIMIT)
    cmap = mpl.colormaps["RdBu_r"].with_extremes(bad="lightgrey")
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-limit, vmax=limit, aspect="auto")
    ax.set_yticks(range(len(features)), features)
    ax.set_xticks(range(len(found)), [f"{p.id}: {p.name}" for p in found], rotation=30, ha="right")
    for row, col in np.ndindex(grid.shape):
        lift = found[col].lift[features[row]]
        if lift is not None and math.isfinite(lift):
            ax.text(col, row, f"{lift:.1f}", ha="center", va="center", fontsize=7)
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("lift of the mean over everyone's (log2 scale)")
    ax.set_title("Segment profiles")
    return save(fig, out, "profile_heatmap.png")


def _migrations(moves: list[dict[str, Any]], out: Path) -> str:
    matrix = migration_matrix(moves)
    fig = Figure(
        figsize=(2 + 0.8 * matrix.shape[1], 1.5 + 0.5 * matrix.shape[0]), layout="constrained"
    )
    ax = fig.subplots()
    ax.imshow(np.log1p(matrix.to_numpy(dtype=float)), cmap="Blues", aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns])
    ax.set_yticks(range(matrix.shape[0]), [str(i) for i in matrix.index])
    for (row, col), value in np.ndenumerate(matrix.to_numpy()):
        ax.text(col, row, f"{int(value):,}", ha="center", va="center", fontsize=8)
    ax.set(xlabel="segment now", ylabel="segment before", title="Migrations (people)")
    return save(fig, out, "migrations.png")


def _cell(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2f}"


def write_report(folder: Path, out: Path) -> Path:
    """Write the report of the segments version in ``folder`` into ``out``; return its
    index.html."""
    meta = json.loads((folder / "meta.json").read_text())
    found = [Profile.from_dict(p) for p in meta["profiles"]]
    names = {p.id: p.name for p in found}
    out.mkdir(parents=True, exist_ok=True)
    for name in ("profiles.csv", "profiles.md"):
        shutil.copyfile(folder / name, out / name)
    with np.load(folder / SAMPLE, allow_pickle=False) as sample:
        points, segments = sample["points"], sample["segments"].astype(np.int64)
    plots = []
    if len(meta.get("scores", [])) > 1:
        plots.append(
            (
                _k_plot(meta["scores"], meta["k"], meta.get("chosen_by", "silhouette"), out),
                "Choosing k",
            )
        )
    plots.append((_sizes(found, out), "Segment sizes"))
    if len(points) >= 3:
        plots.append(
            (_scatter(_pca(points), segments, names, "PCA map", out, "map_pca.png"), "PCA map")
        )
    if len(points) >= 10:
        rows = np.random.default_rng(0).permutation(len(points))[:TSNE_SAMPLE]
        coords = _tsne(points[rows])
        title = f"t-SNE map ({len(rows):,} people)"
        plots.append((_scatter(coords, segments[rows], names, title, out, "map_tsne.png"), title))
    plots.append((_heatmap(found, out), "Profile heatmap"))
    moves = meta.get("migrations")
    if moves:
        plots.append((_migrations(moves, out), "Migrations"))
    scores = [
        [s["k"], s["silhouette"], s["davies_bouldin"], s["calinski_harabasz"]]
        for s in meta.get("scores", [])
    ]
    ks = [row[0] for row in scores]
    refresh = []
    if meta.get("previous"):
        refresh = [
            ("matched (id kept)", ", ".join(meta.get("matched", {})) or "none"),
            ("new segments", ", ".join(map(str, meta.get("new_segments", []))) or "none"),
            ("vanished segments", ", ".join(map(str, meta.get("vanished_segments", []))) or "none"),
        ]
    prep = meta.get("preprocessing", {})
    return write_page(
        TEMPLATE,
        out,
        title=f"Segments {meta.get('version')}",
        header=[
            ("version", meta.get("version")),
            ("created", meta.get("created_at")),
            ("algorithm", meta.get("algorithm")),
            ("people", f"{meta.get('people'):,}"),
            ("source", meta.get("source")),
            ("features as of", meta.get("as_of")),
            ("feature version", meta.get("feature_version")),
            ("k", meta.get("k")),
            ("silhouette (sampled)", meta.get("silhouette")),
            ("Davies-Bouldin", meta.get("davies_bouldin")),
            ("Calinski-Harabasz", meta.get("calinski_harabasz")),
        ],
        segments=[
            [
                p.id,
                p.name,
                f"{p.size:,}",
                f"{p.share:.1%}",
                ", ".join(f"{c} x{v:.2f}" for c, v in p.standouts(3)),
                "; ".join(f"{v} ({s:.0%})" for vals in p.top.values() for v, s, _ in vals),
            ]
            for p in found
        ],
        scores=scores,
        mark=ks.index(meta["k"]) if meta.get("k") in ks else None,
        previous=meta.get("previous"),
        refresh=refresh,
        moves=[[m["from"], m["to"], m["people"]] for m in (moves or [])[:30]],
        plots=plots,
        names=[f"{p.id}: {p.name}" for p in found],
        lifts=[[f, *(_cell(p.lift[f]) for p in found)] for f in (found[0].lift if found else [])],
        preparation=[
            ("scaling", prep.get("scaling")),
            ("features", ", ".join(prep.get("columns", []))),
            ("log-transformed", ", ".join(prep.get("log", [])) or "none"),
            (
                "left out",
                ", ".join(f"{c} ({why})" for c, why in prep.get("dropped", {}).items()) or "none",
            ),
            (
                "PCA variance kept",
                _cell(sum(prep["pca_explained"])) if prep.get("pca_explained") else "no PCA",
            ),
        ],
    )
