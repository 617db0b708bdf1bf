"""An append-only, segmented, checksummed log on local disk.

Each record is ``magic (2 bytes) | length (u32) | crc32 (u32) | payload``. Segments are files named
by a growing number; a position is ``(segment, offset)``. Opening the log scans the last segment and
cuts off a torn tail left by a crash, so every record read back is one that was written whole.

>>> import tempfile
>>> log = WriteAheadLog(tempfile.mkdtemp(), fsync=False)
>>> end = log.append([b"one", b"two"])
>>> [payload for _, payload, _ in log.read(Position(1, 0))]
[b'one', b'two']
>>> log.close()
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple

from intentflow.durable import fsync_dir
from intentflow.wal.exceptions import WalCorruptError

MAGIC = b"IF"
HEADER = struct.Struct("<2sII")
SEGMENT_SUFFIX = ".log"


class Position(NamedTuple):
    """A place in the log: segment number and byte offset inside it."""

    segment: int
    offset: int


def _segment_name(number: int) -> str:
    return f"{number:012d}{SEGMENT_SUFFIX}"


def scan_records(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """Find whole records in a segment's bytes: ``([(offset, start, end)...], valid_length)``."""
    records = []
    pos = 0
    size = len(data)
    while pos + HEADER.size <= size:
        magic, length, crc = HEADER.unpack_from(data, pos)
        start = pos + HEADER.size
        end = start + length
        if magic != MAGIC or end > size or zlib.crc32(data[start:end]) != crc:
            break
        records.append((pos, start, end))
        pos = end
    return records, pos


def _frames(
    fh: BinaryIO, start: int, limit: int | None, path: Path
) -> Iterator[tuple[int, bytes, int]]:
    """Records of an open segment from byte ``start`` up to ``limit`` (``None``: the whole
    segment, which must then end on a record boundary)."""
    fh.seek(start)
    pos = start
    while limit is None or pos < limit:
        header = fh.read(HEADER.size)
        if not header and limit is None:
            return
        if len(header) < HEADER.size:
            raise WalCorruptError(f"{path}: short record header at byte {pos}")
        magic, length, crc = HEADER.unpack(header)
        payload = fh.read(length) if magic == MAGIC else b""
        if magic != MAGIC or len(payload) < length or zlib.crc32(payload) != crc:
            raise WalCorruptError(f"{path}: damaged record at byte {pos}")
        finish = pos + HEADER.size + length
        yield pos, payload, finish
        pos = finish


class SegmentFiles:
    """The segment files of a log directory: listing, reading, deleting."""

    directory: Path

    @property
    def end(self) -> Position:
        """Position after the last durable record."""
        raise NotImplementedError

    def _path(self, segment: int) -> Path:
        return self.directory / _segment_name(segment)

    def segments(self) -> list[int]:
        """Segment numbers present, oldest first."""
        return sorted(
            int(p.name.removesuffix(SEGMENT_SUFFIX))
            for p in self.directory.glob(f"*{SEGMENT_SUFFIX}")
            if p.name.removesuffix(SEGMENT_SUFFIX).isdigit()
        )

    def read(
        self, start: Position, end: Position | None = None
    ) -> Iterator[tuple[Position, bytes, Position]]:
        """Yield ``(position, payload, next_position)`` for records from ``start`` up to ``end``
        (default: the durable end). Only the bytes after ``start`` are read."""
        stop = end or self.end
        for segment in self.segments():
            if segment < start.segment or segment > stop.segment:
                continue
            path = self._path(segment)
            first = start.offset if segment == start.segment else 0
            limit = stop.offset if segment == stop.segment else None
            try:
                fh = open(path, "rb")  # noqa: SIM115
            except FileNotFoundError:  # flushed and dropped since the listing
                continue
            with fh:
                size = os.fstat(fh.fileno()).st_size
                for offset, payload, finish in _frames(fh, first, limit, path):
                    nxt = Position(segment, finish)
                    if limit is None and finish == size:
                        nxt = Position(segment + 1, 0)
                    yield Position(segment, offset), payload, nxt

    def scan(self, segment: int) -> Iterator[tuple[int, bytes]]:
        """Whole records of one segment as ``(offset, payload)``, up to a torn tail if any: for
        readers in another process, which do not know the durable end."""
        try:
            data = self._path(segment).read_bytes()
        except FileNotFoundError:
            return
        records, _ = scan_records(data)
        for offset, start, end in records:
            yield offset, data[start:end]

    def drop_before(self, position: Position) -> list[int]:
        """Delete whole segments that lie before ``position``; returns their numbers."""
        dropped = []
        for segment in self.segments():
            if segment < position.segment and segment < self.end.segment:
                self._path(segment).unlink(missing_ok=True)
                dropped.append(segment)
        return dropped


class LogFollower(SegmentFiles):
    """A read-only view of a log that another process appends to, up to the end that process
    reported durable (see :meth:`advance`)."""

    def __init__(self, directory: str | os.PathLike[str], end: Position):
        self.directory = Path(directory)
        self._end = end

    @property
    def end(self) -> Position:
        """Position after the last record reported durable."""
        return self._end

    def advance(self, end: Position) -> None:
        """The writer made records durable up to ``end``."""
        self._end = max(self._end, end)


class WriteAheadLog(SegmentFiles):
    """The durable log. ``append`` is safe from one writer thread; reads may run beside it."""

    def __init__(self, directory: str, *, fsync: bool = True, segment_bytes: int = 64 << 20):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        segments = self.segments()
        self._segment = segments[-1] if segments else 1
        self._file = open(self._path(self._segment), "ab")  # noqa: SIM115
        self._offset = self._recover_tail()
        self._durable = Position(self._segment, self._offset)

    def _recover_tail(self) -> int:
        data = self._path(self._segment).read_bytes()
        _, valid = scan_records(data)
        if valid < len(data):
            self._file.truncate(valid)
            os.fsync(self._file.fileno())
        return valid

    @property
    def end(self) -> Position:
        """Position after the last durable record."""
        return self._durable

    def append(self, payloads: Sequence[bytes]) -> Position:
        """Write records, fsync once (when enabled), and return the new durable end."""
        with self._lock:
            if self._offset >= self.segment_bytes:
                self._roll()
            parts = []
            for payload in payloads:
                parts.append(HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)))
                parts.append(payload)
            blob = b"".join(parts)
            try:
                self._file.write(blob)
                self._file.flush()
                if self.fsync:
                    os.fdatasync(self._file.fileno())
            except BaseException:
                self._cut_failed_append()
                raise
            self._offset += len(blob)
            self._durable = Position(self._segment, self._offset)
            return self._durable

    def _cut_failed_append(self) -> None:
        """Remove what a failed append left past the last durable record, so that the records
        appended next start at ``self._offset`` (as their positions say) instead of after a torn
        or unacknowledged record. If the cut fails the file stays closed and appends keep failing,
        so nothing is acknowledged behind the damage."""
        if self._file.closed:
            return
        with contextlib.suppress(OSError):
            self._file.close()  # drops bytes still buffered from the failed write
        path = self._path(self._segment)
        os.truncate(path, self._offset)
        self._file = open(path, "ab")  # noqa: SIM115

    def _roll(self) -> None:
        self._file.close()
        self._segment += 1
        self._file = open(self._path(self._segment), "ab")  # noqa: SIM115
        self._offset = 0
        if self.fsync:
            fsync_dir(self.directory)

    def close(self) -> None:
        """Close the active segment."""
        with self._lock:
            self._file.close()
