"""``intentflow items``: import item metadata in bulk, show an item, count the catalog."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console

from intentflow.config import Settings

items_app = typer.Typer(no_args_is_help=True, help="The item catalog: import, show, count.")
console = Console(stderr=True)


@items_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="A .csv, .jsonl, .json or .parquet file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Only the JSON line.")] = False,
) -> None:
    """Put every valid row of a file into the item catalog (columns: item_id, category_path,
    price, in_stock, tags, created); bad rows are listed with their reasons, the others kept.
    Exits 2 when some rows were rejected."""
    from intentflow.items import open_items
    from intentflow.items.imports import import_items

    if not path.is_file():
        console.print(f"[red]error:[/] {path} is not a file")
        raise typer.Exit(2)
    store = open_items(Settings())
    try:
        with console.status("importing items") as status:
            done = import_items(store, path, lambda rows: status.update(f"{rows:,} rows read"))
    except (ValueError, duckdb.Error) as exc:
        console.print(f"[red]error:[/] cannot read {path}: {exc}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    if not as_json:
        console.print(f"{done.put:,} items put from {done.rows:,} rows of {path.name}")
        for number, reason in done.rejected[:20]:
            console.print(f"  [yellow]row {number}[/]: {reason}")
        if done.rejected_count > 20:
            console.print(f"  ... and {done.rejected_count - 20:,} more rejected rows")
    result = {
        "rows": done.rows,
        "put": done.put,
        "rejected": done.rejected_count,
        "first_rejected": [{"row": n, "reason": r} for n, r in done.rejected[:20]],
    }
    sys.stdout.write(json.dumps(result) + "\n")
    if done.rejected_count:
        raise typer.Exit(2)


@items_app.command("show")
def show(item_id: str) -> None:
    """Print what is known of one item (exits 1 when nothing is)."""
    from intentflow.items import open_items

    store = open_items(Settings())
    try:
        item = store.get(item_id)
    finally:
        store.close()
    if item is None:
        console.print(f"[red]error:[/] unknown item {item_id!r}")
        raise typer.Exit(1)
    sys.stdout.write(item.model_dump_json() + "\n")


@items_app.command("count")
def count() -> None:
    """How many items were put and how many are known from events only."""
    from intentflow.items import open_items

    store = open_items(Settings())
    try:
        sys.stdout.write(json.dumps(store.counts()) + "\n")
    finally:
        store.close()
