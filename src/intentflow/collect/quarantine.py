"""Rejected events with their raw payload and the exact reason, kept for inspection and replay.

Records are appended durably to JSON-lines files in ``DATA_DIR/quarantine/``, one file per process
and day, so the folder is also readable by DuckDB or ``jq``. Replaying removes what was fixed.
"""

from __future__ import annotations

import base64
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

import msgspec

from intentflow.durable import FileLock, fsync_dir, write_atomic

Format = Literal["native", "segment"]


class QuarantineRecord(msgspec.Struct, kw_only=True):
    """One rejected event."""

    id: str
    quarantined_at: datetime
    source: str
    """Where it came from: ``api``, ``segment``, ``import:taobao``..."""
    format: Format
    """How to read ``raw``: a native event or a Segment message."""
    index: int
    """Its position in the request or file."""
    reason: str
    raw: str
    """The payload as received (UTF-8 text, or base64 when ``raw_base64``)."""
    raw_base64: bool = False

    def payload(self) -> bytes:
        """The original bytes."""
        return base64.b64decode(self.raw) if self.raw_base64 else self.raw.encode()


def make_record(
    raw: bytes,
    *,
    reason: str,
    source: str,
    fmt: Format,
    index: int,
    at: datetime,
    record_id: str | None = None,
) -> QuarantineRecord:
    """Build a record, keeping bytes that are not UTF-8 exactly (as base64)."""
    try:
        text, is_b64 = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_b64 = base64.b64encode(raw).decode(), True
    return QuarantineRecord(
        id=record_id or uuid.uuid4().hex,
        quarantined_at=at,
        source=source,
        format=fmt,
        index=index,
        reason=reason,
        raw=text,
        raw_base64=is_b64,
    )


class QuarantineStore:
    """Append-only quarantine files with list and remove."""

    def __init__(self, directory: str | os.PathLike[str], *, fsync: bool = True):
        self.directory = Path(directory)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._decoder = msgspec.json.Decoder(QuarantineRecord)

    def append(self, records: Iterable[QuarantineRecord]) -> int:
        """Write records durably; returns how many."""
        data = b"".join(msgspec.json.encode(r) + b"\n" for r in records)
        if not data:
            return 0
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"q-{datetime.now().strftime('%Y%m%d')}-{os.getpid()}.jsonl"
        with self._lock, self._shared():
            new = not path.exists()
            with open(path, "ab") as fh:
                fh.write(data)
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
            if new and self.fsync:
                fsync_dir(self.directory)
        return data.count(b"\n")

    def files(self) -> list[Path]:
        """Quarantine files, oldest first."""
        return sorted(self.directory.glob("q-*.jsonl")) if self.directory.exists() else []

    def _shared(self) -> FileLock:
        """The lock every process takes to append to or rewrite the quarantine."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return FileLock(self.directory / ".lock")

    def _decode(self, line: bytes) -> QuarantineRecord | None:
        try:
            return self._decoder.decode(line)
        except msgspec.MsgspecError:  # a torn last line of a crashed append
            return None

    def records(self) -> Iterator[QuarantineRecord]:
        """Every record, oldest first (a torn line is skipped)."""
        for path in self.files():
            with open(path, "rb") as fh:
                for line in fh:
                    record = self._decode(line) if line.strip() else None
                    if record is not None:
                        yield record

    def remove(self, ids: Iterable[str]) -> int:
        """Delete records by id; returns how many were removed."""
        drop = set(ids)
        removed = 0
        with self._lock:
            for path in self.files():
                lines = path.read_bytes().splitlines(keepends=True)
                keep = [
                    ln for ln in lines if ln.strip() and self._decoder.decode(ln).id not in drop
                ]
                gone = sum(1 for ln in lines if ln.strip()) - len(keep)
                if gone:
                    removed += gone
                    if keep:
                        write_atomic(path, b"".join(keep), fsync=self.fsync)
                    else:
                        path.unlink()
        return removed

    def remove_prefix(self, prefix: str) -> int:
        """Delete records whose id starts with ``prefix`` (an import's earlier rejections)."""
        ids = [r.id for r in self.records() if r.id.startswith(prefix)]
        return self.remove(ids) if ids else 0

    def update(self, records: Iterable[QuarantineRecord]) -> int:
        """Rewrite records in place by id (a replay that failed again records the new reason)."""
        changed = {r.id: r for r in records}
        updated = 0
        with self._lock, self._shared():
            for path in self.files():
                lines = path.read_bytes().splitlines(keepends=True)
                hit = False
                for i, line in enumerate(lines):
                    record = self._decode(line) if line.strip() else None
                    if record is None:
                        continue
                    record_id = record.id
                    if record_id in changed:
                        lines[i] = msgspec.json.encode(changed[record_id]) + b"\n"
                        hit = True
                        updated += 1
                if hit:
                    write_atomic(path, b"".join(lines), fsync=self.fsync)
        return updated
