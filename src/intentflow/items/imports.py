"""Bulk import of item metadata from a CSV, JSON lines or Parquet file: each row validated on
its own (a bad row is reported with its number and reason, the others are kept), the good ones
put in batches.

Columns: ``item_id`` (required), ``category_path`` (a list, or text with levels joined by
``>``), ``price``, ``in_stock``, ``tags`` (a list, or text joined by ``|``), ``created``.

>>> item = row_to_item({"item_id": 7, "category_path": "shoes > running", "tags": "a|b"})
>>> item.item_id, item.category_path, item.tags, item.in_stock
('7', ['shoes', 'running'], ['a', 'b'], True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from pydantic import ValidationError

from intentflow.items.base import ItemStore
from intentflow.items.model import Item

BATCH = 1_000
COLUMNS = ("item_id", "category_path", "price", "in_stock", "tags", "created")


@dataclass
class Imported:
    """What an import did."""

    rows: int = 0
    put: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """Row numbers (from 1) with their reasons; the first 100."""
    rejected_count: int = 0


def _split(value: Any, separator: str) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(separator) if part.strip()]
    return value


def row_to_item(row: Mapping[str, Any]) -> Item:
    """One row as an item (:class:`pydantic.ValidationError` when it is not one)."""
    data = {k: v for k, v in row.items() if k in COLUMNS and v is not None and v != ""}
    if "item_id" in data and not isinstance(data["item_id"], str):
        data["item_id"] = str(data["item_id"])
    if "category_path" in data:
        data["category_path"] = _split(data["category_path"], ">")
    if "tags" in data:
        data["tags"] = _split(data["tags"], "|")
    if isinstance(data.get("in_stock"), str):
        data["in_stock"] = data["in_stock"].strip().lower() in ("1", "true", "yes", "y")
    return Item.model_validate(data)


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a CSV, JSON lines or Parquet file (by its extension)."""
    reader = {
        ".csv": "read_csv_auto(?, all_varchar=true)",
        ".jsonl": "read_json_auto(?, format='newline_delimited')",
        ".json": "read_json_auto(?)",
        ".parquet": "read_parquet(?)",
    }.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"{path.name}: import reads .csv, .jsonl, .json or .parquet files")
    con = duckdb.connect()
    try:
        cursor = con.execute(f"SELECT * FROM {reader}", [str(path)])
        names = [d[0] for d in cursor.description]
        while rows := cursor.fetchmany(BATCH):
            for row in rows:
                yield dict(zip(names, row, strict=True))
    finally:
        con.close()


def import_items(
    store: ItemStore, path: Path, progress: Callable[[int], None] = lambda rows: None
) -> Imported:
    """Put every valid row of ``path`` into ``store``."""
    done = Imported()
    batch: list[Item] = []
    for number, row in enumerate(read_rows(path), start=1):
        done.rows = number
        try:
            batch.append(row_to_item(row))
        except ValidationError as exc:
            done.rejected_count += 1
            if len(done.rejected) < 100:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "row"
                done.rejected.append((number, f"{where}: {first['msg']}"))
        if len(batch) >= BATCH:
            store.put_many(batch)
            done.put += len(batch)
            batch = []
            progress(number)
    store.put_many(batch)
    done.put += len(batch)
    progress(done.rows)
    return done
