"""The recommendation policy: which strategy serves whom, what each strategy draws its items
from, and the business rules every answer keeps. It is configuration, read from TOML or YAML
(``INTENTFLOW_RECOMMEND__POLICY``), and checked whole when read: a policy that names an unknown
source or strategy, or contradicts itself, is refused with the reason.

Routing, in order: a person with no state, or with fewer than ``min_events`` events in 30 days,
gets the ``sparse`` strategy; one of high intent (by the intent model's threshold) gets
``high_intent``; anyone else gets the strategy their segment is mapped to in ``segments``, else
``casual``.

>>> policy = Policy.model_validate({"strategies": {"casual": ["trending", "popular"]}})
>>> policy.strategies["casual"], policy.min_events
(['trending', 'popular'], 3)
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

SourceName = Literal[
    "recent",
    "cart",
    "covisitation",
    "affinity",
    "trending_affinity",
    "trending",
    "popular",
    "context",
]
"""Where a strategy's candidates come from (see :mod:`intentflow.recommend.sources`)."""

STRATEGIES: Final = ("high_intent", "casual", "sparse")
"""The strategies routing picks from; a policy may define more for its segments."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Boost(_Strict):
    """Multiply the score of items that match (any of) ``items``, ``categories`` or ``tags``."""

    factor: float = Field(gt=0, allow_inf_nan=False)
    """Above 1 raises the items (promotions, margin), below 1 lowers them."""
    items: list[Name] = []
    categories: list[Name] = []
    tags: list[Name] = []

    @model_validator(mode="after")
    def _matches_something(self) -> Boost:
        if not (self.items or self.categories or self.tags):
            raise ValueError("a boost names the items, categories or tags it applies to")
        return self


class Rules(_Strict):
    """Business rules applied to every answer, after the candidates are drawn."""

    exclude_purchased: bool = True
    """Leave out what the person bought."""
    exclude_in_cart: bool = False
    """Leave out what is in the person's cart."""
    exclude_out_of_stock: bool = True
    """Leave out items whose catalog entry says they are out of stock."""
    exclude_viewed: bool = False
    """Leave out every item the person interacted with lately (no "continue where you left
    off")."""
    blocked_items: list[Name] = []
    """Never shown."""
    include_categories: list[Name] = []
    """When given, only items of these categories (any level of their category path)."""
    exclude_categories: list[Name] = []
    """Never items of these categories."""
    price_min: float | None = Field(default=None, ge=0)
    price_max: float | None = Field(default=None, ge=0)
    """Items priced outside the range are left out (unpriced items are kept)."""
    max_per_category: int = Field(default=0, ge=0)
    """At most this many items of one category in an answer (0: no limit)."""
    boosts: list[Boost] = []

    @model_validator(mode="after")
    def _consistent(self) -> Rules:
        both = set(self.include_categories) & set(self.exclude_categories)
        if both:
            raise ValueError(f"categories both included and excluded: {sorted(both)}")
        if (
            self.price_min is not None
            and self.price_max is not None
            and self.price_min > self.price_max
        ):
            raise ValueError(f"price_min {self.price_min} is above price_max {self.price_max}")
        return self


def _default_strategies() -> dict[str, list[SourceName]]:
    return {
        "high_intent": ["recent", "cart", "covisitation", "affinity", "popular"],
        "casual": ["trending_affinity", "affinity", "trending", "popular"],
        "sparse": ["context", "trending", "popular"],
    }


class Policy(_Strict):
    """The whole policy (see the module's doc)."""

    min_events: int = Field(default=3, ge=0)
    """People with fewer events than this in 30 days get the ``sparse`` strategy."""
    strategies: dict[Name, list[SourceName]] = Field(default_factory=_default_strategies)
    """Each strategy's sources, in order: the first one's items, then the next one's new ones,
    until the answer is full."""
    segments: dict[Name, Name] = {}
    """Segment name (or id) to the strategy for its people who are not of high intent."""
    trending_window: Literal["15m", "1h", "24h"] = "15m"
    """The window of the ``trending`` and ``trending_affinity`` sources."""
    rules: Rules = Rules()

    @model_validator(mode="before")
    @classmethod
    def _defaults_kept(cls, data: Any) -> Any:
        """A policy that names some strategies keeps the shipped ones it does not name."""
        if isinstance(data, dict) and isinstance(data.get("strategies"), dict):
            data = {**data, "strategies": {**_default_strategies(), **data["strategies"]}}
        return data

    @model_validator(mode="after")
    def _known_strategies(self) -> Policy:
        for name, sources in self.strategies.items():
            if not sources:
                raise ValueError(f"strategy {name!r} draws from no source")
        unknown = sorted(set(self.segments.values()) - set(self.strategies))
        if unknown:
            raise ValueError(f"segments are mapped to undefined strategies: {unknown}")
        return self


class PolicyError(ValueError):
    """A policy file that cannot be used, with the reason."""


def read_policy(path: str | Path | None) -> Policy:
    """The policy in ``path`` (``.toml``, ``.yaml`` or ``.yml``), or the shipped one."""
    if path is None:
        return shipped_policy()
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise PolicyError(f"cannot read the policy {file}: {exc}") from exc
    try:
        if file.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except Exception as exc:  # TOML's or YAML's own syntax error, with its place
        raise PolicyError(f"the policy {file} is not valid {file.suffix[1:]}: {exc}") from exc
    try:
        return Policy.model_validate(data)
    except ValueError as exc:
        raise PolicyError(f"the policy {file} is not usable: {exc}") from exc


@cache
def shipped_policy() -> Policy:
    """The policy intentflow ships (``policy.toml`` beside this module)."""
    text = resources.files("intentflow.recommend").joinpath("policy.toml").read_text()
    return Policy.model_validate(tomllib.loads(text))
