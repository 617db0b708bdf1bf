"""Reading a request body safely: content type, size limit, gzip (with a bound on expansion)."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

from intentflow.collect.exceptions import (
    CollectError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)

JSON_TYPES = ("application/json", "text/plain", "application/x-json")
"""Accepted content types: JSON, and ``text/plain`` that browsers' ``sendBeacon`` uses."""


def check_content_type(content_type: str | None) -> None:
    """Refuse bodies that do not claim to be JSON (a missing type is taken as JSON)."""
    if not content_type:
        return
    media = content_type.split(";")[0].strip().lower()
    if media in JSON_TYPES or media.endswith("+json"):
        return
    raise UnsupportedMediaTypeError(
        f"content type {media!r} is not supported; send application/json"
    )


async def read_body(
    chunks: AsyncIterator[bytes],
    *,
    content_length: str | None,
    content_encoding: str | None,
    limit: int,
) -> bytes:
    """The decoded body, refusing more than ``limit`` bytes before or after decompression."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise CollectError("Content-Length is not a number") from None
        if declared > limit:
            raise PayloadTooLargeError(f"body of {declared} bytes is over the limit of {limit}")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"body is over the limit of {limit} bytes")
        parts.append(chunk)
    body = b"".join(parts)
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _inflate(body, limit, gzip=encoding != "deflate")
    raise UnsupportedMediaTypeError(f"content encoding {encoding!r} is not supported; use gzip")


def _inflate(body: bytes, limit: int, *, gzip: bool) -> bytes:
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise CollectError(f"body is not valid {'gzip' if gzip else 'deflate'}: {exc}") from None
    if len(out) > limit:
        raise PayloadTooLargeError(f"decompressed body is over the limit of {limit} bytes")
    if not inflater.eof:
        raise CollectError(f"body is not valid {'gzip' if gzip else 'deflate'}: truncated stream")
    if inflater.unused_data:
        raise CollectError("body has data after the end of its compressed stream")
    return out
