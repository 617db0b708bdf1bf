"""Remembers recent message ids so that a retried delivery lands once.

Ids are kept for a time window and up to a count, whichever is reached first; the oldest are
forgotten first.

>>> seen = RecentIds(max_ids=3, window_s=60)
>>> seen.add("a", now=0.0), seen.add("a", now=1.0), seen.add("b", now=1.0)
(True, False, True)
>>> "a" in seen
True
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class RecentIds:
    """A bounded, time-windowed set of message ids."""

    def __init__(self, *, max_ids: int, window_s: float):
        self.max_ids = max_ids
        self.window_s = window_s
        # id -> when it was added. Flat deques of ids and times (not (time, id) tuples: strings
        # and floats are not tracked by the garbage collector, tuples are, and millions of them
        # make full collections pause the event loop).
        self._ids: dict[str, float] = {}
        self._order: deque[str] = deque()
        self._times: deque[float] = deque()
        self._adds = 0

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, message_id: str, *, now: float) -> bool:
        """Remember ``message_id``; False when it was already known."""
        if message_id in self._ids:
            return False
        self._ids[message_id] = now
        self._order.append(message_id)
        self._times.append(now)
        self._adds += 1
        if self._adds & 255 == 0 or len(self._order) > self.max_ids:
            self._expire(now)
        return True

    def add_many(self, message_ids: Iterable[str], *, now: float) -> None:
        """Remember ids recovered from the log or the lake, oldest first."""
        for message_id in message_ids:
            if message_id not in self._ids:
                self._ids[message_id] = now
                self._order.append(message_id)
                self._times.append(now)
        self._expire(now)

    def discard(self, message_ids: Iterable[str]) -> None:
        """Forget ids whose events were not stored after all (the append failed)."""
        for message_id in message_ids:
            self._ids.pop(message_id, None)

    def _expire(self, now: float) -> None:
        order, times, ids = self._order, self._times, self._ids
        horizon = now - self.window_s
        while order and (len(order) > self.max_ids or times[0] < horizon):
            old, added = order.popleft(), times.popleft()
            if ids.get(old) == added:  # not an entry left behind by a discard and re-add
                del ids[old]
