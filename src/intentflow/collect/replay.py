"""``intentflow quarantine replay``: validate quarantined events again, after a fix.

The fix can be in configuration (a larger limit, a wider clock skew) or in the events themselves:
``patch`` is a JSON merge patch (RFC 7386) applied to each selected payload, for example
``{"channel": "web"}`` or ``{"anonymous_id": "unknown"}``. Events that now pass are written to the
lake (skipping any whose message id the lake already holds) and leave the quarantine; the others
stay, with their new reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pyarrow as pa

from intentflow.collect.quarantine import QuarantineRecord, QuarantineStore
from intentflow.collect.segment import SegmentMessageError, to_native
from intentflow.collect.validate import Validator, now_utc
from intentflow.config import Settings
from intentflow.events import Event, lake_lines
from intentflow.lake.reader import Lake
from intentflow.lake.writer import LakeWriter, table_from_lines


@dataclass
class ReplayReport:
    """What a replay did."""

    selected: int = 0
    replayed: int = 0
    already_in_lake: int = 0
    still_rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: ``null`` deletes a key, objects merge, anything else replaces.

    >>> merge_patch({"a": 1, "b": {"c": 2}}, {"b": {"c": None, "d": 3}, "e": 4})
    {'a': 1, 'b': {'d': 3}, 'e': 4}
    """
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def replay(
    settings: Settings,
    ids: Iterable[str] | None = None,
    *,
    patch: dict[str, Any] | None = None,
) -> ReplayReport:
    """Replay the records named by ``ids`` (all of them when ``ids`` is None)."""
    store = QuarantineStore(settings.quarantine_dir)
    wanted = set(ids) if ids is not None else None
    records = [r for r in store.records() if wanted is None or r.id in wanted]
    report = ReplayReport(selected=len(records))
    validator = Validator(settings.collect)
    received_at = now_utc()
    passed: list[tuple[QuarantineRecord, Event]] = []
    failed: list[QuarantineRecord] = []
    for record in records:
        result = _revalidate(validator, record, patch, received_at)
        if isinstance(result, str):
            failed.append(msgspec.structs.replace(record, reason=result))
            report.reasons[result] = report.reasons.get(result, 0) + 1
        else:
            passed.append((record, result))
    lake = Lake(settings.lake_dir, settings.lake.storage_options)
    known = _ids_in_lake(lake, [e.message_id for _, e in passed if e.message_id])
    fresh: dict[str, Event] = {}
    for _, event in passed:
        assert event.message_id is not None
        if event.message_id in known or event.message_id in fresh:
            report.already_in_lake += 1
        else:
            fresh[event.message_id] = event
    if fresh:
        writer = LakeWriter.from_settings(settings)
        writer.write(
            table_from_lines(lake_lines(list(fresh.values()))), f"replay-{uuid.uuid4().hex[:12]}"
        )
    report.replayed = len(fresh)
    store.remove(record.id for record, _ in passed)
    if failed:
        store.update(failed)
    report.still_rejected = len(failed)
    return report


def _revalidate(
    validator: Validator, record: QuarantineRecord, patch: dict[str, Any] | None, received_at: Any
) -> Event | str:
    payload = record.payload()
    if patch is None and record.format == "native":
        return validator.validate(payload, received_at=received_at, source=record.source)
    try:
        data = msgspec.json.decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return f"not valid JSON: {exc}"
    if patch is not None:
        data = merge_patch(data, patch)
    if record.format == "segment":
        try:
            data = to_native(data)
        except SegmentMessageError as exc:
            return str(exc)
    if not isinstance(data, dict):
        return f"expected a JSON object, got {type(data).__name__}"
    return validator.validate(
        data, received_at=received_at, source=record.source, size=len(msgspec.json.encode(data))
    )


def _ids_in_lake(lake: Lake, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    con = lake.connect()
    try:
        con.register("wanted", pa.table({"message_id": ids}))
        con.register("lake_events", lake.events(con))
        rows = con.execute(
            "SELECT DISTINCT message_id FROM lake_events JOIN wanted USING (message_id)"
        ).fetchall()
        return {row[0] for row in rows}
    finally:
        con.close()
