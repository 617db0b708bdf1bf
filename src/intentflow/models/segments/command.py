"""``intentflow segment`` and ``intentflow report segments``."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from intentflow.config import Settings
from intentflow.models.command import fail, report_app, write_model_report

console = Console(stderr=True)


def _previous(registry: Any, wanted: str | None, fresh: bool, people: Any) -> Any:
    """The model a refresh matches against: ``--previous`` (a version or ``champion``), or by
    default the champion when it reads the same features."""
    from intentflow.models.segments.model import KIND, SegmentModel

    if fresh:
        return None
    if wanted is not None:
        version = None if wanted == "champion" else wanted
        return SegmentModel.load(registry.root, version)
    champion = registry.champion(KIND)
    if champion is None:
        return None
    model = SegmentModel.load(registry.root, champion)
    offered = [str(c) for c in people.features.columns]
    if model.feature_version != people.feature_version or model.preprocessor.inputs_ != offered:
        console.print(
            f"the champion segments {champion} read other features: new ids are given "
            "(pass --previous to insist)"
        )
        return None
    return model


def _due(registry: Any, days: int) -> dict[str, Any] | None:
    """None when a refresh is due; otherwise why not."""
    from intentflow.models.segments.model import KIND

    champion = registry.champion(KIND)
    if champion is None:
        return None
    created = datetime.fromisoformat(registry.info(KIND, champion).meta["created_at"])
    due = created + timedelta(days=days)
    if datetime.now(UTC) >= due:
        return None
    return {"due": False, "model_version": champion, "next_due": due.isoformat()}


def segments_table(summary: dict[str, Any], profiles: list[Any]) -> Table:
    """The segments with their sizes and what sets them apart, as a table."""
    out = Table(
        title=f"segments {summary['model_version']}: k={summary['k']}, silhouette "
        f"{summary['silhouette'] if summary['silhouette'] is not None else '-'}, "
        f"Davies-Bouldin {summary['davies_bouldin']}"
    )
    for column in ("id", "name", "people", "share", "stands out by"):
        out.add_column(column)
    for p in profiles:
        standouts = ", ".join(f"{c} x{v:.2f}" for c, v in p.standouts(3))
        out.add_row(str(p.id), p.name, f"{p.size:,}", f"{p.share:.1%}", standouts)
    return out


def segment(
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            help="CSV or Parquet of numeric features keyed by --id (default: the lake's people).",
        ),
    ] = None,
    id_column: Annotated[str, typer.Option("--id", help="The id column of --table.")] = "user_id",
    algorithm: Annotated[
        str | None, typer.Option(help="kmeans, agglomerative, dbscan or hdbscan.")
    ] = None,
    k: Annotated[
        int | None, typer.Option("--k", help="Segments (default: chosen by the scores).", min=2)
    ] = None,
    k_min: Annotated[int | None, typer.Option(help="Smallest k tried.", min=2)] = None,
    k_max: Annotated[int | None, typer.Option(help="Largest k tried.", min=2)] = None,
    choose_by: Annotated[
        str | None,
        typer.Option(
            help="silhouette, davies_bouldin, calinski_harabasz, or consensus (the best mean "
            "rank of the three)."
        ),
    ] = None,
    scaling: Annotated[str | None, typer.Option(help="zscore or minmax.")] = None,
    pca: Annotated[
        float | None,
        typer.Option(help="Cluster on principal components: a count (3) or a variance share."),
    ] = None,
    feature: Annotated[
        list[str] | None,
        typer.Option("--feature", help="Segment on this feature only; repeat for several."),
    ] = None,
    previous: Annotated[
        str | None,
        typer.Option(
            help="Refresh: keep the ids of this version's segments (or 'champion'; by default "
            "the champion when it reads the same features)."
        ),
    ] = None,
    fresh: Annotated[bool, typer.Option(help="Give new ids: match no earlier model.")] = False,
    if_due: Annotated[
        bool, typer.Option(help="Only when the champion is older than segments.refresh_days.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Lake: features at this time (default: just after the last event)."
        ),
    ] = None,
    eps: Annotated[float | None, typer.Option(help="DBSCAN's radius.")] = None,
    min_samples: Annotated[int | None, typer.Option(help="DBSCAN's core size.")] = None,
    min_cluster_size: Annotated[int | None, typer.Option(help="HDBSCAN's smallest.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of samples and K-Means.")] = 42,
    promote: Annotated[bool, typer.Option(help="Make the new segments the champion.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Segment people by behavior: choose k, cluster, profile and name the segments, keep the
    ids of the previous segments for the same groups, and register the model."""
    from intentflow.features.command import parse_as_of
    from intentflow.models.registry import Registry, RegistryError
    from intentflow.models.segments.build import (
        SegmentOptions,
        read_assignments,
        register,
        select,
        summary,
    )
    from intentflow.models.segments.build import segment as run
    from intentflow.models.segments.inputs import SegmentError, lake_people, read_people
    from intentflow.models.segments.model import KIND

    settings = Settings()
    config = settings.segments
    registry = Registry(settings.models_dir)
    if if_due and (not_due := _due(registry, config.refresh_days)) is not None:
        console.print(f"segments {not_due['model_version']} are fresh until {not_due['next_due']}")
        if as_json:
            sys.stdout.write(json.dumps(not_due) + "\n")
        return
    options = SegmentOptions(
        algorithm=algorithm or config.algorithm,
        k=k,
        k_min=k_min or config.k_min,
        k_max=k_max or config.k_max,
        choose_by=choose_by or config.choose_by,
        scaling=scaling or config.scaling,  # type: ignore[arg-type]
        pca=pca if pca is not None else config.pca,
        features=tuple(feature or ()),
        max_correlation=config.max_correlation,
        seed=seed,
        minibatch_above=config.minibatch_above,
        eps=eps,
        min_samples=min_samples,
        min_cluster_size=min_cluster_size,
    )
    try:
        with console.status("reading people") as status:
            if table is None:
                people = lake_people(settings, parse_as_of(as_of) if as_of else None)
            else:
                people = read_people(table, id_column)
            people = select(people, options.features)
            before = _previous(registry, previous, fresh, people)
            moved_from = None
            if before is not None:
                moved_from = read_assignments(registry.info(KIND, before.version).path)
            result = run(
                people,
                options,
                previous=before,
                previous_assignments=moved_from,
                on_step=status.update,
            )
            status.update("registering")
            version = register(registry, result, promote=promote)
    except (SegmentError, RegistryError, OSError, ValueError) as exc:
        raise fail(str(exc)) from None
    out = summary(result, version)
    if as_json:
        sys.stdout.write(json.dumps(out) + "\n")
        return
    Console().print(segments_table(out, result.profiles))
    if result.matching is not None:
        m = result.matching
        console.print(
            f"refresh of {result.previous}: {len(m.matched)} kept their ids, new "
            f"{m.new or 'none'}, vanished {m.vanished or 'none'}"
        )
    console.print(f"report: intentflow report segments {version}")


@report_app.command("segments")
def report_segments(
    version: Annotated[
        str | None, typer.Argument(help="A segments version (default: champion).")
    ] = None,
    out: Annotated[
        str | None, typer.Option(help="Directory to write (default: DATA_DIR/reports/...).")
    ] = None,
) -> None:
    """An HTML report of segments: the choice of k, sizes, PCA and t-SNE maps, the profile
    heatmap and, for a refresh, the migrations; with PNG plots and the profiles as CSV and
    Markdown."""
    from intentflow.models.segments.model import KIND
    from intentflow.models.segments.report import write_report

    write_model_report(KIND, version, out, write_report)
