"""``intentflow evaluate recs``: every candidate generator on a real dataset, in one run."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from intentflow.recommend.evaluation import Split
    from intentflow.recommend.policy import Policy

evaluate_app = typer.Typer(no_args_is_help=True, help="Offline evaluation on real data.")
console = Console(stderr=True)

DATASETS = {
    "taobao": ("taobao_userbehavior/UserBehavior.csv", "taobao"),
    "movielens": ("movielens_small/ratings.csv", "movielens"),
}
"""The datasets evaluated on: their file under the datasets folder and their import preset."""


def _choose_policy(split: Split) -> tuple[tuple[str, Policy], dict[str, float]]:
    """The candidate policy with the best HR@10 on the validation split of ``split``: the
    shipped one; the same with the person's recent items first for casual people too; that one
    again with only people without any event routed as sparse; and casual people given their
    own items, their categories' best and what goes with their items before trending ones."""
    from intentflow.recommend.evaluation import evaluate, validation_split
    from intentflow.recommend.policy import shipped_policy
    from intentflow.recommend.router import PolicyRouter

    shipped = shipped_policy()
    strategies = dict(shipped.strategies)
    strategies["casual"] = ["recent", *strategies["casual"]]
    recent_first = shipped.model_copy(update={"strategies": strategies})
    personal = dict(strategies)
    personal["casual"] = ["recent", "affinity", "covisitation", "trending", "popular"]
    candidates = {
        "shipped": shipped,
        "recent_first": recent_first,
        "recent_first_min_events_1": recent_first.model_copy(update={"min_events": 1}),
        "personal_casual_min_events_1": shipped.model_copy(
            update={"strategies": personal, "min_events": 1}
        ),
    }
    validation = validation_split(split)
    fitted = PolicyRouter(shipped).fit(validation.train)  # the policies share its generators
    scores = {
        name: evaluate(validation, [fitted.with_policy(policy)], fit=False)["router"]["hr@10"]
        for name, policy in candidates.items()
    }
    name = max(scores, key=lambda n: (scores[n], n == "shipped"))
    return (name, candidates[name]), scores


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
    from intentflow.recommend.router import PolicyRouter

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
    chosen, validated = _choose_policy(split)
    results["router"] = evaluate(split, [PolicyRouter(chosen[1])])["router"]
    console.print(
        f"router: the policy {chosen[0]!r}, chosen on a validation split "
        f"({', '.join(f'{name} {hr:.4f}' for name, hr in validated.items())} HR@10)"
    )
    if not as_json:
        table = Table(title=f"{dataset}: {len(split.truth):,} people")
        for column in ("method", "hr@10", "recall@10", "ndcg@10"):
            table.add_column(column)
        for method, scores in results.items():
            table.add_row(method, *(f"{scores[m]:.4f}" for m in ("hr@10", "recall@10", "ndcg@10")))
        Console().print(table)
    print(json.dumps({m: {k: round(v, 5) for k, v in s.items()} for m, s in results.items()}))
