"""Comparing tables in tests."""

from __future__ import annotations

import math

import pyarrow as pa


def assert_same(duck: pa.Table, spark: pa.Table) -> None:
    """Equal tables: same columns, types and rows; floats equal to 1e-9 relative."""
    assert duck.column_names == spark.column_names
    assert [f.type for f in duck.schema] == [f.type for f in spark.schema]
    assert duck.num_rows == spark.num_rows
    for name in duck.column_names:
        left, right = duck[name].to_pylist(), spark[name].to_pylist()
        if pa.types.is_floating(duck.schema.field(name).type):
            pairs = zip(left, right, strict=True)
            bad = [
                (a, b)
                for a, b in pairs
                if (a is None) != (b is None)
                or (a is not None and not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12))
            ]
            assert not bad, f"{name}: {bad[:5]}"
        else:
            assert left == right, name
