"""The columnar output of tabular imports equals the row path's, on every preset and mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from intentflow.collect.validate import Validator
from intentflow.config import CollectSettings
from intentflow.events import Event, lake_lines
from intentflow.ingest.columns import lake_table
from intentflow.ingest.importer import row_ids
from intentflow.ingest.presets import PRESETS, Mapping
from intentflow.ingest.readers import read_csv_chunks
from intentflow.lake.writer import table_from_lines

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
FILES = {
    "taobao": "taobao_userbehavior/UserBehavior.csv",
    "yoochoose": "yoochoose_sample/yoochoose-clicks-100k_train_full.txt",
    "diginetica": "diginetica_sample/sample_train-item-views.csv",
    "movielens": "movielens_small/ratings.csv",
}


def both_ways(mapped: pa.Table) -> tuple[pa.Table, pa.Table]:
    rows = mapped.to_pylist()
    checked = Validator(CollectSettings()).validate_rows(rows, received_at=NOW, source="import:t")
    kept = [i for i, item in enumerate(checked) if isinstance(item, Event)]
    events = [item for item in checked if isinstance(item, Event)]
    columnar = lake_table(mapped.take(pa.array(kept, pa.int64())), events)
    by_rows = table_from_lines(lake_lines(events))
    return columnar, by_rows


@pytest.mark.parametrize("preset", sorted(FILES))
def test_columns_equal_rows_on_the_real_datasets(datasets: Path, preset: str) -> None:
    chosen = PRESETS[preset]
    chunk = next(read_csv_chunks(datasets / FILES[preset], chosen.csv, 20_000))
    mapped = chosen.mapping.apply(chunk.table)
    mapped = mapped.append_column("message_id", row_ids("p", chunk))
    columnar, by_rows = both_ways(mapped)
    assert columnar.num_rows == by_rows.num_rows == len(chunk)
    assert columnar.equals(by_rows)


def test_columns_equal_rows_with_defaults_derived_values_and_rejections() -> None:
    mapping = Mapping(
        fields={"user_id": "who", "item_id": "sku", "price": "price", "quantity": "qty"},
        type_column="what",
        type_values={"view": "product_view", "cart": "add_to_cart", "buy": "purchase"},
        timestamp="at",
        properties=("note",),
    )
    source = pa.table(
        {
            "who": ["1", "2", "3", None, "5", "6"],
            "what": ["view", "cart", "buy", "view", "cart", "teleport"],
            "sku": ["a", "b", "c", "d", None, "f"],
            "price": [1.5, 2.0, 9.99, 1.0, 3.0, 1.0],
            "qty": [None, None, 3, None, 2, None],
            "at": [1.7e9 + 0.123456, 1.7e9 + 1.9999995, 1.7e9 + 2, 1.7e9, 1.7e9, 1.7e9],
            "note": ["x", "", "z", "w", "v", "u"],
        }
    )
    mapped = mapping.apply(source)
    mapped = mapped.append_column("message_id", pa.array([f"m{i}" for i in range(6)]))
    columnar, by_rows = both_ways(mapped)
    assert columnar.num_rows == 3  # no person, no item, unknown type are refused
    assert columnar.equals(by_rows)
    assert columnar["revenue"].to_pylist() == [None, None, 9.99 * 3]
    assert columnar["quantity"].to_pylist() == [None, 1, 3]
