"""Where readers other than the flusher stand in the log, so that the log keeps what they have
not read yet.

The stream processor reads the log behind the collector, at its own pace. It saves a hold after
each batch it applies; the flusher deletes a segment only once it lies before its own checkpoint
and before every hold. A slow processor therefore never makes the collector drop or refuse
events: the log holds the backlog until the processor reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from intentflow.durable import write_atomic
from intentflow.wal.log import Position

HOLD_SUFFIX = ".hold"


class Hold(msgspec.Struct):
    """How far a reader other than the flusher (the stream processor) has read the log: the
    record it reads next, and its own offset for the last event it took in."""

    segment: int
    offset: int
    applied: int = -1

    @property
    def position(self) -> Position:
        """The log position the reader resumes at."""
        return Position(self.segment, self.offset)


class HoldFile:
    """A reader's :class:`Hold` in the log directory. The log keeps every segment from the
    oldest hold on, so a slow reader never misses records the flusher has already moved."""

    def __init__(self, directory: str | os.PathLike[str], name: str, *, fsync: bool = True):
        self.path = Path(directory) / f"{name}{HOLD_SUFFIX}"
        self.fsync = fsync

    def load(self) -> Hold | None:
        """The saved hold, if any."""
        if not self.path.exists():
            return None
        return msgspec.json.decode(self.path.read_bytes(), type=Hold)

    def save(self, hold: Hold) -> None:
        """Replace the hold atomically."""
        write_atomic(self.path, msgspec.json.encode(hold), fsync=self.fsync)

    def release(self) -> None:
        """Stop holding segments for this reader."""
        self.path.unlink(missing_ok=True)


def oldest_hold(directory: str | os.PathLike[str]) -> Position | None:
    """The oldest position any reader holds in the log at ``directory``."""
    positions = [
        msgspec.json.decode(path.read_bytes(), type=Hold).position
        for path in Path(directory).glob(f"*{HOLD_SUFFIX}")
    ]
    return min(positions, default=None)
