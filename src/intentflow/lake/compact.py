"""Merging a partition's small files, without loss or duplicates, crash or not.

A compaction of one partition writes a journal naming its inputs and its output before it touches
anything, then the output (staged, then renamed), then deletes the inputs, then the journal.
Recovery reads leftover journals: if the output is in place the inputs are deleted (roll
forward), otherwise the staged output is deleted (roll back). Readers skip the inputs of a journal
whose output is in place, so they never count a row twice.

An import's files merge only with files of the same import, and the import's record names the
output instead of the inputs (:mod:`intentflow.lake.imports`), so that importing the same file
again still replaces its rows.
"""

from __future__ import annotations

import json
import posixpath
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from intentflow.durable import FileLock
from intentflow.lake import imports
from intentflow.lake.layout import LakeLayout, partition_of
from intentflow.lake.reader import Lake
from intentflow.lake.writer import LakeWriter


def recover(layout: LakeLayout) -> int:
    """Finish or undo compactions a crash interrupted; returns how many journals were resolved."""
    fs = layout.fs
    resolved = 0
    for journal in fs.glob(posixpath.join(layout.journal_dir, "compact-*.json")):
        entry = json.loads(fs.cat_file(journal))
        if fs.exists(entry["output"]):
            if entry.get("origin"):
                imports.replace_recorded(layout, entry["origin"], entry["inputs"], entry["output"])
            for path in entry["inputs"]:
                if fs.exists(path):
                    fs.rm(path)
        elif fs.exists(entry["staged"]):
            fs.rm(entry["staged"])
        fs.rm(journal)
        resolved += 1
    return resolved


def compact(
    lake: Lake, *, target_bytes: int, compression: str = "zstd", date: str | None = None
) -> list[dict[str, Any]]:
    """Merge each partition's files smaller than ``target_bytes``; returns one report per merge."""
    try:
        with rewrite_lock(lake.layout, timeout=0):
            return _compact(lake, target_bytes, compression, date)
    except TimeoutError:
        raise RuntimeError("a compaction or an import of this lake is running") from None


@contextmanager
def rewrite_lock(layout: LakeLayout, *, timeout: float | None = None) -> Iterator[None]:
    """Held by a compaction, and by an import, of a local lake: a second compaction would resolve
    the first one's journals, and a compaction during an import would merge files the import has
    not recorded yet. (A lake on an object store has no such lock: run one at a time.)"""
    if not layout.is_local:
        yield
        return
    Path(layout.journal_dir).mkdir(parents=True, exist_ok=True)
    lock = FileLock(Path(layout.journal_dir) / "compact.lock").acquire(timeout=timeout)
    try:
        yield
    finally:
        lock.release()


def _compact(
    lake: Lake, target_bytes: int, compression: str, date: str | None
) -> list[dict[str, Any]]:
    layout = lake.layout
    fs = layout.fs
    recover(layout)
    by_partition: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in lake.files():
        day = partition_of(path)
        if (date is None or day == date) and int(fs.info(path)["size"]) < target_bytes:
            by_partition[day, imports.origin_of(path) or ""].append(path)
    writer = LakeWriter(layout, compression=compression)
    reports = []
    for (day, origin), paths in sorted(by_partition.items()):
        for group in _groups(fs, paths, target_bytes):
            if len(group) > 1:
                reports.append(_merge(layout, writer, day, group, origin))
    return reports


def _groups(fs: Any, paths: list[str], target_bytes: int) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    size = 0
    for path in paths:
        file_size = int(fs.info(path)["size"])
        if groups[-1] and size + file_size > target_bytes:
            groups.append([])
            size = 0
        groups[-1].append(path)
        size += file_size
    return groups


def _merge(
    layout: LakeLayout, writer: LakeWriter, day: str, inputs: list[str], origin: str
) -> dict[str, Any]:
    fs = layout.fs
    merge_id = f"c-{uuid.uuid4().hex[:12]}"
    name = f"{origin}-{merge_id}" if origin else merge_id
    staged, output = layout.staged_path(day, name), layout.final_path(day, name)
    journal = posixpath.join(layout.journal_dir, f"compact-{merge_id}.json")
    fs.makedirs(layout.journal_dir, exist_ok=True)
    entry = {"inputs": inputs, "staged": staged, "output": output, "origin": origin}
    writer.put(journal, json.dumps(entry).encode())
    tables = []
    for path in inputs:
        with fs.open(path, "rb") as fh:
            tables.append(pq.read_table(fh))
    merged = pa.concat_tables(tables, promote_options="default").sort_by("timestamp")
    rows_in = merged.num_rows
    renames = writer.stage_partition(merged, day, name)
    writer.publish(renames)
    if origin:
        imports.replace_recorded(layout, origin, inputs, output)
    for path in inputs:
        fs.rm(path)
    fs.rm(journal)
    return {"date": day, "inputs": len(inputs), "rows": rows_in, "output": output}
