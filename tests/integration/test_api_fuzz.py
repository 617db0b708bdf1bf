"""Property-based requests from the published OpenAPI document, against a live server: whatever
schemathesis generates from ``/openapi.json`` (valid and malformed parameters and bodies), no
operation answers with a server error."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.conftest import READ, WRITE_KEY
from tests.integration.conftest import ServerProcess


@pytest.fixture
def live(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server with a few people, items and feedback, so that reads find something."""
    server = ServerProcess(tmp_path / "data").start()
    now = datetime.now(UTC).isoformat()
    events = [
        {
            "message_id": f"seed-{n}",
            "type": "product_view" if n % 3 else "add_to_cart",
            "user_id": f"u{n % 5}",
            "item_id": f"sku-{n % 7}",
            "category": f"c{n % 2}",
            "timestamp": now,
        }
        for n in range(40)
    ]
    reply = httpx.post(
        f"{server.url}/v1/events",
        json={"events": events},
        headers={"Authorization": f"Bearer {WRITE_KEY}"},
    )
    assert reply.status_code == 200
    yield server
    server.terminate()


def _operations(live: ServerProcess) -> list[schemathesis.APIOperation]:
    api = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    return [result.ok() for result in api.get_all_operations()]


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    url: str,
    headers: dict[str, str],
    seen: Counter[int],
) -> None:
    """Send ``operation`` the cases schemathesis generates (valid or malformed); fail on a
    5xx; count the status codes."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, suppress_health_check=list(HealthCheck), deadline=None)
    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate(
            base_url=url, headers=headers, checks=[not_a_server_error]
        )
        seen[response.status_code] += 1

    check()


def test_no_request_makes_a_server_error(live: ServerProcess) -> None:
    paths = httpx.get(f"{live.url}/openapi.json").json()["paths"]
    for path in (
        "/v1/recommendations/{user_id}",
        "/v1/items/{item_id}/similar",
        "/v1/items/{item_id}",
        "/v1/users/{user_id}/intent",
        "/v1/users/{user_id}/segment",
        "/v1/trending",
        "/v1/events",
    ):
        assert path in paths, path
    api = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    seen: Counter[int] = Counter()
    malformed = 0
    for operation in operations:
        writes = operation.method.upper() in ("POST", "PUT")
        headers = {"Authorization": f"Bearer {WRITE_KEY}"} if writes else READ
        _fuzz(operation, GenerationMode.POSITIVE, live.url, headers, seen)
        try:
            _fuzz(operation, GenerationMode.NEGATIVE, live.url, headers, seen)
            malformed += 1
        except Unsatisfiable:  # nothing in it to get wrong (no parameters, no body)
            pass
    assert malformed >= 8  # the operations with parameters or a body
    assert len(operations) >= 15 and sum(seen.values()) >= 20 * len(operations)
    assert seen[200] and seen[422] and not any(code >= 500 for code in seen)
