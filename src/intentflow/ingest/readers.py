"""Chunked readers: a file of any size as a stream of bounded chunks.

CSV and Parquet chunks are Arrow tables of ``rows`` rows; native JSON-lines chunks are lists of
raw lines. Each chunk carries the row number it starts at, so that ids derived from row numbers
are the same on every run.
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


@dataclass
class Chunk:
    """Rows ``first_row .. first_row + len`` of the file."""

    index: int
    first_row: int
    table: pa.Table | None = None
    lines: list[bytes] | None = None
    bytes_read: int = 0
    """Position in the file after this chunk (for progress)."""

    def __len__(self) -> int:
        if self.table is not None:
            return int(self.table.num_rows)
        return len(self.lines or [])


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


def read_line_chunks(path: Path, rows: int) -> Iterator[Chunk]:
    """Stream a JSON-lines file in chunks of ``rows`` non-empty lines."""
    index = first = 0
    lines: list[bytes] = []
    with open(path, "rb") as fh:
        for line in fh:
            stripped = line.strip()
            if not stripped:
                continue
            lines.append(stripped)
            if len(lines) == rows:
                yield Chunk(index, first, lines=lines, bytes_read=fh.tell())
                index += 1
                first += rows
                lines = []
        if lines:
            yield Chunk(index, first, lines=lines, bytes_read=fh.tell())
