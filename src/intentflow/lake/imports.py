"""Which lake files hold the rows of each imported file.

An import names its files ``part-<prefix>-<chunk>.parquet``, where ``<prefix>`` is ``i`` and a key
of the imported file, and records them in ``LAKE/_imports/<prefix>.json``. Importing the same file
again replaces exactly those files. Compaction keeps the record true: it merges an import's files
only with files of the same import, names the result after it, and swaps the merged names for the
result's in the record, so a re-import after compaction still replaces, never duplicates.

>>> origin_of("lake/events/event_date=2026-01-05/part-i0123456789ab-000004.parquet")
'i0123456789ab'
>>> origin_of("lake/events/event_date=2026-01-05/part-wal1-000000000001-000000000000.parquet")
"""

from __future__ import annotations

import json
import posixpath
import re

from intentflow.lake.layout import LakeLayout
from intentflow.lake.writer import LakeWriter

IMPORTS = "_imports"
_ORIGIN = re.compile(r"/part-(i[0-9a-f]{12})-[^/]*\.parquet$")


def origin_of(path: str) -> str | None:
    """The import prefix a lake file belongs to, or ``None`` for files the log or a replay
    wrote."""
    match = _ORIGIN.search(path)
    return match.group(1) if match else None


def manifest_path(layout: LakeLayout, prefix: str) -> str:
    """Where the record of import ``prefix`` lives."""
    return posixpath.join(layout.root, IMPORTS, f"{prefix}.json")


def recorded_files(layout: LakeLayout, prefix: str) -> list[str]:
    """The files import ``prefix`` recorded (none when it never finished)."""
    path = manifest_path(layout, prefix)
    if not layout.fs.exists(path):
        return []
    files: list[str] = json.loads(layout.fs.cat_file(path))["files"]
    return files


def record(layout: LakeLayout, prefix: str, name: str, files: list[str]) -> None:
    """Record that import ``prefix`` of file ``name`` consists of ``files``."""
    path = manifest_path(layout, prefix)
    layout.fs.makedirs(posixpath.dirname(path), exist_ok=True)
    body = json.dumps({"file": name, "files": sorted(files)}).encode()
    LakeWriter(layout).put(path, body)


def replace_recorded(layout: LakeLayout, prefix: str, merged: list[str], output: str) -> None:
    """Swap files merged by compaction for their output in import ``prefix``'s record (safe to
    repeat: recovery does it again after a crash)."""
    path = manifest_path(layout, prefix)
    if not layout.fs.exists(path):
        return
    entry = json.loads(layout.fs.cat_file(path))
    files = set(entry["files"])
    if output in files and not files & set(merged):
        return
    record(layout, prefix, entry["file"], sorted((files - set(merged)) | {output}))
