"""File import: mappings, per-row quarantine, chunking, idempotent re-runs and parallel workers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from intentflow.collect.quarantine import QuarantineRecord, QuarantineStore
from intentflow.config import Settings
from intentflow.events import decode_event, event_from_dict, lake_lines
from intentflow.ingest.importer import file_key, import_file
from intentflow.ingest.presets import Mapping
from intentflow.lake import imports
from intentflow.lake.compact import compact, recover
from intentflow.lake.imports import origin_of
from intentflow.lake.layout import LakeLayout
from intentflow.lake.reader import Lake
from intentflow.lake.writer import LakeWriter, table_from_lines
from intentflow.simulate.clickstream import SimulationConfig, simulate
from intentflow.simulate.sinks import write_jsonl
from tests.unit.lake.test_compact import CrashError, crash_on

MAPPING = Mapping(
    fields={"user_id": "who", "item_id": "sku", "price": "price", "quantity": "qty"},
    type_column="what",
    type_values={"view": "product_view", "cart": "add_to_cart"},
    timestamp="at",
)
"""A generic mapping for the small CSV files below (epoch seconds in ``at``)."""
HEADER = "who,what,sku,price,qty,at\n"
T0 = 1_767_607_200
"""2026-01-05T10:00:00Z."""


def lake_rows(settings: Settings) -> list[dict[str, Any]]:
    """Every lake row as a mapping (``event_date`` included), ordered by message id."""
    lake = Lake(settings.lake_dir)
    con = lake.connect()
    try:
        relation = lake.events(con).order("message_id")
        names = relation.columns
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]
    finally:
        con.close()


def lake_files(settings: Settings) -> list[str]:
    """Committed lake files, relative to the lake."""
    return sorted(p.split("/events/", 1)[1] for p in Lake(settings.lake_dir).files())


def quarantined(settings: Settings) -> list[QuarantineRecord]:
    """Every quarantined record, by its position in the file."""
    return sorted(QuarantineStore(settings.quarantine_dir).records(), key=lambda r: r.index)


def csv_rows(n: int) -> str:
    """``n`` good rows: views, and every third row a cart of two."""
    lines = [
        f"{100 + i},{'cart' if i % 3 == 2 else 'view'},{5000 + i % 7},{1.5 + i},"
        f"{2 if i % 3 == 2 else ''},{T0 + 60 * i}\n"
        for i in range(n)
    ]
    return HEADER + "".join(lines)


def imported_csv(tmp_path: Path, settings: Settings, name: str, chunk_rows: int = 10) -> Path:
    """A CSV file of 25 good rows, imported in chunks of ``chunk_rows``."""
    path = tmp_path / name
    path.write_text(csv_rows(25))
    import_file(path, settings, mapping=MAPPING, chunk_rows=chunk_rows, workers=1)
    return path


def test_a_generic_csv_mapping_imports_native_events(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "shop.csv"
    path.write_text(csv_rows(6))
    report = import_file(path, settings, mapping=MAPPING, workers=1)
    assert (report.rows, report.accepted, report.quarantined, report.duplicates) == (6, 6, 0, 0)
    assert report.source == "import:csv"
    rows = lake_rows(settings)
    key = file_key(path)
    assert [r["message_id"] for r in rows] == [f"i{key}:{n}" for n in range(6)]
    assert [r["type"] for r in rows] == ["product_view", "product_view", "add_to_cart"] * 2
    first, cart = rows[0], rows[2]
    assert (first["user_id"], first["item_id"], first["price"]) == ("100", "5000", 1.5)
    assert first["timestamp"] == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert first["quantity"] is None
    assert (cart["item_id"], cart["quantity"]) == ("5002", 2)
    assert {r["source"] for r in rows} == {"import:csv"}
    assert {r["channel"] for r in rows} == {"web"}
    assert {str(r["event_date"]) for r in rows} == {"2026-01-05"}
    assert all(r["received_at"] is not None for r in rows)


def test_a_generic_parquet_mapping_with_typed_columns(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "app.parquet"
    pq.write_table(
        pa.table(
            {
                "device": pa.array([11, 12, 13], pa.int64()),
                "product": pa.array([7, 8, 9], pa.int64()),
                "when": pa.array(
                    [T0 * 1000, T0 * 1000 + 1500, (T0 + 86_400) * 1000],
                    pa.timestamp("ms", tz="UTC"),
                ),
                "stars": pa.array([5, 4, 3], pa.int64()),
            }
        ),
        path,
    )
    mapping = Mapping(
        fields={"anonymous_id": "device", "item_id": "product"},
        type="add_to_wishlist",
        timestamp="when",
        prefixes={"anonymous_id": "app-"},
        constants={"channel": "mobile"},
        properties=("stars",),
    )
    report = import_file(path, settings, mapping=mapping, workers=1)
    assert (report.accepted, report.quarantined, report.source) == (3, 0, "import:parquet")
    rows = lake_rows(settings)
    assert [(r["anonymous_id"], r["item_id"], r["channel"]) for r in rows] == [
        ("app-11", "7", "mobile"),
        ("app-12", "8", "mobile"),
        ("app-13", "9", "mobile"),
    ]
    assert [r["timestamp"] for r in rows] == [
        datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
        datetime(2026, 1, 5, 10, 0, 1, 500000, tzinfo=UTC),
        datetime(2026, 1, 6, 10, 0, tzinfo=UTC),
    ]
    assert [json.loads(r["properties"]) for r in rows] == [{"stars": 5}, {"stars": 4}, {"stars": 3}]
    assert sorted({str(r["event_date"]) for r in rows}) == ["2026-01-05", "2026-01-06"]


def test_iso_timestamps_with_offsets_are_stored_in_utc(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "iso.csv"
    path.write_text("who,sku,at\n1,a,2026-01-05T10:00:00Z\n2,b,2026-01-05T23:30:00-02:00\n")
    mapping = Mapping(
        fields={"user_id": "who", "item_id": "sku"},
        type="product_view",
        timestamp="at",
        time_unit="iso",
    )
    report = import_file(path, settings, mapping=mapping, workers=1)
    assert (report.accepted, report.quarantined) == (2, 0)
    rows = lake_rows(settings)
    assert [r["timestamp"] for r in rows] == [
        datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
        datetime(2026, 1, 6, 1, 30, tzinfo=UTC),
    ]
    assert [str(r["event_date"]) for r in rows] == ["2026-01-05", "2026-01-06"]


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_of_the_chunk_kept(
    tmp_path: Path, settings: Settings
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        HEADER
        + f"1,view,10,9.5,,{T0}\n"  # 0 good
        + f"2,view,,9.5,,{T0}\n"  # 1 a product view without item_id
        + f"3,view,11,9.5,,{T0 + 10**9}\n"  # 2 about 32 years ahead
        + f"4,teleport,12,9.5,,{T0}\n"  # 3 unknown type
        + f",view,13,9.5,,{T0}\n"  # 4 nobody
        + f"6,cart,14,-3,,{T0}\n"  # 5 negative price
        + f"7,cart,15,2.0,1,{T0 + 5}\n"  # 6 good
    )
    report = import_file(path, settings, mapping=MAPPING, workers=1)
    assert (report.rows, report.accepted, report.quarantined) == (7, 2, 5)
    assert sum(report.reasons.values()) == 5
    assert [r["message_id"] for r in lake_rows(settings)] == [
        f"i{file_key(path)}:0",
        f"i{file_key(path)}:6",
    ]
    records = quarantined(settings)
    assert [r.index for r in records] == [1, 2, 3, 4, 5]
    reasons = [r.reason for r in records]
    assert "`$.item_id`" in reasons[0]
    assert "ahead of the server clock" in reasons[1]
    assert reasons[2].startswith("unknown event type 'teleport'")
    assert "user_id or an anonymous_id" in reasons[3]
    assert "`$.price`" in reasons[4]
    assert all(r.source == "import:csv" and r.format == "native" for r in records)
    raw = msgspec.json.decode(records[0].payload())
    assert raw["user_id"] == "2" and raw["item_id"] is None
    assert raw["message_id"] == f"i{file_key(path)}:1"


def test_bad_lines_of_a_native_jsonl_file_are_quarantined(
    tmp_path: Path, settings: Settings
) -> None:
    good = {
        "type": "search",
        "anonymous_id": "a-1",
        "query": "boots",
        "timestamp": "2026-01-05T10:00:00Z",
        "message_id": "j-1",
    }
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({**good, "type": "product_view", "message_id": "j-2"}),
        "",
        json.dumps({**good, "type": "nope", "message_id": "j-3"}),
        json.dumps({**good, "message_id": "j-4", "query": "hats"}),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = import_file(path, settings, workers=1)
    assert (report.rows, report.accepted, report.quarantined) == (5, 2, 3)
    assert [(r["message_id"], r["query"]) for r in lake_rows(settings)] == [
        ("j-1", "boots"),
        ("j-4", "hats"),
    ]
    records = quarantined(settings)
    assert [r.index for r in records] == [1, 2, 3]
    assert records[0].reason.startswith("not valid JSON")
    assert "`item_id`" in records[1].reason
    assert records[2].reason.startswith("unknown event type 'nope'")
    assert records[1].payload() == lines[2].encode()


def test_a_file_needs_a_mapping_and_jsonl_takes_none(tmp_path: Path, settings: Settings) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text(csv_rows(1))
    with pytest.raises(ValueError, match="needs a preset or a column mapping"):
        import_file(csv, settings, workers=1)
    jsonl = tmp_path / "x.jsonl"
    jsonl.write_text("{}\n")
    with pytest.raises(ValueError, match="column mapping does not apply"):
        import_file(jsonl, settings, mapping=MAPPING, workers=1)


def test_small_chunks_split_the_file_and_keep_row_ids(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "big.csv"
    path.write_text(csv_rows(25))
    progress: list[tuple[int, int]] = []
    report = import_file(
        path,
        settings,
        mapping=MAPPING,
        chunk_rows=10,
        workers=1,
        progress=lambda done, rows: progress.append((done, rows)),
    )
    assert (report.rows, report.accepted, report.files) == (25, 25, 3)
    assert [rows for _, rows in progress] == [10, 20, 25]
    assert progress[-1][0] == path.stat().st_size
    key = file_key(path)
    assert sorted(r["message_id"] for r in lake_rows(settings)) == sorted(
        f"i{key}:{n}" for n in range(25)
    )
    assert lake_files(settings) == [
        f"event_date=2026-01-05/part-i{key}-{n:06d}.parquet" for n in range(3)
    ]


def test_re_running_an_import_is_idempotent(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "again.csv"
    path.write_text(csv_rows(25))
    first = import_file(path, settings, mapping=MAPPING, chunk_rows=10, workers=1)
    files = lake_files(settings)
    second = import_file(path, settings, mapping=MAPPING, chunk_rows=10, workers=1)
    assert first.accepted == second.accepted == 25
    assert lake_files(settings) == files
    ids = [r["message_id"] for r in lake_rows(settings)]
    assert len(ids) == Lake(settings.lake_dir).count() == 25
    assert len(set(ids)) == 25


def _flushed_files(settings: Settings, count: int) -> None:
    """Files of the same day as :func:`csv_rows`, as the log's flusher names them."""
    writer = LakeWriter(LakeLayout(settings.lake_dir), fsync=False)
    for n in range(count):
        events = [
            event_from_dict(
                {
                    "type": "page_view",
                    "anonymous_id": "a-1",
                    "message_id": f"wal-{n}-{i}",
                    "timestamp": datetime.fromtimestamp(T0 + i, UTC).isoformat(),
                }
            )
            for i in range(4)
        ]
        writer.write(table_from_lines(lake_lines(events)), f"wal1-{n:012d}-000000000000")


def test_a_re_import_after_compaction_replaces_the_merged_rows(
    tmp_path: Path, settings: Settings
) -> None:
    path = imported_csv(tmp_path, settings, "again.csv")
    _flushed_files(settings, 2)
    layout = LakeLayout(settings.lake_dir)
    lake = Lake(settings.lake_dir)
    assert len(lake.files()) == 5
    reports = compact(lake, target_bytes=10 << 20)
    # the import's three files merge apart from the flusher's two
    assert sorted(r["inputs"] for r in reports) == [2, 3]
    prefix = f"i{file_key(path)}"
    (merged,) = [f for f in lake.files() if origin_of(f) == prefix]
    assert imports.recorded_files(layout, prefix) == [merged]

    again = import_file(path, settings, mapping=MAPPING, chunk_rows=10, workers=1)
    assert again.accepted == 25
    ids = [r["message_id"] for r in lake_rows(settings)]
    assert len(ids) == len(set(ids)) == 25 + 8
    assert merged not in lake.files()
    assert sorted(imports.recorded_files(layout, prefix)) == sorted(
        f for f in lake.files() if origin_of(f) == prefix
    )


def test_a_compaction_is_refused_while_an_import_writes(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "slow.csv"
    path.write_text(csv_rows(25))
    lake = Lake(settings.lake_dir)
    seen: list[str] = []

    def progress(done: int, rows: int) -> None:
        if not seen:
            with pytest.raises(RuntimeError, match="an import of this lake is running") as info:
                compact(lake, target_bytes=10 << 20)
            seen.append(str(info.value))

    import_file(path, settings, mapping=MAPPING, chunk_rows=10, workers=1, progress=progress)
    assert seen
    assert len(compact(lake, target_bytes=10 << 20)) == 1


def test_recovery_of_a_crashed_compaction_updates_the_import_record(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = imported_csv(tmp_path, settings, "crash.csv")
    layout = LakeLayout(settings.lake_dir)
    prefix = f"i{file_key(path)}"
    before = imports.recorded_files(layout, prefix)
    crash_on(monkeypatch, LakeWriter, "publish", after=True)
    with pytest.raises(CrashError):
        compact(Lake(settings.lake_dir), target_bytes=10 << 20)
    monkeypatch.undo()
    assert imports.recorded_files(layout, prefix) == before  # the crash came first
    assert recover(layout) == 1
    (merged,) = Lake(settings.lake_dir).files()
    assert imports.recorded_files(layout, prefix) == [merged]
    again = import_file(path, settings, mapping=MAPPING, chunk_rows=10, workers=1)
    assert again.accepted == Lake(settings.lake_dir).count() == 25


def test_two_workers_write_the_same_lake_as_one(tmp_path: Path) -> None:
    path = tmp_path / "parallel.csv"
    path.write_text(csv_rows(95))
    lakes = []
    for workers in (1, 2):
        settings = Settings(data_dir=str(tmp_path / f"data-{workers}"))
        report = import_file(path, settings, mapping=MAPPING, chunk_rows=10, workers=workers)
        assert (report.rows, report.accepted, report.files) == (95, 95, 10)
        rows = [{k: v for k, v in r.items() if k != "received_at"} for r in lake_rows(settings)]
        lakes.append((lake_files(settings), rows))
    assert lakes[0] == lakes[1]
    assert len(lakes[0][1]) == 95


def test_text_columns_stay_text_after_the_first_block_of_a_large_csv(
    tmp_path: Path, settings: Settings
) -> None:
    """The reader infers column types from the first block (4 MiB); ids that look numeric there
    and are not further on must still import, as the mapping reads id columns as text."""
    path = tmp_path / "drift.csv"
    pad = "x" * 200
    with open(path, "w") as fh:
        fh.write("who,sku,at,note\n")
        for i in range(24_000):
            fh.write(f"{i},{i % 50},{T0 + i},{pad}\n")
        fh.write(f"u-{'abc'},sku-x,{T0},{pad}\n")
    assert path.stat().st_size > 5 << 20
    mapping = Mapping(
        fields={"user_id": "who", "item_id": "sku"}, type="product_view", timestamp="at"
    )
    report = import_file(path, settings, mapping=mapping, workers=1)
    assert (report.rows, report.accepted, report.quarantined) == (24_001, 24_001, 0)
    lake = Lake(settings.lake_dir)
    con = lake.connect()
    try:
        found = lake.events(con).filter("user_id = 'u-abc'").select("item_id").fetchall()
    finally:
        con.close()
    assert found == [("sku-x",)]


@pytest.mark.parametrize("workers", [1, 2])
def test_rows_of_a_jsonl_file_cut_in_many_spans_keep_their_numbers(
    tmp_path: Path, settings: Settings, workers: int
) -> None:
    event = {
        "type": "search",
        "anonymous_id": "a-1",
        "query": "q",
        "timestamp": "2026-01-05T10:00:00Z",
    }
    lines = []
    for row in range(500):
        if row % 37 == 5:
            lines.append(f'{{"type": "search", "message_id": "bad-{row}"}}')  # nobody
        else:
            lines.append(json.dumps({**event, "message_id": f"m-{row}"}))
        if row % 50 == 0:
            lines.append("   ")  # blank lines are skipped and not numbered
    path = tmp_path / "spans.jsonl"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    report = import_file(path, settings, chunk_rows=10, workers=workers)
    bad = [row for row in range(500) if row % 37 == 5]
    assert (report.rows, report.accepted, report.quarantined) == (500, 500 - len(bad), len(bad))
    assert report.files > 10
    assert sorted(r["message_id"] for r in lake_rows(settings)) == sorted(
        f"m-{row}" for row in range(500) if row not in bad
    )
    records = quarantined(settings)
    assert [r.index for r in records] == bad
    assert [msgspec.json.decode(r.payload())["message_id"] for r in records] == [
        f"bad-{row}" for row in bad
    ]


def test_simulated_native_events_import_without_rejections(
    tmp_path: Path, settings: Settings
) -> None:
    config = SimulationConfig(users=80, days=3, seed=4, start=datetime(2026, 1, 5, tzinfo=UTC))
    events = list(simulate(config))
    path = tmp_path / "sim.jsonl"
    assert write_jsonl(events, str(path)) == len(events)
    report = import_file(path, settings, chunk_rows=1_000, workers=1)
    assert (report.rows, report.accepted, report.quarantined, report.duplicates) == (
        len(events),
        len(events),
        0,
        0,
    )
    assert report.reasons == {}
    assert report.source == "import:jsonl"
    rows = lake_rows(settings)
    assert sorted(r["message_id"] for r in rows) == sorted(e["message_id"] for e in events)
    by_id = {r["message_id"]: r for r in rows}
    for original in events:
        row = by_id[original["message_id"]]
        assert (row["type"], row["timestamp"]) == (original["type"], original["timestamp"])
        assert row.get("user_id") == original.get("user_id")
    purchases = [e for e in events if e["type"] == "purchase"]
    for purchase in purchases:
        stored = by_id[purchase["message_id"]]
        assert stored["revenue"] == purchase["revenue"]
        assert [li["item_id"] for li in stored["line_items"]] == [
            li["item_id"] for li in purchase["line_items"]
        ]
    assert decode_event(path.read_bytes().splitlines()[0]) == event_from_dict(events[0])


def test_re_importing_with_other_chunk_sizes_replaces_the_earlier_files(
    tmp_path: Path, settings: Settings
) -> None:
    path = imported_csv(tmp_path, settings, "rechunked.csv", 5)
    assert len(lake_files(settings)) == 5
    import_file(path, settings, mapping=MAPPING, chunk_rows=20, workers=1)
    assert len(lake_files(settings)) == 2
    ids = [r["message_id"] for r in lake_rows(settings)]
    assert len(ids) == len(set(ids)) == 25


def test_re_importing_reports_rejections_once(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "twice.csv"
    path.write_text(HEADER + f"1,view,10,9.5,,{T0}\n" + f"2,view,,9.5,,{T0}\n")
    for _ in range(2):
        report = import_file(path, settings, mapping=MAPPING, workers=1)
        assert report.quarantined == 1
    [record] = quarantined(settings)
    assert record.id == f"i{file_key(path)}:1"


def test_files_with_the_same_name_and_size_get_different_keys(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "data.csv", tmp_path / "b" / "data.csv"
    for folder in (first.parent, second.parent):
        folder.mkdir()
    first.write_text(csv_rows(3))
    second.write_text(csv_rows(3).replace("view", "VIEW", 1))
    assert first.stat().st_size == second.stat().st_size
    assert file_key(first) != file_key(second)
