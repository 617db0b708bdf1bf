"""API keys: write keys (the HTTP Basic username, as Segment sends it, a Bearer token, or
``writeKey``) and read keys (a Bearer token).

>>> keys = Keys(["k1"])
>>> keys.from_header("Basic " + __import__("base64").b64encode(b"k1:").decode())
'k1'
>>> keys.valid("k1"), keys.valid("nope"), keys.valid(None)
(True, False, False)
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable


class Keys:
    """A set of keys (the write keys, or the read keys)."""

    def __init__(self, keys: Iterable[str]):
        self._keys = tuple(k.encode() for k in keys if k)

    def from_header(self, authorization: str | None) -> str | None:
        """The key carried by an ``Authorization`` header, if any."""
        if not authorization:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return value.strip() or None
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, ValueError):  # includes UnicodeDecodeError
                return None
            return decoded.partition(":")[0] or None
        return None

    def valid(self, key: str | None) -> bool:
        """Constant-time membership test."""
        if not key:
            return False
        candidate = key.encode()
        return any(hmac.compare_digest(candidate, k) for k in self._keys)
