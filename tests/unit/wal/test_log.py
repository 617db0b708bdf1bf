"""The segmented write-ahead log: round trips, roll-over, torn tails, corruption and cleanup."""

from __future__ import annotations

import errno
import os
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from intentflow.wal.exceptions import WalCorruptError
from intentflow.wal.log import HEADER, MAGIC, Position, WriteAheadLog

ORIGIN = Position(1, 0)


def _payloads(log: WriteAheadLog, start: Position = ORIGIN) -> list[bytes]:
    return [payload for _, payload, _ in log.read(start)]


def _segment_path(directory: Path, segment: int) -> Path:
    return directory / f"{segment:012d}.log"


def _record(payload: bytes, *, crc: int | None = None) -> bytes:
    checksum = zlib.crc32(payload) if crc is None else crc
    return HEADER.pack(MAGIC, len(payload), checksum) + payload


def test_append_then_read_round_trip(tmp_path: Path) -> None:
    log = WriteAheadLog(str(tmp_path), fsync=False)
    try:
        end = log.append([b"one", b"two", b""])
        assert end == log.end == Position(1, 3 * HEADER.size + 6)
        records = list(log.read(Position(1, 0)))
        assert [payload for _, payload, _ in records] == [b"one", b"two", b""]
        assert [pos for pos, _, _ in records] == [
            Position(1, 0),
            Position(1, HEADER.size + 3),
            Position(1, 2 * HEADER.size + 6),
        ]
        # each record's next position is where the following record starts
        assert [nxt for _, _, nxt in records] == [pos for pos, _, _ in records[1:]] + [end]
    finally:
        log.close()


def test_reopened_log_reads_the_same_records(tmp_path: Path) -> None:
    log = WriteAheadLog(str(tmp_path), fsync=True)
    log.append([b"alpha"])
    end = log.append([b"beta", b"gamma"])
    log.close()
    again = WriteAheadLog(str(tmp_path), fsync=True)
    try:
        assert again.end == end
        assert _payloads(again) == [b"alpha", b"beta", b"gamma"]
    finally:
        again.close()


def test_read_from_a_middle_position_and_up_to_an_end(tmp_path: Path) -> None:
    log = WriteAheadLog(str(tmp_path), fsync=False)
    try:
        ends = [log.append([f"record-{i}".encode()]) for i in range(6)]
        # record i starts where record i-1 ended
        assert _payloads(log, ends[2]) == [b"record-3", b"record-4", b"record-5"]
        middle = list(log.read(ends[1], ends[3]))
        assert [payload for _, payload, _ in middle] == [b"record-2", b"record-3"]
        assert middle[-1][2] == ends[3]
        assert list(log.read(log.end)) == []
    finally:
        log.close()


def test_segments_roll_over_and_positions_move_to_the_next_segment(tmp_path: Path) -> None:
    log = WriteAheadLog(str(tmp_path), fsync=False, segment_bytes=64)
    payloads = [bytes([65 + i]) * 60 for i in range(4)]
    try:
        ends = [log.append([payload]) for payload in payloads]
        # every append after the first finds the segment full and starts a new one
        assert log.segments() == [1, 2, 3, 4]
        assert [end.segment for end in ends] == [1, 2, 3, 4]
        records = list(log.read(Position(1, 0)))
        assert [payload for _, payload, _ in records] == payloads
        assert [pos for pos, _, _ in records] == [Position(s, 0) for s in (1, 2, 3, 4)]
        # the end of a closed segment is reported as the start of the next one
        assert [nxt for _, _, nxt in records] == [
            Position(2, 0),
            Position(3, 0),
            Position(4, 0),
            Position(4, HEADER.size + 60),
        ]
        assert _payloads(log, Position(3, 0)) == payloads[2:]
        # a position at the very end of a closed segment reads on in the next one
        assert _payloads(log, ends[1]) == payloads[2:]
    finally:
        log.close()
    again = WriteAheadLog(str(tmp_path), fsync=False, segment_bytes=64)
    try:
        assert again.end == ends[-1]
        assert again.append([b"tail"]).segment == 5
        assert _payloads(again) == [*payloads, b"tail"]
    finally:
        again.close()


def test_many_records_in_one_append_may_overfill_a_segment(tmp_path: Path) -> None:
    log = WriteAheadLog(str(tmp_path), fsync=False, segment_bytes=32)
    try:
        first = log.append([b"x" * 20, b"y" * 20, b"z" * 20])
        assert first.segment == 1
        assert log.append([b"next"]) == Position(2, HEADER.size + 4)
        assert _payloads(log) == [b"x" * 20, b"y" * 20, b"z" * 20, b"next"]
    finally:
        log.close()


def _torn_by_truncation(path: Path) -> None:
    size = path.stat().st_size
    os.truncate(path, size - 3)


def _torn_by_garbage(path: Path) -> None:
    with open(path, "ab") as fh:
        fh.write(b"\x00\x01garbage that is not a record")


def _torn_by_bad_crc(path: Path) -> None:
    with open(path, "ab") as fh:
        fh.write(_record(b"bad checksum", crc=12345))


def _torn_by_short_header(path: Path) -> None:
    with open(path, "ab") as fh:
        fh.write(HEADER.pack(MAGIC, 100, 0)[:5])


@pytest.mark.parametrize(
    ("damage", "lost_last"),
    [
        (_torn_by_truncation, True),
        (_torn_by_garbage, False),
        (_torn_by_bad_crc, False),
        (_torn_by_short_header, False),
    ],
    ids=["truncated", "garbage", "bad-crc", "short-header"],
)
def test_recovery_cuts_a_torn_tail_and_appends_continue(
    tmp_path: Path, damage: Callable[[Path], None], lost_last: bool
) -> None:
    log = WriteAheadLog(str(tmp_path), fsync=True)
    log.append([b"first"])
    before_last = log.append([b"second"])
    whole_end = log.append([b"third record"])
    log.close()
    path = _segment_path(tmp_path, 1)
    damage(path)

    recovered = WriteAheadLog(str(tmp_path), fsync=True)
    try:
        expected_end = before_last if lost_last else whole_end
        assert recovered.end == expected_end
        assert path.stat().st_size == expected_end.offset
        kept = [b"first", b"second"] if lost_last else [b"first", b"second", b"third record"]
        assert _payloads(recovered) == kept
        end = recovered.append([b"after recovery"])
        assert end == Position(1, expected_end.offset + HEADER.size + len(b"after recovery"))
        assert _payloads(recovered) == [*kept, b"after recovery"]
    finally:
        recovered.close()
    reopened = WriteAheadLog(str(tmp_path), fsync=True)
    try:
        assert _payloads(reopened) == [*kept, b"after recovery"]
    finally:
        reopened.close()


def test_recovery_of_a_torn_tail_in_the_last_of_many_segments(tmp_path: Path) -> None:
    log = WriteAheadLog(str(tmp_path), fsync=False, segment_bytes=40)
    for i in range(3):
        log.append([f"segment-{i}-record".encode() * 2])
    log.close()
    last = _segment_path(tmp_path, 3)
    os.truncate(last, last.stat().st_size - 1)

    recovered = WriteAheadLog(str(tmp_path), fsync=False, segment_bytes=40)
    try:
        assert recovered.end == Position(3, 0)
        assert _payloads(recovered) == [b"segment-0-record" * 2, b"segment-1-record" * 2]
        recovered.append([b"fresh"])
        assert _payloads(recovered)[-1] == b"fresh"
    finally:
        recovered.close()


@pytest.mark.parametrize("where", ["payload", "header"])
def test_a_damaged_record_in_a_closed_segment_raises(tmp_path: Path, where: str) -> None:
    log = WriteAheadLog(str(tmp_path), fsync=False, segment_bytes=16)
    try:
        log.append([b"closed-one", b"closed-two"])
        log.append([b"active"])
        assert log.segments() == [1, 2]
        path = _segment_path(tmp_path, 1)
        data = bytearray(path.read_bytes())
        index = HEADER.size + 2 if where == "payload" else 0
        data[index] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(WalCorruptError, match="damaged record at byte 0"):
            list(log.read(Position(1, 0)))
        # reading from the intact active segment alone still works
        assert _payloads(log, Position(2, 0)) == [b"active"]
    finally:
        log.close()


def test_a_truncated_closed_segment_raises(tmp_path: Path) -> None:
    log = WriteAheadLog(str(tmp_path), fsync=False, segment_bytes=16)
    try:
        log.append([b"closed-one", b"closed-two"])
        log.append([b"active"])
        path = _segment_path(tmp_path, 1)
        os.truncate(path, path.stat().st_size - 2)
        with pytest.raises(WalCorruptError):
            list(log.read(Position(1, 0)))
    finally:
        log.close()


def test_drop_before_deletes_only_whole_earlier_segments(tmp_path: Path) -> None:
    log = WriteAheadLog(str(tmp_path), fsync=False, segment_bytes=16)
    try:
        ends = [log.append([f"segment-{i}".encode() * 2]) for i in range(4)]
        assert log.segments() == [1, 2, 3, 4]
        assert log.drop_before(Position(1, 5)) == []
        # a position inside segment 3 keeps segment 3
        assert log.drop_before(Position(3, 4)) == [1, 2]
        assert log.segments() == [3, 4]
        assert not _segment_path(tmp_path, 1).exists()
        assert _payloads(log, Position(3, 0)) == [b"segment-2" * 2, b"segment-3" * 2]
        # even a position past the active segment never drops the active one
        assert log.drop_before(Position(99, 0)) == [3]
        assert log.segments() == [4]
        assert _payloads(log, Position(4, 0)) == [b"segment-3" * 2]
        assert log.end == ends[-1]
        log.append([b"still appending"])
        assert _payloads(log, Position(4, 0))[-1] == b"still appending"
    finally:
        log.close()


def test_drop_before_is_safe_to_repeat(tmp_path: Path) -> None:
    log = WriteAheadLog(str(tmp_path), fsync=False, segment_bytes=8)
    try:
        for i in range(3):
            log.append([f"r{i}".encode() * 8])
        assert log.drop_before(Position(3, 0)) == [1, 2]
        assert log.drop_before(Position(3, 0)) == []
        assert log.segments() == [3]
    finally:
        log.close()


def test_a_failed_sync_leaves_no_record_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An append that fails is not in the log, and the records appended after it are readable."""
    log = WriteAheadLog(str(tmp_path), fsync=True)
    try:
        log.append([b"kept"])
        real_sync = os.fdatasync
        calls: list[int] = []

        def failing_sync(fd: int) -> None:
            calls.append(fd)
            if len(calls) == 1:
                raise OSError(errno.EIO, "injected fsync failure")
            real_sync(fd)

        monkeypatch.setattr(os, "fdatasync", failing_sync)
        with pytest.raises(OSError, match="injected"):
            log.append([b"a longer record whose append failed"])
        end = log.append([b"after"])
        monkeypatch.undo()
        assert _payloads(log) == [b"kept", b"after"]
        assert end == log.end == Position(1, _segment_path(tmp_path, 1).stat().st_size)
    finally:
        log.close()
    reopened = WriteAheadLog(str(tmp_path), fsync=True)
    try:
        assert _payloads(reopened) == [b"kept", b"after"]
    finally:
        reopened.close()
