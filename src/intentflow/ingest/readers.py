"""Chunked readers: a file of any size as a stream of bounded chunks.

CSV and Parquet chunks are Arrow tables of ``rows`` rows, each carrying the row number it starts
at, so that ids derived from row numbers are the same on every run. Native JSON-lines chunks are
byte spans of whole lines: the worker that processes a span reads it from the file itself, so the
reading process never touches (or copies) the events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from intentflow.ingest.presets import CsvOptions


@dataclass(frozen=True)
class LineSpan:
    """Bytes ``start .. end`` of a JSON-lines file, cut at line ends."""

    path: str
    start: int
    end: int

    def lines(self) -> list[bytes]:
        """The span's non-blank lines, stripped."""
        with open(self.path, "rb") as fh:
            fh.seek(self.start)
            data = fh.read(self.end - self.start)
        return [stripped for line in data.split(b"\n") if (stripped := line.strip())]


@dataclass
class Chunk:
    """One piece of the file: the rows of ``table`` (which start at row ``first_row``), or the
    lines of ``span``."""

    index: int
    first_row: int = 0
    table: pa.Table | None = None
    span: LineSpan | None = None
    bytes_read: int = 0
    """Position in the file after this chunk (for progress)."""

    def __len__(self) -> int:
        return int(self.table.num_rows) if self.table is not None else 0


def read_csv_chunks(path: Path, options: CsvOptions, rows: int) -> Iterator[Chunk]:
    """Stream a delimited file in chunks of exactly ``rows`` rows (the last may be shorter)."""
    read = pcsv.ReadOptions(
        column_names=list(options.column_names) or None,
        autogenerate_column_names=False,
        block_size=4 << 20,
    )
    if not options.header and not options.column_names:
        read = pcsv.ReadOptions(autogenerate_column_names=True, block_size=4 << 20)
    parse = pcsv.ParseOptions(delimiter=options.delimiter)
    convert = pcsv.ConvertOptions(
        column_types=options.column_types,
        null_values=list(options.null_values),
        strings_can_be_null=True,
    )
    with open(path, "rb") as raw:
        reader = pcsv.open_csv(raw, read_options=read, parse_options=parse, convert_options=convert)
        yield from _rechunk(reader, rows, raw)


def read_parquet_chunks(path: Path, rows: int) -> Iterator[Chunk]:
    """Stream a Parquet file in chunks of ``rows`` rows."""
    with open(path, "rb") as raw:
        parquet = pq.ParquetFile(raw)
        yield from _rechunk(parquet.iter_batches(batch_size=rows), rows, raw)


def _rechunk(batches: Iterator[pa.RecordBatch], rows: int, raw: BinaryIO) -> Iterator[Chunk]:
    pending: list[pa.RecordBatch] = []
    size = 0
    index = first = 0
    for batch in batches:
        pending.append(batch)
        size += batch.num_rows
        while size >= rows:
            table = pa.Table.from_batches(pending).combine_chunks()
            head, tail = table.slice(0, rows), table.slice(rows)
            yield Chunk(index, first, table=head, bytes_read=raw.tell())
            index += 1
            first += rows
            pending = tail.to_batches()
            size = tail.num_rows
    if size:
        yield Chunk(index, first, table=pa.Table.from_batches(pending), bytes_read=raw.tell())


def bytes_per_row(path: Path) -> float:
    """The mean line length of a file's first MiB (at least 1)."""
    with open(path, "rb") as fh:
        sample = fh.read(1 << 20)
    return max(1.0, len(sample) / max(1, sample.count(b"\n")))


def read_line_spans(path: Path, rows: int) -> Iterator[Chunk]:
    """Cut a JSON-lines file into spans of about ``rows`` lines each (judged by the mean line
    length of its start), each ending at a line end."""
    size = path.stat().st_size
    target = max(1, int(rows * bytes_per_row(path)))
    index = start = 0
    with open(path, "rb") as fh:
        while start < size:
            fh.seek(min(size, start + target))
            fh.readline()
            end = min(size, fh.tell())
            yield Chunk(index, span=LineSpan(str(path), start, end), bytes_read=end)
            index += 1
            start = end
