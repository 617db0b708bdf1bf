"""An item's metadata, as the API takes it and as recommendations read it.

>>> Item(item_id="sku-1", category_path=["shoes", "running"], price=89.0).category
'running'
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

ItemId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class ItemFields(BaseModel):
    """What can be said of an item (the body of ``PUT /v1/items/{item_id}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category_path: list[Name] = Field(
        default_factory=list,
        max_length=16,
        description="from the broadest category to the narrowest; events name the narrowest",
    )
    price: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    in_stock: bool = True
    tags: list[Name] = Field(default_factory=list, max_length=64)
    created: AwareDatetime | None = Field(
        default=None, description="when the item was added to the shop (with a time zone)"
    )


class Facts(NamedTuple):
    """What the business rules read of an item (light enough to build for every candidate)."""

    category_path: tuple[str, ...] = ()
    price: float | None = None
    in_stock: bool = True
    tags: tuple[str, ...] = ()


class Item(ItemFields):
    """An item with its id, and whether it was put or only seen in events."""

    item_id: ItemId
    seen_only: bool = Field(
        default=False, description="known from events only, not put through the API or imported"
    )

    @property
    def category(self) -> str | None:
        """The narrowest category (what events carry)."""
        return self.category_path[-1] if self.category_path else None

    @property
    def facts(self) -> Facts:
        """What the rules read of it."""
        return Facts(tuple(self.category_path), self.price, self.in_stock, tuple(self.tags))

    def to_row(self) -> dict[str, Any]:
        """The item as a JSON-ready mapping."""
        return self.model_dump(mode="json")
