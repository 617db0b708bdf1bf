"""Which recommendation requests the fast path answers itself, and which it leaves to the
documented route (which answers them with their reasons)."""

from __future__ import annotations

import pytest

from intentflow.recommend.service import Ask
from intentflow.serve.fastpath import _ask


def test_well_formed_requests_are_read_as_the_route_reads_them() -> None:
    assert _ask("u1", b"") == Ask("u1", 10)
    assert _ask(
        "u1", b"n=3&context_item=sku-1&category=shoes&exclude=a,%20b,&filter=price%3C5"
    ) == (Ask("u1", 3, "sku-1", "shoes", ("a", "b"), "price<5"))
    assert _ask("u1", b"exclude=") == Ask("u1", 10)


@pytest.mark.parametrize(
    "query",
    [
        b"n=0",
        b"n=101",
        b"n=x",
        b"n=-1",
        b"n=3&n=4",
        b"colour=red",
        b"context_item=",
        b"a",
        b"category=" + b"c" * 257,
        b"\xff=1",
    ],
)
def test_anything_else_goes_on_to_the_route(query: bytes) -> None:
    assert _ask("u1", query) is None
