"""What the stream tests share: product views as the log holds them, and waiting for a
condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from intentflow.events import event_from_dict, lake_lines


def view_lines(
    first: int,
    count: int,
    *,
    people: int,
    start: datetime,
    step: timedelta = timedelta(seconds=1),
    accepted_after: timedelta | None = None,
) -> bytes:
    """Lake lines of product views ``m{first}``...: view ``n`` is by ``u{n % people}``, of item
    ``n``, at ``start + n * step`` (accepted ``accepted_after`` later when given)."""
    events = []
    for n in range(first, first + count):
        event = {
            "message_id": f"m{n}",
            "type": "product_view",
            "user_id": f"u{n % people}",
            "item_id": str(n),
            "timestamp": start + n * step,
        }
        if accepted_after is not None:
            event["received_at"] = start + n * step + accepted_after
        events.append(event_from_dict(event))
    return lake_lines(events)


def wait_until(condition: Callable[[], bool], seconds: float = 30) -> None:
    """Return once ``condition()`` holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.05)
