"""How to read a file as events: a generic column mapping, and presets for the public datasets.

A :class:`Mapping` turns a chunk of source rows (an Arrow table) into rows with native field names;
the importer then validates them exactly as the collector validates events.

>>> import pyarrow as pa
>>> m = PRESETS["taobao"].mapping
>>> rows = m.apply(pa.table({"user_id": ["7"], "item_id": ["9"], "category_id": ["3"],
...                          "behavior": ["buy"], "ts": [1511658000]}))
>>> rows.to_pylist()[0]["type"], rows.to_pylist()[0]["timestamp"]
('purchase', 1511658000.0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

Format = Literal["csv", "jsonl", "parquet"]
TimeUnit = Literal["s", "ms", "us", "iso"]
_UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


@dataclass(frozen=True)
class Mapping:
    """Source columns to event fields.

    ``fields`` maps an event field to a source column; ``constants`` sets a field to a fixed
    value; ``type_column`` with ``type_values`` maps source values to event types (or ``type``
    sets one type for every row); ``timestamp`` names the time column and ``time_unit`` its unit;
    ``prefixes`` puts a fixed prefix before a field's values (keeps ids of different sources
    apart); ``transform`` runs first for anything a column mapping cannot say.
    """

    fields: dict[str, str] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    type_column: str | None = None
    type_values: dict[str, str] = field(default_factory=dict)
    type: str | None = None
    timestamp: str | None = None
    time_unit: TimeUnit = "s"
    prefixes: dict[str, str] = field(default_factory=dict)
    properties: tuple[str, ...] = ()
    """Source columns kept as event properties."""
    transform: Callable[[pa.Table], pa.Table] | None = None

    def apply(self, table: pa.Table) -> pa.Table:
        """Source rows as rows with native event field names (types still loose)."""
        if self.transform is not None:
            table = self.transform(table)
        n = table.num_rows
        out: dict[str, pa.Array | pa.ChunkedArray] = {}
        if self.type_column is not None:
            source = pc.cast(table[self.type_column], pa.string())
            if self.type_values:
                keys = pa.array(list(self.type_values), pa.string())
                values = pa.array(list(self.type_values.values()), pa.string())
                mapped = pc.take(values, pc.index_in(source, keys))
                source = pc.coalesce(mapped, source)
            out["type"] = source
        elif self.type is not None:
            out["type"] = pa.array([self.type] * n, pa.string())
        for name, column in self.fields.items():
            out[name] = _text(table[column]) if _is_text(name) else table[column]
        if self.timestamp is not None:
            out["timestamp"] = _epoch_seconds(table[self.timestamp], self.time_unit)
        for name, prefix in self.prefixes.items():
            out[name] = pc.binary_join_element_wise(prefix, out[name], "")
        for name, value in self.constants.items():
            out[name] = pa.array([value] * n)
        if self.properties:
            out["properties"] = pa.StructArray.from_arrays(
                [
                    table[c].combine_chunks() if isinstance(table[c], pa.ChunkedArray) else table[c]
                    for c in self.properties
                ],
                names=list(self.properties),
            )
        return pa.table(out)

    def text_columns(self) -> tuple[str, ...]:
        """Source columns that hold text whatever they look like (ids, categories, queries, the
        type column), for a reader that would otherwise guess their type from the first rows;
        none when a ``transform`` makes the columns."""
        if self.transform is not None:
            return ()
        names = [column for name, column in self.fields.items() if _is_text(name)]
        if self.type_column is not None:
            names.append(self.type_column)
        return tuple(dict.fromkeys(names))


def _is_text(name: str) -> bool:
    return name.endswith("_id") or name in ("category", "query")


def _text(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())


def _epoch_seconds(column: pa.Array | pa.ChunkedArray, unit: TimeUnit) -> Any:
    if unit == "iso":
        return pc.cast(column, pa.string())
    if pa.types.is_timestamp(column.type):
        return pc.divide(pc.cast(pc.cast(column, pa.timestamp("us")), pa.int64()), 1e6)
    return pc.multiply(pc.cast(column, pa.float64()), _UNIT_SECONDS[unit])


def seconds_to_timestamp(column: pa.Array | pa.ChunkedArray) -> Any:
    """Epoch seconds (floats) as UTC timestamps, rounded to the microsecond as validation
    rounds them."""
    micros = pc.cast(pc.round(pc.multiply(column, 1e6)), pa.int64())
    return pc.cast(micros, pa.timestamp("us", tz="UTC"))


@dataclass(frozen=True)
class CsvOptions:
    """How to read a delimited file."""

    delimiter: str = ","
    header: bool = True
    column_names: tuple[str, ...] = ()
    """Names for a file without a header row."""
    column_types: dict[str, pa.DataType] = field(default_factory=dict)
    null_values: tuple[str, ...] = ("", "NA", "NULL", "null")


@dataclass(frozen=True)
class Preset:
    """A known file layout: its format, how to read it and how to map it."""

    name: str
    format: Format
    mapping: Mapping
    csv: CsvOptions = CsvOptions()
    description: str = ""


def _diginetica(table: pa.Table) -> pa.Table:
    """Day plus the millisecond offset inside the session gives the event time."""
    day = pc.cast(pc.cast(table["eventdate"], pa.timestamp("s")), pa.int64())
    seconds = pc.add(
        pc.cast(day, pa.float64()), pc.divide(pc.cast(table["timeframe"], pa.float64()), 1000.0)
    )
    session = pc.cast(table["session_id"], pa.string())
    return table.append_column("ts", seconds).append_column(
        "anonymous", pc.binary_join_element_wise("dg-", session, "")
    )


PRESETS: dict[str, Preset] = {
    "taobao": Preset(
        name="taobao",
        format="csv",
        description="Taobao UserBehavior: user_id,item_id,category_id,behavior,timestamp",
        csv=CsvOptions(
            header=False,
            column_names=("user_id", "item_id", "category_id", "behavior", "ts"),
            column_types={
                "user_id": pa.string(),
                "item_id": pa.string(),
                "category_id": pa.string(),
                "behavior": pa.string(),
                "ts": pa.int64(),
            },
        ),
        mapping=Mapping(
            fields={"user_id": "user_id", "item_id": "item_id", "category": "category_id"},
            type_column="behavior",
            type_values={
                "pv": "product_view",
                "cart": "add_to_cart",
                "fav": "add_to_wishlist",
                "buy": "purchase",
            },
            timestamp="ts",
        ),
    ),
    "yoochoose": Preset(
        name="yoochoose",
        format="csv",
        description="YooChoose clicks (RecSys 2015): SessionId, ItemId, Time",
        csv=CsvOptions(
            delimiter="\t", column_types={"SessionId": pa.string(), "ItemId": pa.string()}
        ),
        mapping=Mapping(
            fields={"session_id": "SessionId", "anonymous_id": "SessionId", "item_id": "ItemId"},
            prefixes={"anonymous_id": "yc-"},
            type="product_view",
            timestamp="Time",
        ),
    ),
    "diginetica": Preset(
        name="diginetica",
        format="csv",
        description="Diginetica views (CIKM Cup 2016): session_id;user_id;item_id;timeframe;date",
        csv=CsvOptions(
            delimiter=";",
            column_types={
                "session_id": pa.string(),
                "user_id": pa.string(),
                "item_id": pa.string(),
                "timeframe": pa.int64(),
                "eventdate": pa.string(),
            },
        ),
        mapping=Mapping(
            fields={
                "session_id": "session_id",
                "user_id": "user_id",
                "item_id": "item_id",
                "anonymous_id": "anonymous",
            },
            type="product_view",
            timestamp="ts",
            transform=_diginetica,
        ),
    ),
    "movielens": Preset(
        name="movielens",
        format="csv",
        description="MovieLens ratings: userId,movieId,rating,timestamp (as interactions)",
        csv=CsvOptions(
            column_types={
                "userId": pa.string(),
                "movieId": pa.string(),
                "rating": pa.float64(),
                "timestamp": pa.int64(),
            }
        ),
        mapping=Mapping(
            fields={"user_id": "userId", "item_id": "movieId"},
            type="product_view",
            timestamp="timestamp",
            properties=("rating",),
        ),
    ),
}
"""Presets for the public datasets intentflow is tested on."""
