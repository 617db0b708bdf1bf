"""``intentflow evaluate recs``: every candidate generator on a real dataset, in one run."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

evaluate_app = typer.Typer(no_args_is_help=True, help="Offline evaluation on real data.")
console = Console(stderr=True)

DATASETS = {
    "taobao": ("taobao_userbehavior/UserBehavior.csv", "taobao"),
    "movielens": ("movielens_small/ratings.csv", "movielens"),
}
"""The datasets evaluated on: their file under the datasets folder and their import preset."""


@evaluate_app.command("recs")
def recs(
    dataset: Annotated[str, typer.Option(help="taobao or movielens")] = "taobao",
    datasets: Annotated[
        Path | None,
        typer.Option(
            help="The datasets folder (default: INTENTFLOW_DATASETS, ../shared/datasets)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Only the JSON line.")] = False,
) -> None:
    """HR@10, recall@10 and NDCG@10 of each method on ``dataset`` (the protocols: BENCHMARKS.md);
    the last line printed is a JSON object keyed by method."""
    from intentflow.config import Settings
    from intentflow.ingest.importer import import_file
    from intentflow.lake.reader import Lake
    from intentflow.recommend.affinity import AffinityPopular
    from intentflow.recommend.base import Generator
    from intentflow.recommend.chain import Chain
    from intentflow.recommend.covisit import CoVisitation
    from intentflow.recommend.ease import Ease
    from intentflow.recommend.evaluation import evaluate, leave_last_out, temporal_split
    from intentflow.recommend.factors import ImplicitAls, ImplicitItemKnn
    from intentflow.recommend.interactions import interactions
    from intentflow.recommend.popular import Popular, trending
    from intentflow.recommend.recent import RecentItems

    if dataset not in DATASETS:
        raise typer.BadParameter(f"{dataset!r}: one of {', '.join(DATASETS)}")
    folder = datasets or Path(os.environ.get("INTENTFLOW_DATASETS", "../shared/datasets"))
    name, preset = DATASETS[dataset]
    source = folder / name
    if not source.exists():
        raise typer.BadParameter(f"{source} not found: set --datasets or INTENTFLOW_DATASETS")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=tmp)
        console.print(f"importing {source} into a scratch lake")
        import_file(source, settings, preset=preset, workers=1)
        frame = interactions(Lake(settings.lake_dir))
    methods: list[Generator]
    if dataset == "taobao":
        split = temporal_split(frame)
        methods = [
            Popular(),
            trending(),
            CoVisitation(),
            RecentItems(),
            Chain([RecentItems(), CoVisitation(), Popular()], name="recent_covisitation_popular"),
            AffinityPopular(),
            Chain(
                [RecentItems(), AffinityPopular(), CoVisitation(), Popular()],
                name="recent_affinity_covisitation_popular",
            ),
        ]
    else:
        split = leave_last_out(frame)
        methods = [Popular(), ImplicitItemKnn(), ImplicitAls(), Ease()]
    console.print(f"{len(split.truth):,} people evaluated")
    results = evaluate(split, methods)
    if not as_json:
        table = Table(title=f"{dataset}: {len(split.truth):,} people")
        for column in ("method", "hr@10", "recall@10", "ndcg@10"):
            table.add_column(column)
        for method, scores in results.items():
            table.add_row(method, *(f"{scores[m]:.4f}" for m in ("hr@10", "recall@10", "ndcg@10")))
        Console().print(table)
    print(json.dumps({m: {k: round(v, 5) for k, v in s.items()} for m, s in results.items()}))
