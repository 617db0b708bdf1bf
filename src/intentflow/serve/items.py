"""The item catalog over HTTP: put an item's metadata, read what is known of it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from intentflow.items.base import ItemStore
from intentflow.items.model import Item, ItemFields
from intentflow.serve.auth import read_key, write_key

router = APIRouter(tags=["items"])

ItemPath = Annotated[str, Path(min_length=1, max_length=256)]


def items_of(request: Request) -> ItemStore:
    """The server's item catalog."""
    items: ItemStore | None = request.app.state.runtime.items
    if items is None:
        raise HTTPException(503, "the item catalog is not open yet")
    return items


@router.put(
    "/v1/items/{item_id}",
    summary="Put an item's metadata",
    response_model=Item,
    dependencies=[Depends(write_key)],
)
def put_item(item_id: ItemPath, fields: ItemFields, request: Request) -> dict[str, Any]:
    """Store the item whole (category path, price, stock, tags, creation time), durably, in
    place of what was put or seen of it before. Needs a write key."""
    item = Item(item_id=item_id, **fields.model_dump())
    items_of(request).put_many([item])
    return item.to_row()


@router.get(
    "/v1/items/{item_id}",
    summary="What is known of an item",
    response_model=Item,
    dependencies=[Depends(read_key)],
    responses={404: {"description": "never put, imported or seen in events"}},
)
def get_item(item_id: ItemPath, request: Request) -> dict[str, Any]:
    """The item as put, or as events describe it (``seen_only``)."""
    item = items_of(request).get(item_id)
    if item is None:
        raise HTTPException(404, f"unknown item {item_id!r}: never put, imported or seen in events")
    return item.to_row()
