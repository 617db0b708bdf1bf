"""The embedded item catalog: an append-only file of JSON lines in the data directory, read
into the process.

Every write appends under a file lock (puts are flushed to disk before they return); every read
first takes in what was appended since the last one, by this process or another (an
``intentflow items import`` beside a running server), so the file is the truth and the memory its
replay. Opening it rewrites the file without what later lines replaced, when that is most of it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from intentflow.durable import FileLock, fsync_dir, write_atomic
from intentflow.items.base import ItemStore, Seen
from intentflow.items.model import Item

FILE = "items.jsonl"


class LocalItems(ItemStore):
    """The item catalog in ``directory`` (see the module's doc)."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / FILE
        self._lock = threading.Lock()
        self._file_lock = FileLock(self.directory / ".items.lock")
        self.put: dict[str, Item] = {}
        self.seen: dict[str, Seen] = {}
        self._read_to = 0
        self._inode: int | None = None
        self._lines = 0
        with self._file_lock:
            self._catch_up()
            if self._lines > 1_000 and self._lines > 2 * (len(self.put) + len(self.seen)):
                self._rewrite()

    def _catch_up(self) -> None:
        """Take in the lines appended since the last read (all of them when the file was
        rewritten meanwhile)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return
        if stat.st_ino != self._inode:
            self.put, self.seen, self._read_to, self._lines = {}, {}, 0, 0
            self._inode = stat.st_ino
        if stat.st_size <= self._read_to:
            return
        with open(self.path, "rb") as fh:
            fh.seek(self._read_to)
            data = fh.read(stat.st_size - self._read_to)
        end = data.rfind(b"\n") + 1  # a line being written is read once whole
        for line in data[:end].splitlines():
            self._apply(json.loads(line))
        self._read_to += end

    def _apply(self, entry: dict[str, Any]) -> None:
        self._lines += 1
        if "put" in entry:
            item = Item.model_validate(entry["put"])
            self.put[item.item_id] = item
            self.seen.pop(item.item_id, None)
        else:
            item_id, *data = entry["seen"]
            if item_id not in self.put:
                self.seen[item_id] = Seen.from_list(data)

    def _append(self, entries: list[dict[str, Any]], *, sync: bool) -> None:
        data = b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in entries)
        with self._lock, self._file_lock:
            self._catch_up()
            new = not self.path.exists()
            with open(self.path, "ab") as fh:
                fh.write(data)
                fh.flush()
                if sync:
                    os.fsync(fh.fileno())
            if new and sync:
                fsync_dir(self.directory)
            self._catch_up()

    def _rewrite(self) -> None:
        entries: list[dict[str, Any]] = [{"put": i.to_row()} for i in self.put.values()]
        entries += [{"seen": [k, *s.to_list()]} for k, s in self.seen.items()]
        data = b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in entries)
        write_atomic(self.path, data)
        self.put, self.seen, self._read_to, self._inode, self._lines = {}, {}, 0, None, 0
        self._catch_up()

    def put_many(self, items: Sequence[Item]) -> None:
        if items:
            self._append([{"put": i.to_row()} for i in items], sync=True)

    def write_seen(self, seen: Mapping[str, Seen]) -> None:
        self._append([{"seen": [k, *s.to_list()]} for k, s in seen.items()], sync=False)

    def read(self, ids: Sequence[str]) -> tuple[dict[str, Item], dict[str, Seen]]:
        with self._lock:
            self._catch_up()
            put = {i: self.put[i] for i in ids if i in self.put}
            seen = {i: self.seen[i] for i in ids if i in self.seen and i not in put}
        return put, seen

    def counts(self) -> dict[str, int]:
        with self._lock:
            self._catch_up()
            return {"put": len(self.put), "seen": len(self.seen)}
