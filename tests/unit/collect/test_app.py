"""The collector's HTTP surface under good, bad and hostile input.

Every bad input gets a clear 4xx or a per-event rejection with its reason, never a 500, and the good
events of the same batch are kept. The app runs in-process on its real runtime (write-ahead log,
flusher, quarantine on a temporary data dir).
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from intentflow.collect.app import create_app
from intentflow.collect.runtime import CollectorRuntime
from intentflow.config import Settings
from intentflow.lake.reader import Lake
from tests.conftest import WRITE_KEY

AUTH = {"Authorization": f"Bearer {WRITE_KEY}"}
JSON = {"Content-Type": "application/json"}


def ev(i: int = 0, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "message_id": f"m-{i}",
        "type": "product_view",
        "user_id": "u1",
        "item_id": "sku-1",
        "timestamp": "2026-11-20T10:00:00Z",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture(params=[0, 1], ids=["inline", "workers"])
def runtime(settings: Settings, request: pytest.FixtureRequest) -> Iterator[CollectorRuntime]:
    """A started runtime that validates in the event loop, or in a worker process."""
    collect = settings.collect.model_copy(update={"validation_workers": request.param})
    rt = CollectorRuntime(settings.model_copy(update={"collect": collect}))
    rt.start()
    yield rt
    if rt.ready:
        rt.stop()


@pytest.fixture
async def client(runtime: CollectorRuntime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://collector") as http:
        yield http


def lake_ids(runtime: CollectorRuntime) -> list[str]:
    runtime.log.flush()
    lake = Lake(runtime.settings.lake_dir)
    con = lake.connect()
    return sorted(row[0] for row in lake.events(con).project("message_id").fetchall())


async def post(
    client: httpx.AsyncClient,
    body: Any,
    headers: dict[str, str] | None = None,
    path: str = "/v1/events",
) -> httpx.Response:
    content = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return await client.post(path, content=content, headers={**AUTH, **JSON, **(headers or {})})


async def test_good_batch_is_stored(client: httpx.AsyncClient, runtime: CollectorRuntime) -> None:
    reply = await post(client, {"events": [ev(i) for i in range(5)]})
    assert reply.status_code == 200
    assert reply.json() == {"accepted": 5, "duplicates": 0, "rejected": []}
    assert lake_ids(runtime) == [f"m-{i}" for i in range(5)]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (ev(1, item_id=None), "missing required field `item_id`"),
        (ev(1, user_id=None), "needs a user_id or an anonymous_id"),
        (ev(1, user_id=42), "Expected `str | null`, got `int`"),
        (ev(1, type="teleport"), "unknown event type 'teleport'"),
        (ev(1, type=None), "missing required field `type`"),
        (ev(1, timestamp="2026-11-20T10:00:00"), "timezone"),
        (
            ev(1, timestamp=(datetime.now(UTC) + timedelta(hours=2)).isoformat()),
            "ahead of the server clock",
        ),
        (ev(1, timestamp="1970-01-01T00:00:01Z"), "before the oldest accepted"),
        (ev(1, price="cheap"), "Expected `float | null`, got `str`"),
        (
            ev(
                1,
                properties={
                    "a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": 1}}}}}}}}}}
                },
            ),
            "nested deeper than 10 levels",
        ),
        (ev(1, properties={"blob": "x" * 40_000}), "over the limit of 32768"),
        ("not an object", "Expected `object`, got `str`"),
    ],
)
async def test_bad_event_is_rejected_with_reason_and_the_rest_kept(
    client: httpx.AsyncClient, runtime: CollectorRuntime, bad: Any, reason: str
) -> None:
    reply = await post(client, {"events": [ev(0), bad, ev(2)]})
    assert reply.status_code == 200
    body = reply.json()
    assert body["accepted"] == 2
    [rejected] = body["rejected"]
    assert rejected["index"] == 1 and reason in rejected["reason"]
    assert lake_ids(runtime) == ["m-0", "m-2"]
    [record] = list(runtime.quarantine.records())
    assert reason in record.reason and record.index == 1 and record.source == "api"
    assert msgspec.json.decode(record.payload()) == bad


async def test_non_utf8_event_is_rejected_alone_and_kept_exactly(
    client: httpx.AsyncClient, runtime: CollectorRuntime
) -> None:
    bad = b'{"type":"search","user_id":"u","query":"caf\xe9"}'
    body = b'{"events":[' + msgspec.json.encode(ev(0)) + b"," + bad + b"]}"
    reply = await post(client, body)
    assert reply.status_code == 200
    assert reply.json()["accepted"] == 1
    assert "UTF-8" in reply.json()["rejected"][0]["reason"]
    [record] = list(runtime.quarantine.records())
    assert record.raw_base64 and record.payload() == bad


async def test_all_bad_batch_is_a_400_with_every_reason(client: httpx.AsyncClient) -> None:
    reply = await post(client, {"events": [ev(0, item_id=None), ev(1, user_id=None)]})
    assert reply.status_code == 400
    assert [r["index"] for r in reply.json()["rejected"]] == [0, 1]


async def test_duplicate_ids_in_one_batch_and_across_batches_land_once(
    client: httpx.AsyncClient, runtime: CollectorRuntime
) -> None:
    reply = await post(client, {"events": [ev(0), ev(0), ev(1)]})
    assert reply.json() == {"accepted": 2, "duplicates": 1, "rejected": []}
    reply = await post(client, {"events": [ev(1), ev(2)]})
    assert reply.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    assert lake_ids(runtime) == ["m-0", "m-1", "m-2"]


async def test_missing_message_id_gets_a_content_hash_so_retries_dedupe(
    client: httpx.AsyncClient, runtime: CollectorRuntime
) -> None:
    event = ev(0, message_id=None)
    for _ in range(3):
        await post(client, {"events": [event]})
    [only] = lake_ids(runtime)
    assert only.startswith("h-")


@pytest.mark.parametrize(
    ("body", "headers", "status", "needle"),
    [
        (b"{nope", {}, 400, "malformed JSON"),
        (b'{"events": {}}', {}, 400, 'an object with an "events" list'),
        (b"[]", {}, 400, "Expected `object`"),
        (b"", {}, 400, "malformed JSON"),
        (b'{"events": []}', {"Content-Type": "application/xml"}, 415, "not supported"),
        (b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}, 400, "not valid gzip"),
        (b'{"events": []}', {"Content-Encoding": "br"}, 415, "not supported"),
        (b"[" * 100_000 + b"]" * 100_000, {}, 400, "Expected `object`, got `array`"),
        (b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", {}, 400, "JSON"),
    ],
)
async def test_bad_requests_get_a_clear_4xx(
    client: httpx.AsyncClient,
    runtime: CollectorRuntime,
    body: bytes,
    headers: dict[str, str],
    status: int,
    needle: str,
) -> None:
    reply = await post(client, body, headers)
    assert reply.status_code == status
    assert needle in reply.json()["error"]
    assert lake_ids(runtime) == []


async def test_deep_nesting_inside_one_event_is_that_events_problem(
    client: httpx.AsyncClient, runtime: CollectorRuntime
) -> None:
    deep = (
        b'{"type":"custom","name":"x","user_id":"u","properties":{"a":'
        + b"[" * 5000
        + b"]" * 5000
        + b"}}"
    )
    body = b'{"events":[' + msgspec.json.encode(ev(0)) + b"," + deep + b"]}"
    reply = await post(client, body)
    assert reply.status_code in (200, 400)
    if reply.status_code == 200:
        assert reply.json()["accepted"] == 1
        assert "nested" in reply.json()["rejected"][0]["reason"]
    else:
        assert "nested" in reply.json()["error"]


async def test_body_over_the_limit_is_413(settings: Settings, tmp_path: Any) -> None:
    small = settings.model_copy(
        update={
            "collect": settings.collect.model_copy(
                update={"max_body_bytes": 2_000, "max_batch_events": 3}
            )
        }
    )
    runtime = CollectorRuntime(small)
    runtime.start()
    try:
        transport = httpx.ASGITransport(app=create_app(runtime=runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://c") as http:
            big = {"events": [ev(i, properties={"pad": "x" * 800}) for i in range(3)]}
            assert (await post(http, big)).status_code == 413
            bomb = gzip.compress(
                msgspec.json.encode({"events": [ev(0, properties={"z": "0" * 50_000})]})
            )
            reply = await post(http, bomb, {"Content-Encoding": "gzip"})
            assert reply.status_code == 413 and "decompressed" in reply.json()["error"]

            async def stream() -> AsyncIterator[bytes]:
                for _ in range(10):
                    yield b" " * 500

            reply = await http.post("/v1/events", content=stream(), headers={**AUTH, **JSON})
            assert reply.status_code == 413
            many = {"events": [ev(i) for i in range(4)]}
            reply = await post(http, many)
            assert reply.status_code == 413 and "over the limit of 3" in reply.json()["error"]
    finally:
        runtime.stop()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic !!notbase64"},
        {"Authorization": "Basic " + base64.b64encode(b"wrong:").decode()},
        {"Authorization": "Digest abc"},
    ],
)
async def test_without_a_valid_key_nothing_is_stored(
    client: httpx.AsyncClient, runtime: CollectorRuntime, headers: dict[str, str]
) -> None:
    reply = await client.post(
        "/v1/events", content=msgspec.json.encode({"events": [ev(0)]}), headers={**JSON, **headers}
    )
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Basic")
    for path in ("/v1/batch", "/v1/track"):
        body = (
            {"batch": [{"type": "track", "event": "X", "userId": "u"}]}
            if path == "/v1/batch"
            else {"event": "X", "userId": "u"}
        )
        assert (await client.post(path, json=body, headers=headers)).status_code == 401
    assert lake_ids(runtime) == []
    assert list(runtime.quarantine.records()) == []


async def test_basic_auth_and_segment_body_key_are_accepted(
    client: httpx.AsyncClient, runtime: CollectorRuntime
) -> None:
    basic = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}
    assert (
        await client.post("/v1/events", json={"events": [ev(0)]}, headers=basic)
    ).status_code == 200
    body = {
        "writeKey": WRITE_KEY,
        "batch": [
            {
                "type": "track",
                "event": "Product Viewed",
                "userId": "u9",
                "messageId": "s-1",
                "properties": {"product_id": "p1"},
            }
        ],
    }
    reply = await client.post("/v1/batch", json=body)
    assert reply.status_code == 200 and reply.json()["success"] is True
    reply = await client.post(
        "/v1/identify",
        json={"writeKey": WRITE_KEY, "userId": "u9", "messageId": "s-2", "traits": {"plan": "pro"}},
    )
    assert reply.status_code == 200
    assert lake_ids(runtime) == ["m-0", "s-1", "s-2"]


async def test_segment_single_endpoints_imply_the_call_type(
    client: httpx.AsyncClient, runtime: CollectorRuntime
) -> None:
    calls = {
        "/v1/track": {"event": "Signed Up", "userId": "u1", "messageId": "t"},
        "/v1/page": {"name": "Home", "anonymousId": "a1", "messageId": "p"},
        "/v1/screen": {"name": "Feed", "userId": "u1", "messageId": "s"},
        "/v1/identify": {"userId": "u1", "anonymousId": "a1", "messageId": "i"},
        "/v1/alias": {"userId": "u1", "previousId": "a1", "messageId": "a"},
        "/v1/group": {"userId": "u1", "groupId": "g1", "messageId": "g"},
    }
    for path, body in calls.items():
        reply = await client.post(path, json=body, headers=AUTH)
        assert reply.status_code == 200, (path, reply.text)
    runtime.log.flush()
    lake = Lake(runtime.settings.lake_dir)
    rows = dict(lake.events(lake.connect()).project("message_id, type").fetchall())
    assert rows == {
        "t": "custom",
        "p": "page_view",
        "s": "page_view",
        "i": "identify",
        "a": "identify",
        "g": "custom",
    }


async def test_schema_health_and_openapi(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/v1/schema")).json()
    assert "product_view" in schema["discriminator"]["mapping"]
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/events" in spec["paths"] and "ProductView" in spec["components"]["schemas"]


async def test_readyz_is_503_when_stopped(
    client: httpx.AsyncClient, runtime: CollectorRuntime
) -> None:
    runtime.stop()
    assert (await client.get("/readyz")).status_code == 503


@pytest.fixture(scope="module")
def shared_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorRuntime]:
    """One real runtime for the property-based tests (hypothesis runs many examples per test)."""
    data = tmp_path_factory.mktemp("fuzz")
    rt = CollectorRuntime(Settings(data_dir=str(data), write_keys=(WRITE_KEY,)))
    rt.start()
    yield rt
    rt.stop()


@given(body=st.binary(max_size=300))
async def test_random_bytes_never_cause_a_500(
    shared_runtime: CollectorRuntime, body: bytes
) -> None:
    transport = httpx.ASGITransport(app=create_app(runtime=shared_runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as http:
        for path in ("/v1/events", "/v1/batch", "/v1/track"):
            reply = await http.post(path, content=body, headers={**AUTH, **JSON})
            assert reply.status_code < 500


json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
fields = st.fixed_dictionaries(
    {"type": st.sampled_from(["product_view", "purchase", "scroll", "custom", "zzz"])},
    optional={
        "user_id": json_scalars,
        "item_id": json_scalars,
        "name": json_scalars,
        "depth_percent": st.integers(-10, 200),
        "message_id": st.text(max_size=5),
        "timestamp": st.sampled_from(["2026-11-20T10:00:00Z", "bad", "2026-11-20T10:00:00"]),
    },
)


@given(events=st.lists(fields, max_size=8))
async def test_random_batches_are_fully_accounted_for(
    shared_runtime: CollectorRuntime, events: list[dict[str, Any]]
) -> None:
    collector = shared_runtime.collector
    before = collector.accepted_total
    transport = httpx.ASGITransport(app=create_app(runtime=shared_runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as http:
        reply = await post(http, {"events": events})
    assert reply.status_code in (200, 400)
    body = reply.json()
    assert body["accepted"] + body["duplicates"] + len(body["rejected"]) == len(events)
    assert collector.accepted_total - before == body["accepted"]


async def test_odd_shapes_and_headers_never_cause_a_500(
    client: httpx.AsyncClient, runtime: CollectorRuntime
) -> None:
    odd = {
        "type": "track",
        "event": "Product Viewed",
        "userId": "u",
        "messageId": "odd-1",
        "properties": {"product_id": "p"},
        "context": {"device": {"type": []}, "os": []},
    }
    reply = await client.post("/v1/track", json=odd, headers=AUTH)
    assert reply.status_code == 200
    reply = await client.post(
        "/v1/events",
        json={"events": [ev(0)]},
        headers={"Authorization": "Basic \u00e9".encode("latin-1")},
    )
    assert reply.status_code == 401
    packed = gzip.compress(msgspec.json.encode({"events": [ev(1)]})) + b"trailing junk"
    reply = await post(client, packed, {"Content-Encoding": "gzip"})
    assert reply.status_code == 400 and "after the end" in reply.json()["error"]


async def test_a_quarantine_that_cannot_be_written_is_a_503_and_stores_nothing(
    client: httpx.AsyncClient, runtime: CollectorRuntime
) -> None:
    quarantine = Path(runtime.settings.quarantine_dir)
    quarantine.parent.mkdir(parents=True, exist_ok=True)
    quarantine.write_text("a file where the quarantine folder should be")
    reply = await post(client, {"events": [ev(0), ev(1, item_id=None)]})
    assert reply.status_code == 503
    assert lake_ids(runtime) == []
    quarantine.unlink()
    reply = await post(client, {"events": [ev(0), ev(1, item_id=None)]})
    assert reply.status_code == 200 and reply.json()["accepted"] == 1
