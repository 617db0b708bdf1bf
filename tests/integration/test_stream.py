"""The stream inside ``intentflow serve``: events accepted by the collector reach people's online
state and intent scores within seconds, and a ``kill -9`` with the Redis state counts every
accepted event once."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from intentflow.cli import app
from intentflow.features.kinds import MICROS
from intentflow.features.online import Catalog, online_features
from intentflow.state.redis import RedisStore
from tests.conftest import READ, WRITE_KEY
from tests.integration.conftest import ServerProcess
from tests.integration.test_crash_recovery import Client
from tests.models import train_online_model
from tests.streams import wait_until

NOW = datetime.now(UTC).replace(microsecond=0)


def _event(person: str, kind: str, n: int, at: datetime = NOW) -> dict[str, Any]:
    return {
        "message_id": f"{person}-{kind}-{n}",
        "type": kind,
        "user_id": person,
        "item_id": f"sku-{n}",
        "timestamp": at.isoformat(),
    }


def _intent(server: ServerProcess, person: str, ready: str = "score") -> dict[str, Any]:
    """The person's intent, once its ``ready`` field is set (10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        reply = httpx.get(f"{server.url}/v1/users/{person}/intent", headers=READ)
        if reply.status_code == 200 and reply.json()[ready] is not None:
            return reply.json()  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, reply.text
        time.sleep(0.05)


def test_people_are_scored_within_seconds_of_their_events(tmp_path: Path) -> None:
    data = tmp_path / "data"
    train_online_model(data / "models", seed=3, lift=0.9)
    server = ServerProcess(data, env={"INTENTFLOW_STREAM__SCORE_EVERY_S": "0"}).start()
    assert httpx.get(f"{server.url}/v1/users/nobody/intent", headers=READ).status_code == 404
    events = [_event("browser", "product_view", 1)]
    events += [_event("buyer", "product_view", n) for n in range(3)]
    events += [_event("buyer", "add_to_cart", n) for n in range(3)]
    sent = httpx.post(f"{server.url}/v1/events", json={"events": events}, auth=(WRITE_KEY, ""))
    assert sent.status_code == 200
    browser, buyer = _intent(server, "browser"), _intent(server, "buyer")
    assert buyer["score"] > browser["score"]
    assert (buyer["class"], browser["class"]) == ("high_intent", "casual")
    assert buyer["reasons"] and any("cart" in reason for reason in buyer["reasons"])
    scored_at = datetime.fromisoformat(buyer["scored_at"])
    assert abs(scored_at - datetime.now(UTC)) < timedelta(minutes=1)
    # browsing anonymously, then logging in: the anonymous id answers with the user's score
    views = [{**_event("anon-9", "product_view", n), "user_id": None} for n in range(2)]
    for view in views:
        view["anonymous_id"] = "anon-9"
    login = {**_event("carol", "add_to_cart", 1), "anonymous_id": "anon-9"}
    for batch in (views, [login]):
        sent = httpx.post(f"{server.url}/v1/events", json={"events": batch}, auth=(WRITE_KEY, ""))
        assert sent.status_code == 200
        _intent(server, batch[-1]["user_id"] or "anon-9")
    wait_until(lambda: _intent(server, "anon-9")["user_id"] == "carol", seconds=10)
    assert _intent(server, "carol")["score"] >= _intent(server, "browser")["score"]
    assert server.terminate() == 0


def test_the_status_command_counts_what_the_stream_has_not_applied(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # the stream ran once (it leaves its hold), then the server runs without it
    ServerProcess(data).start().terminate()
    server = ServerProcess(data, env={"INTENTFLOW_STREAM__ENABLED": "false"}).start()
    events = [_event(f"p{n}", "product_view", n) for n in range(25)]
    sent = httpx.post(f"{server.url}/v1/events", json={"events": events}, auth=(WRITE_KEY, ""))
    assert sent.status_code == 200
    assert server.terminate() == 0
    env = {"INTENTFLOW_DATA_DIR": str(data)}
    result = CliRunner().invoke(app, ["stream", "status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    found = result.stdout.strip().splitlines()[-1]
    status = json.loads(found)
    assert status["events_behind"] == 25 and status["oldest_unprocessed_age_s"] >= 0
    server = ServerProcess(data).start()  # the stream catches up from its hold

    def behind() -> int:
        result = CliRunner().invoke(app, ["stream", "status", "--json"], env=env)
        return int(json.loads(result.stdout.strip().splitlines()[-1])["events_behind"])

    wait_until(lambda: behind() == 0, seconds=10)
    assert httpx.get(f"{server.url}/v1/users/p7/intent", headers=READ).status_code == 200
    server.terminate()


@pytest.mark.parametrize("seed", [4])
def test_sigkill_with_redis_state_counts_each_accepted_event_once(
    tmp_path: Path, redis_url: str, seed: int
) -> None:
    rng = random.Random(seed)
    namespace = f"kill{seed}"
    env = {
        "INTENTFLOW_STATE": "redis",
        "INTENTFLOW_REDIS_URL": redis_url,
        "INTENTFLOW_ONLINE__NAMESPACE": namespace,
        "INTENTFLOW_FLUSH__MAX_AGE_S": "0.05",
        "INTENTFLOW_STREAM__MAX_BATCH_EVENTS": "300",
    }
    server = ServerProcess(tmp_path / "data", env=env).start()
    target = [server.url]
    clients = [Client(f"k{seed}{n}", batches=30, target=target) for n in range(3)]
    for client in clients:
        client.start()
    for _ in range(2):
        time.sleep(rng.uniform(0.3, 1.0))
        server.kill()
        server = ServerProcess(tmp_path / "data", env=env, port=server.port).start()
    for client in clients:
        client.join(timeout=120)
        assert not client.is_alive()
    want = Counter(_person(mid) for client in clients for mid in client.acked)
    assert sum(want.values()) == 3 * 30 * 100
    store = RedisStore(redis_url, Catalog.of(online_features()), namespace=namespace, ttl_s=3600)
    cutoff_us = int(datetime(2026, 11, 20, 10, 0, 1, tzinfo=UTC).timestamp() * MICROS)
    deadline = time.monotonic() + 30
    while True:  # the restarted stream catches up with its backlog
        held = store.get_many(list(want))
        counts = Counter({p: s.values(cutoff_us)["product_views_15m"] for p, s in held.items()})
        if counts == want or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert counts == want
    store.close()
    server.terminate()


def _person(message_id: str) -> str:
    client, _, index = message_id.split("-")
    return f"{client}-u{int(index) % 9}"
