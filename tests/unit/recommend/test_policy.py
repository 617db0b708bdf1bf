"""The routing policy as configuration: TOML and YAML, the shipped one, and refusals with the
reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from intentflow.recommend.policy import PolicyError, read_policy, shipped_policy


def test_the_shipped_policy_routes_every_kind_of_person() -> None:
    policy = shipped_policy()
    assert set(policy.strategies) >= {"high_intent", "casual", "sparse"}
    assert read_policy(None) == policy
    assert policy.rules.exclude_purchased and policy.rules.exclude_out_of_stock


def test_toml_and_yaml_say_the_same_policy(tmp_path: Path) -> None:
    toml = tmp_path / "policy.toml"
    toml.write_text(
        'min_events = 5\n[strategies]\nbargains = ["trending", "popular"]\n'
        '[segments]\n"Bargain hunters" = "bargains"\n'
        "[rules]\nmax_per_category = 2\n[[rules.boosts]]\nfactor = 2.0\ntags = ['promotion']\n"
    )
    yaml = tmp_path / "policy.yaml"
    yaml.write_text(
        "min_events: 5\nstrategies:\n  bargains: [trending, popular]\n"
        "segments:\n  Bargain hunters: bargains\n"
        "rules:\n  max_per_category: 2\n  boosts:\n    - factor: 2.0\n      tags: [promotion]\n"
    )
    from_toml, from_yaml = read_policy(toml), read_policy(yaml)
    assert from_toml == from_yaml
    assert from_toml.strategies["bargains"] == ["trending", "popular"]
    assert from_toml.strategies["casual"] == shipped_policy().strategies["casual"]  # kept
    assert from_toml.segments == {"Bargain hunters": "bargains"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[strategies]\ncasual = ['telepathy']", "telepathy"),
        ("[strategies]\ncasual = []", "draws from no source"),
        ("[segments]\nVIP = 'vip'", "undefined strategies"),
        ("[rules]\nprice_min = 10\nprice_max = 5", "price_min 10.0 is above price_max 5.0"),
        ("[rules]\nexclude_viewd = true", "exclude_viewd"),
        ("[[rules.boosts]]\nfactor = 2", "names the items, categories or tags"),
        ("[[rules.boosts]]\nfactor = 0\ntags = ['x']", "greater than 0"),
        ("min_events = [", "not valid toml"),
    ],
)
def test_a_policy_that_cannot_be_used_is_refused_with_the_reason(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=reason):
        read_policy(path)


def test_a_missing_policy_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy"):
        read_policy(tmp_path / "nope.yaml")
