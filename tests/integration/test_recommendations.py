"""The recommendation API end to end, against ``intentflow serve`` in a subprocess: three kinds
of people routed by a policy file, the item catalog through the API and the import command,
similar items, trending, segments, read keys, and feedback joined to what was served."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from intentflow.cli import app
from tests.conftest import READ, WRITE_KEY
from tests.integration.conftest import ServerProcess
from tests.models import train_online_model
from tests.streams import wait_until

NOW = datetime.now(UTC).replace(microsecond=0)
WRITE = {"Authorization": f"Bearer {WRITE_KEY}"}

POLICY = """
min_events = 2

[strategies]
high_intent = ["cart", "covisitation", "recent", "popular"]

[rules]
blocked_items = ["sku-blocked"]
max_per_category = 2
"""


def _event(person: str, kind: str, item: str, n: int, **more: Any) -> dict[str, Any]:
    return {
        "message_id": f"{person}-{kind}-{item}-{n}",
        "type": kind,
        "user_id": person,
        "item_id": item,
        "category": f"cat-{int(item.split('-')[1]) % 3}" if item[-1].isdigit() else "cat-x",
        "timestamp": (NOW - timedelta(seconds=60 - n)).isoformat(),
        **more,
    }


def _send(server: ServerProcess, events: list[dict[str, Any]]) -> None:
    reply = httpx.post(f"{server.url}/v1/events", json={"events": events}, headers=WRITE)
    assert reply.status_code == 200 and not reply.json()["rejected"], reply.text


def _recs(server: ServerProcess, user: str, **params: Any) -> dict[str, Any]:
    reply = httpx.get(f"{server.url}/v1/recommendations/{user}", params=params, headers=READ)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def _start(tmp_path: Path) -> ServerProcess:
    data = tmp_path / "data"
    train_online_model(data / "models", seed=3, lift=0.9)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    env = {
        "INTENTFLOW_STREAM__SCORE_EVERY_S": "0",
        "INTENTFLOW_RECOMMEND__POLICY": str(policy),
        "INTENTFLOW_RECOMMEND__REFRESH_S": "0.5",
    }
    return ServerProcess(data, env=env).start()


def test_three_kinds_of_people_get_their_strategies_with_rules_and_reasons(
    tmp_path: Path,
) -> None:
    server = _start(tmp_path)
    # a crowd that views sku-1 then sku-2 (and buys it): the lists learn that they go together
    crowd = []
    for n in range(12):
        crowd += [_event(f"crowd{n}", "product_view", "sku-1", n)]
        crowd += [_event(f"crowd{n}", "purchase", "sku-2", n + 1)]
        crowd += [_event(f"crowd{n}", "product_view", "sku-blocked", n + 2)]
    crowd += [_event(f"crowd{n}", "product_view", f"sku-{n + 10}", n) for n in range(6)]
    _send(server, crowd)
    # a buyer with three items in the cart, a browser, and someone new
    _send(server, [_event("buyer", "add_to_cart", "sku-1", n) for n in range(3)])
    _send(server, [_event("browser", "product_view", f"sku-{n + 10}", n) for n in range(3)])

    def learned() -> bool:
        return _recs(server, "stranger", context_item="sku-1")["items"][:1] == [
            {
                "item_id": "sku-2",
                "score": 1.0,
                "source": "context",
                "reason": "often viewed with sku-1",
            }
        ]

    wait_until(learned, seconds=30)
    wait_until(lambda: _recs(server, "buyer")["strategy"] == "high_intent", seconds=10)
    buyer = _recs(server, "buyer", n=5)
    assert buyer["items"][0]["item_id"] == "sku-2" and buyer["items"][0]["source"] == "cart"
    assert buyer["reasons"][0].startswith("high intent:") and buyer["intent"] > 0.5
    assert "sku-blocked" not in [i["item_id"] for i in buyer["items"]]
    browser = _recs(server, "browser", n=5)
    assert browser["strategy"] == "casual" and browser["reasons"][0].startswith("casual: intent")
    categories = [i["reason"] for i in browser["items"]]
    assert categories and all(r.startswith(("trending", "popular")) for r in categories)
    new = _recs(server, "nobody-yet", n=3)
    assert new["strategy"] == "sparse" and new["reasons"] == ["no events of this person yet"]
    assert [i["item_id"] for i in new["items"]][:1] == ["sku-2"]  # bought the most
    # the policy's diversity holds: at most two of a category
    wide = _recs(server, "nobody-yet", n=20)
    per: dict[str, int] = {}
    for item in wide["items"]:
        category = f"cat-{int(item['item_id'].split('-')[1]) % 3}"
        per[category] = per.get(category, 0) + 1
    assert per and max(per.values()) <= 2 and wide["rules"].get("max_per_category", 0) > 0
    # the fast path and the documented route (which an unknown parameter reaches) agree
    fast, routed = _recs(server, "buyer", n=4), _recs(server, "buyer", n=4, unknown=1)
    assert fast.pop("rec_id") != routed.pop("rec_id") and fast == routed
    # filters, exclusions and what empties an answer
    cheap = _recs(server, "nobody-yet", filter="price<1")
    assert cheap["items"] == [] and "request_filter removed" in cheap["detail"]
    assert "sku-2" not in [i["item_id"] for i in _recs(server, "buyer", exclude="sku-2")["items"]]
    assert server.terminate() == 0


def test_bad_requests_get_4xx_with_reasons_and_keys_are_checked(tmp_path: Path) -> None:
    server = _start(tmp_path)
    url = f"{server.url}/v1/recommendations/someone"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer nope"}).json() == {
        "error": "wrong read key"
    }
    assert httpx.get(url, headers=WRITE).status_code == 401  # a write key does not read
    for params, reason in [
        ({"n": 0}, "invalid request"),
        ({"n": 101}, "invalid request"),
        ({"filter": "colour=red"}, "unknown field 'colour'"),
        ({"filter": "price<<3"}, "not a number"),
    ]:
        reply = httpx.get(url, params=params, headers=READ)
        assert reply.status_code == 422 and reason in reply.text, reply.text
    item = {"category_path": ["shoes", "running"], "price": 80, "tags": ["promotion"]}
    put = httpx.put(f"{server.url}/v1/items/sku-9", json=item, headers=READ)
    assert put.status_code == 401  # a read key does not write
    bad = httpx.put(f"{server.url}/v1/items/sku-9", json={"price": -1}, headers=WRITE)
    assert bad.status_code == 422
    put = httpx.put(f"{server.url}/v1/items/sku-9", json=item, headers=WRITE)
    assert put.status_code == 200 and put.json()["seen_only"] is False
    got = httpx.get(f"{server.url}/v1/items/sku-9", headers=READ).json()
    assert got["category_path"] == ["shoes", "running"] and got["price"] == 80
    unknown = httpx.get(f"{server.url}/v1/items/nothing/similar", headers=READ)
    assert unknown.status_code == 404 and "unknown item" in unknown.json()["error"]
    similar = httpx.get(f"{server.url}/v1/items/sku-9/similar", headers=READ)
    assert similar.status_code == 200 and similar.json()["items"] == []
    assert similar.json()["detail"] is not None
    segment = httpx.get(f"{server.url}/v1/users/nobody/segment", headers=READ)
    assert segment.status_code == 404
    trending = httpx.get(f"{server.url}/v1/trending", params={"window": "2h"}, headers=READ)
    assert trending.status_code == 422
    assert server.terminate() == 0


def test_imported_items_reach_a_running_server_and_feedback_joins_what_was_served(
    tmp_path: Path,
) -> None:
    server = _start(tmp_path)
    env = {"INTENTFLOW_DATA_DIR": str(server.data_dir)}
    source = tmp_path / "items.csv"
    source.write_text(
        "item_id,category_path,price,in_stock,tags\n"
        "sku-1,shoes > running,80,true,promotion|new\n"
        "sku-2,shoes > trail,-5,true,\n"
        "sku-3,bags,20,false,\n"
    )
    result = CliRunner().invoke(app, ["items", "import", str(source), "--json"], env=env)
    assert result.exit_code == 2, result.output  # one row was rejected, the others kept
    done = json.loads(result.stdout.strip().splitlines()[-1])
    assert (done["rows"], done["put"], done["rejected"]) == (3, 2, 1)
    assert done["first_rejected"][0]["row"] == 2 and "price" in done["first_rejected"][0]["reason"]
    got = httpx.get(f"{server.url}/v1/items/sku-3", headers=READ).json()
    assert (got["category_path"], got["in_stock"]) == (["bags"], False)

    _send(server, [_event(f"p{n}", "product_view", f"sku-{n % 4 + 1}", n) for n in range(16)])
    wait_until(lambda: len(_recs(server, "nobody", n=2)["items"]) == 2, seconds=30)
    answers = [_recs(server, "nobody", n=2) for _ in range(4)]
    assert all("sku-3" not in [i["item_id"] for i in a["items"]] for a in answers)  # no stock
    first, second = answers[0], answers[1]
    shown = first["items"][0]["item_id"]
    feedback = [
        {"type": "custom", "name": "impression", "properties": {"rec_id": first["rec_id"]}},
        {"type": "custom", "name": "impression", "properties": {"rec_id": second["rec_id"]}},
        {"type": "click", "item_id": shown, "properties": {"rec_id": first["rec_id"]}},
        {"type": "click", "item_id": "not-shown", "properties": {"rec_id": second["rec_id"]}},
        {"type": "purchase", "item_id": shown, "properties": {"rec_id": first["rec_id"]}},
    ]
    for n, event in enumerate(feedback):
        event.update({"message_id": f"fb{n}", "user_id": "nobody", "timestamp": NOW.isoformat()})
    _send(server, feedback)
    assert server.terminate() == 0  # the log is flushed into the lake
    result = CliRunner().invoke(app, ["report", "recs", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["shown_by"] == "impressions"
    sparse = next(r for r in report["strategy"] if r["key"] == "sparse")
    assert sparse["impressions"] == 2 and sparse["clicks"] == 1 and sparse["conversions"] == 1
    assert sparse["ctr"] == 0.5 and sparse["conversion"] == 0.5
    assert sparse["served"] >= 4
