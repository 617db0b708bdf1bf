"""Merging a partition's small files, without loss or duplicates, crash or not.

A compaction of one partition writes a journal naming its inputs and its output before it touches
anything, then the output (staged, then renamed), then deletes the inputs, then the journal.
Recovery reads leftover journals: if the output is in place the inputs are deleted (roll
forward), otherwise the staged output is deleted (roll back). Readers skip the inputs of a journal
whose output is in place, so they never count a row twice.
"""

from __future__ import annotations

import json
import posixpath
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from intentflow.durable import FileLock
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
    layout = lake.layout
    if layout.is_local:
        # one compaction at a time: a second one would resolve the first one's journals
        Path(layout.journal_dir).mkdir(parents=True, exist_ok=True)
        lock = FileLock(Path(layout.journal_dir) / "compact.lock")
        try:
            lock.acquire(timeout=0)
        except TimeoutError:
            raise RuntimeError("another compaction of this lake is running") from None
        try:
            return _compact(lake, target_bytes, compression, date)
        finally:
            lock.release()
    return _compact(lake, target_bytes, compression, date)


def _compact(
    lake: Lake, target_bytes: int, compression: str, date: str | None
) -> list[dict[str, Any]]:
    layout = lake.layout
    fs = layout.fs
    recover(layout)
    by_partition: dict[str, list[str]] = defaultdict(list)
    for path in lake.files():
        day = partition_of(path)
        if (date is None or day == date) and int(fs.info(path)["size"]) < target_bytes:
            by_partition[day].append(path)
    writer = LakeWriter(layout, compression=compression)
    reports = []
    for day, paths in sorted(by_partition.items()):
        for group in _groups(fs, paths, target_bytes):
            if len(group) > 1:
                reports.append(_merge(layout, writer, day, group))
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


def _merge(layout: LakeLayout, writer: LakeWriter, day: str, inputs: list[str]) -> dict[str, Any]:
    fs = layout.fs
    name = f"c-{uuid.uuid4().hex[:12]}"
    staged, output = layout.staged_path(day, name), layout.final_path(day, name)
    journal = posixpath.join(layout.journal_dir, f"compact-{name}.json")
    fs.makedirs(layout.journal_dir, exist_ok=True)
    entry = {"inputs": inputs, "staged": staged, "output": output}
    writer.put(journal, json.dumps(entry).encode())
    tables = []
    for path in inputs:
        with fs.open(path, "rb") as fh:
            tables.append(pq.read_table(fh))
    merged = pa.concat_tables(tables, promote_options="default").sort_by("timestamp")
    rows_in = merged.num_rows
    renames = writer.stage_partition(merged, day, name)
    writer.publish(renames)
    for path in inputs:
        fs.rm(path)
    fs.rm(journal)
    return {"date": day, "inputs": len(inputs), "rows": rows_in, "output": output}
