"""What the API served: one JSON line per answer, appended to a file per day and process under
``DATA_DIR/feedback/served/`` (``date=YYYY-MM-DD/PROCESS.jsonl``), so that feedback can be
joined to it. A line is one unbuffered append: a crash loses nothing written before it, and
writing costs a request a few microseconds."""

from __future__ import annotations

import json
import os
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from intentflow.recommend.service import Answer


def record(answer: Answer, at: datetime) -> dict[str, Any]:
    """The line kept of an answer."""
    return {
        "rec_id": answer.rec_id,
        "served_at": at.isoformat(),
        "user_id": answer.user_id,
        "strategy": answer.strategy,
        "segment": answer.segment,
        "fallback": answer.fallback is not None,
        "intent": answer.intent,
        "items": [c.item for c in answer.items],
        "sources": [c.source for c in answer.items],
    }


class ServedLog:
    """Appends what was served (see the module's doc)."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self.name = f"{socket.gethostname()}-{os.getpid()}.jsonl"
        self._lock = threading.Lock()
        self._day: str | None = None
        self._fd: int | None = None

    def append(self, answer: Answer, at: datetime | None = None) -> None:
        """Keep one answer."""
        at = at or datetime.now(UTC)
        line = json.dumps(record(answer, at), separators=(",", ":")).encode() + b"\n"
        day = at.date().isoformat()
        with self._lock:
            if day != self._day or self._fd is None:
                self._open(day)
            assert self._fd is not None
            os.write(self._fd, line)

    def _open(self, day: str) -> None:
        if self._fd is not None:
            os.close(self._fd)
        folder = self.directory / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(folder / self.name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._day = day

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
