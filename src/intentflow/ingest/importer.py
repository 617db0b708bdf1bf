"""``intentflow ingest``: load a file into the lake through the collector's validation.

The file is read in chunks of a fixed number of rows. Each chunk is mapped to event fields,
validated row by row with the collector's :class:`~intentflow.collect.validate.Validator`, its bad
rows quarantined with their reasons, and its good rows written to the lake as one atomic file per
date. Memory stays bounded by the chunk size whatever the file size.

Re-running an import is safe: a row's message id and a chunk's file names derive from the file
name, its size and the row number, so a second run replaces the same files with the same rows.
Chunks are processed by a pool of worker processes, one per core.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from intentflow.collect.quarantine import QuarantineStore, make_record
from intentflow.collect.validate import Validator, now_utc
from intentflow.config import Settings
from intentflow.events import Event, lake_lines
from intentflow.ingest.columns import lake_table
from intentflow.ingest.presets import PRESETS, Format, Mapping, Preset, seconds_to_timestamp
from intentflow.ingest.readers import (
    Chunk,
    bytes_per_row,
    read_csv_chunks,
    read_line_spans,
    read_parquet_chunks,
)
from intentflow.lake import imports
from intentflow.lake.compact import rewrite_lock
from intentflow.lake.layout import LakeLayout
from intentflow.lake.writer import LakeWriter, LineParser

CHUNK_ROWS = 100_000
"""Most rows in one chunk (and one lake file per date): bounds the memory of each worker."""


def chunk_rows_for(path: Path, workers: int) -> int:
    """Rows per chunk: :data:`CHUNK_ROWS` for large files, fewer for small ones so that every
    worker gets a share (at least two chunks each), never under 10,000."""
    rows = int(path.stat().st_size / bytes_per_row(path))
    return max(10_000, min(CHUNK_ROWS, -(-rows // (2 * max(1, workers)))))


@dataclass
class ImportReport:
    """What an import did."""

    path: str
    source: str
    rows: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    files: int = 0
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)
    """Most common rejection reasons with their counts."""

    @property
    def events_per_s(self) -> float:
        """Rows processed per second."""
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class ImportJob:
    """Everything a worker needs to process chunks of one file."""

    settings: Settings
    source: str
    id_prefix: str
    mapping: Mapping | None
    received_at: datetime


@dataclass
class ChunkResult:
    """One chunk's outcome."""

    rows: int
    accepted: int
    duplicates: int
    rejected: list[tuple[int, str, bytes]]
    """``(row within the chunk, reason, payload)`` of each refused row."""
    files: list[str]


def file_key(path: Path) -> str:
    """A short key for a file from its name, size, first and last 64 KiB: ids and lake names
    derive from it, so the same file imported again replaces its own rows."""
    size = path.stat().st_size
    digest = hashlib.blake2b(f"{path.name}:{size}".encode(), digest_size=6)
    with open(path, "rb") as fh:
        digest.update(fh.read(1 << 16))
        fh.seek(max(0, size - (1 << 16)))
        digest.update(fh.read(1 << 16))
    return digest.hexdigest()


def process_chunk(job: ImportJob, chunk: Chunk, parser: LineParser | None = None) -> ChunkResult:
    """Validate one chunk and write its good rows to the lake; returns counts and rejections.
    Native lines are parsed with ``parser`` (by default the worker's own)."""
    validator = Validator(job.settings.collect)
    raws: list[Any]
    mapped: pa.Table | None = None
    if chunk.span is not None:
        raws = chunk.span.lines()
        checked = validator.validate_many(raws, received_at=job.received_at, source=job.source)
    else:
        assert job.mapping is not None
        mapped = mapped_chunk(job.mapping, chunk, job.id_prefix)
        raws = mapped.to_pylist()
        checked = validator.validate_rows(raws, received_at=job.received_at, source=job.source)
    events: list[Event] = []
    kept: list[int] = []
    rejected: list[tuple[int, str, bytes]] = []
    seen: set[str] = set()
    duplicates = 0
    for offset, (raw, item) in enumerate(zip(raws, checked, strict=True)):
        if isinstance(item, str):
            payload = raw if isinstance(raw, bytes) else _json(raw)
            rejected.append((offset, item, payload))
        elif item.message_id in seen:
            duplicates += 1
        else:
            seen.add(item.message_id)  # type: ignore[arg-type]
            events.append(item)
            kept.append(offset)
    if mapped is not None:
        table = lake_table(mapped.take(pa.array(kept, pa.int64())), events)
    else:
        table = (parser or _worker_parser()).parse(lake_lines(events))
    writer = LakeWriter.from_settings(job.settings, fsync=False)
    files = writer.write(table, f"{job.id_prefix}-{chunk.index:06d}")
    return ChunkResult(len(raws), len(events), duplicates, rejected, files)


def mapped_chunk(mapping: Mapping, chunk: Chunk, prefix: str) -> pa.Table:
    """A tabular chunk under event field names, with ``PREFIX:ROW`` ids where none is mapped."""
    assert chunk.table is not None
    mapped = mapping.apply(chunk.table)
    if "message_id" not in mapped.column_names:
        mapped = mapped.append_column("message_id", row_ids(prefix, chunk))
    return mapped


def row_ids(prefix: str, chunk: Chunk) -> pa.Array:
    """``PREFIX:ROW`` message ids for the rows of a chunk."""
    numbers = pa.array(range(chunk.first_row, chunk.first_row + len(chunk)), pa.int64())
    return pc.binary_join_element_wise(prefix + ":", pc.cast(numbers, pa.string()), "")


def _json(row: dict[str, Any]) -> bytes:
    import msgspec

    return msgspec.json.encode(row)


def chunks_of(
    path: Path, fmt: Format, preset: Preset | None, rows: int, mapping: Mapping | None = None
) -> Iterator[Chunk]:
    """The file's chunks, read the way its format or preset says; a CSV's columns that the
    mapping reads as text are read as text (the reader would guess types from the first block
    only, and fail on a later id that does not look like the first ones)."""
    if fmt == "jsonl":
        return read_line_spans(path, rows)
    if fmt == "parquet":
        return read_parquet_chunks(path, rows)
    if fmt == "csv":
        import dataclasses

        from intentflow.ingest.presets import CsvOptions

        options = preset.csv if preset else CsvOptions()
        text = {
            c: pa.string()
            for c in (mapping.text_columns() if mapping else ())
            if c not in options.column_types
        }
        if text:
            options = dataclasses.replace(options, column_types={**options.column_types, **text})
        return read_csv_chunks(path, options, rows)
    raise ValueError(f"unsupported format {fmt!r}")


def import_file(
    path: str | os.PathLike[str],
    settings: Settings,
    *,
    fmt: Format | None = None,
    preset: str | None = None,
    mapping: Mapping | None = None,
    chunk_rows: int | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import one file; ``progress(bytes_read, rows)`` is called after each chunk."""
    import time

    file = Path(path)
    chosen, fmt, mapping = _resolve(file, fmt, preset, mapping)
    if fmt != "jsonl" and mapping is None:
        raise ValueError(f"a {fmt} file needs a preset or a column mapping")
    if fmt == "jsonl" and mapping is not None:
        raise ValueError("JSON-lines files hold native events; a column mapping does not apply")
    source = f"import:{preset or fmt}"
    key = file_key(file)
    job = ImportJob(settings, source, f"i{key}", mapping, now_utc())
    report = ImportReport(str(file), source)
    quarantine = QuarantineStore(settings.quarantine_dir)
    quarantine.remove_prefix(job.id_prefix + ":")  # a re-import reports its rejections afresh
    started = time.perf_counter()
    pool = workers or os.cpu_count() or 1
    rows = chunk_rows or chunk_rows_for(file, pool)
    layout = LakeLayout(settings.lake_dir, settings.lake.storage_options)
    with rewrite_lock(layout):
        written: list[str] = []
        for chunk, result in _run(job, chunks_of(file, fmt, chosen, rows, mapping), pool):
            written.extend(result.files)
            _tally(report, result, quarantine, job)
            if progress is not None:
                progress(chunk.bytes_read, report.rows)
        if layout.is_local:
            os.sync()
        replace_manifest(layout, job.id_prefix, file.name, written)
    report.seconds = time.perf_counter() - started
    report.reasons = dict(sorted(report.reasons.items(), key=lambda kv: -kv[1])[:10])
    return report


def _tally(
    report: ImportReport, result: ChunkResult, quarantine: QuarantineStore, job: ImportJob
) -> None:
    """Add a chunk's counts to the report and quarantine its rejected rows under their row
    numbers in the file."""
    first_row = report.rows
    report.rows += result.rows
    report.accepted += result.accepted
    report.duplicates += result.duplicates
    report.files += len(result.files)
    if not result.rejected:
        return
    report.quarantined += quarantine.append(
        make_record(
            payload,
            reason=reason,
            source=job.source,
            fmt="native",
            index=first_row + offset,
            at=job.received_at,
            record_id=f"{job.id_prefix}:{first_row + offset}",
        )
        for offset, reason, payload in result.rejected
    )
    for _, reason, _ in result.rejected:
        report.reasons[reason] = report.reasons.get(reason, 0) + 1


def replace_manifest(layout: LakeLayout, prefix: str, name: str, files: list[str]) -> list[str]:
    """Record the files an import wrote and delete those an earlier import of the same file
    wrote but this one did not (it may have used other chunk sizes); returns the deleted."""
    stale = sorted(set(imports.recorded_files(layout, prefix)) - set(files))
    for path in stale:
        if layout.fs.exists(path):
            layout.fs.rm(path)
    imports.record(layout, prefix, name, files)
    return stale


def native_rows(
    path: str | os.PathLike[str],
    *,
    fmt: Format | None = None,
    preset: str | None = None,
    mapping: Mapping | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[dict[str, Any]]:
    """A file's rows as native events (not yet validated), e.g. to send them over HTTP."""
    import msgspec

    file = Path(path)
    chosen, fmt, mapping = _resolve(file, fmt, preset, mapping)
    prefix = f"i{file_key(file)}"
    for chunk in chunks_of(file, fmt, chosen, chunk_rows, mapping):
        if chunk.span is not None:
            for line in chunk.span.lines():
                yield msgspec.json.decode(line)
            continue
        assert mapping is not None
        mapped = mapped_chunk(mapping, chunk, prefix)
        if "timestamp" in mapped.column_names and pa.types.is_floating(mapped["timestamp"].type):
            stamps = seconds_to_timestamp(mapped["timestamp"])
            mapped = mapped.set_column(mapped.column_names.index("timestamp"), "timestamp", stamps)
        for row in mapped.to_pylist():
            yield {k: v for k, v in row.items() if v is not None}


def _run(
    job: ImportJob, chunks: Iterator[Chunk], workers: int
) -> Iterator[tuple[Chunk, ChunkResult]]:
    if workers <= 1:
        with LineParser() as parser:
            for chunk in chunks:
                yield chunk, process_chunk(job, chunk, parser)
        return
    in_flight: list[tuple[Chunk, Future[ChunkResult]]] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for chunk in chunks:
            in_flight.append((chunk, pool.submit(process_chunk, job, chunk)))
            while len(in_flight) > workers:
                done, future = in_flight.pop(0)
                yield _light(done), future.result()
        for done, future in in_flight:
            yield _light(done), future.result()


_parsers: dict[int, LineParser] = {}
"""Line parsers by process id: a forked worker makes its own (a DuckDB database does not
survive a fork)."""


def _worker_parser() -> LineParser:
    """The line parser of this worker process, made at its first chunk."""
    pid = os.getpid()
    if pid not in _parsers:
        _parsers[pid] = LineParser()
    return _parsers[pid]


def _light(chunk: Chunk) -> Chunk:
    return Chunk(chunk.index, chunk.first_row, span=chunk.span, bytes_read=chunk.bytes_read)


def _resolve(
    file: Path, fmt: Format | None, preset: str | None, mapping: Mapping | None
) -> tuple[Preset | None, Format, Mapping | None]:
    """The preset, format and mapping of a file: given ones first, then the preset's, then the
    format its name suggests."""
    chosen = PRESETS[preset] if preset else None
    resolved = fmt or (chosen.format if chosen else _guess_format(file))
    return chosen, resolved, mapping or (chosen.mapping if chosen else None)


def _guess_format(path: Path) -> Format:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    return "csv"
