"""Who may read: a read key as ``Authorization: Bearer KEY`` (``INTENTFLOW_API_KEYS``); and who
may change the item catalog: a write key, sent as for events. Read keys do not write, nor write
keys read. A missing or wrong key gets 401 with the reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from intentflow.collect.auth import Keys

_bearer = HTTPBearer(
    auto_error=False, scheme_name="read key", description="a read key (INTENTFLOW_API_KEYS)"
)


def _refuse(what: str, sent: bool) -> HTTPException:
    detail = f"wrong {what} key" if sent else f"missing {what} key: send Authorization: Bearer KEY"
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="intentflow"'})


def read_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    """Let a request with a read key through (a FastAPI dependency)."""
    keys: Keys = request.app.state.runtime.read_keys
    if credentials is None or not keys.valid(credentials.credentials):
        raise _refuse("read", "authorization" in request.headers)


def write_key(request: Request) -> None:
    """Let a request with a write key through (a FastAPI dependency)."""
    keys: Keys = request.app.state.runtime.keys
    header = request.headers.get("authorization")
    if not keys.valid(keys.from_header(header)):
        raise _refuse("write", header is not None)
