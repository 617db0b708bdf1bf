"""``intentflow evaluate recs`` on the real Taobao file: the baselines land where plain
implementations of the same protocol do, and what a person did beats what is popular."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from intentflow.cli import app


def test_taobao_methods_rank_as_expected(datasets: Path) -> None:
    result = CliRunner().invoke(
        app, ["evaluate", "recs", "--dataset", "taobao", "--datasets", str(datasets), "--json"]
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    hr = {method: s["hr@10"] for method, s in scores.items()}
    assert set(hr) == {
        "popular",
        "trending",
        "covisitation",
        "recent",
        "recent_covisitation_popular",
        "affinity",
        "recent_affinity_covisitation_popular",
        "router",
    }
    # reference points of plain implementations under this protocol: 0.003, 0.029, 0.045
    assert 0.001 < hr["popular"] < 0.006
    assert hr["covisitation"] > 5 * hr["popular"]
    assert hr["recent_covisitation_popular"] >= hr["recent"] > hr["covisitation"]
    # the person's categories add what co-visitation misses: past the router's goal of 0.05
    assert hr["recent_affinity_covisitation_popular"] >= 0.05
    # the policy's routing (its strategies chosen on a validation split) does about as well,
    # far above what it falls back to
    assert hr["router"] > 0.04 > 10 * hr["popular"]
    assert "chosen on a validation split" in " ".join(result.stderr.split())
    assert all(0 <= s["recall@10"] <= s["hr@10"] for s in scores.values())


def test_an_unknown_dataset_is_refused(datasets: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", "recs", "--dataset", "nope"])
    assert result.exit_code == 2 and "one of taobao" in result.output


def test_movielens_leave_last_out_ranks_the_methods_as_published(datasets: Path) -> None:
    result = CliRunner().invoke(
        app, ["evaluate", "recs", "--dataset", "movielens", "--datasets", str(datasets), "--json"]
    )
    assert result.exit_code == 0, result.output
    hr = {m: s["hr@10"] for m, s in json.loads(result.stdout.strip().splitlines()[-1]).items()}
    assert set(hr) == {"popular", "itemknn", "als", "ease", "router"}
    # plain implementations under this protocol: most-popular 0.043, item-kNN 0.059, ALS 0.074
    assert 0.035 < hr["popular"] < 0.05
    assert hr["popular"] < hr["itemknn"] < hr["als"] < hr["ease"]
    assert hr["ease"] >= 0.085  # the goal: twice most-popular, above ALS
    # the policy's routing, its strategies chosen on a validation split: co-visitation of the
    # person's latest ratings and their categories' best pass the goal too
    assert hr["router"] >= 0.085
