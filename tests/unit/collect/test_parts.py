"""Small parts of the collector: write keys, body reading, recent ids, the quarantine store."""

from __future__ import annotations

import base64
import gzip
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intentflow.collect.auth import Keys
from intentflow.collect.body import check_content_type, read_body
from intentflow.collect.dedup import RecentIds
from intentflow.collect.exceptions import (
    CollectError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from intentflow.collect.quarantine import QuarantineStore, make_record


def test_write_keys_from_headers() -> None:
    keys = Keys(["k1", "k2"])
    basic = "Basic " + base64.b64encode(b"k2:").decode()
    assert keys.from_header(basic) == "k2" and keys.valid("k2")
    assert keys.from_header("Bearer k1") == "k1"
    assert keys.from_header("bearer   ") is None
    assert keys.from_header("Basic " + base64.b64encode(b"\xff\xfe").decode()) is None
    assert not keys.valid("k3") and not keys.valid("")


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_body_limits_and_encodings() -> None:
    assert (
        await read_body(_chunks(b"ab", b"cd"), content_length=None, content_encoding=None, limit=4)
        == b"abcd"
    )
    with pytest.raises(PayloadTooLargeError):
        await read_body(_chunks(b"abc", b"de"), content_length=None, content_encoding=None, limit=4)
    with pytest.raises(PayloadTooLargeError):
        await read_body(_chunks(b""), content_length="99", content_encoding=None, limit=4)
    with pytest.raises(CollectError, match="not a number"):
        await read_body(_chunks(b""), content_length="x", content_encoding=None, limit=4)
    packed = gzip.compress(b"hello")
    assert (
        await read_body(_chunks(packed), content_length=None, content_encoding="gzip", limit=100)
        == b"hello"
    )
    with pytest.raises(CollectError, match="truncated"):
        await read_body(
            _chunks(packed[:-12]), content_length=None, content_encoding="gzip", limit=100
        )
    with pytest.raises(PayloadTooLargeError, match="decompressed"):
        await read_body(
            _chunks(gzip.compress(b"0" * 10_000)),
            content_length=None,
            content_encoding="gzip",
            limit=100,
        )


def test_content_types() -> None:
    for ok in (
        None,
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/vnd.segment+json",
    ):
        check_content_type(ok)
    with pytest.raises(UnsupportedMediaTypeError):
        check_content_type("multipart/form-data")


def test_recent_ids_forget_by_age_and_by_count() -> None:
    seen = RecentIds(max_ids=3, window_s=10)
    assert seen.add("a", now=0) and not seen.add("a", now=1)
    for name in "bcd":
        seen.add(name, now=2)
    assert "a" not in seen and len(seen) == 3
    seen.add("e", now=20)
    assert "b" not in seen and "e" in seen


def test_quarantine_store_appends_lists_updates_and_removes(tmp_path: Path) -> None:
    store = QuarantineStore(tmp_path / "q")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    records = [
        make_record(
            f'{{"n":{i}}}'.encode(), reason=f"r{i}", source="api", fmt="native", index=i, at=at
        )
        for i in range(5)
    ]
    records.append(make_record(b"\xff", reason="utf", source="api", fmt="native", index=5, at=at))
    assert store.append(records) == 6
    back = list(store.records())
    assert [r.reason for r in back] == ["r0", "r1", "r2", "r3", "r4", "utf"]
    assert back[-1].raw_base64 and back[-1].payload() == b"\xff"
    assert store.remove([records[0].id, records[5].id]) == 2
    changed = back[1].__class__(
        **{**{f: getattr(back[1], f) for f in back[1].__struct_fields__}, "reason": "new"}
    )
    assert store.update([changed]) == 1
    assert [r.reason for r in store.records()] == ["new", "r2", "r3", "r4"]
