"""The flusher's durable bookmark: how far the log has been committed to the lake.

The checkpoint also carries the renames of a flush in progress. Writing it is the commit point of a
flush: files staged before it are discarded by recovery, renames listed in it are completed.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from intentflow.durable import write_atomic
from intentflow.wal.log import Position


class Checkpoint(msgspec.Struct):
    """Log position committed to the lake, plus staged lake files still to be moved in place."""

    segment: int = 1
    offset: int = 0
    pending: list[tuple[str, str]] = []
    """``(staged path, final path)`` pairs of the last committed flush not yet renamed."""

    @property
    def position(self) -> Position:
        """The committed log position."""
        return Position(self.segment, self.offset)


class CheckpointFile:
    """Reads and atomically replaces the checkpoint file in the log directory."""

    def __init__(self, directory: str | os.PathLike[str], *, fsync: bool = True):
        self.path = Path(directory) / "checkpoint.json"
        self.fsync = fsync

    def load(self) -> Checkpoint:
        """The saved checkpoint, or the start of the log."""
        if not self.path.exists():
            return Checkpoint()
        return msgspec.json.decode(self.path.read_bytes(), type=Checkpoint)

    def save(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint atomically and durably."""
        write_atomic(self.path, msgspec.json.encode(checkpoint), fsync=self.fsync)
