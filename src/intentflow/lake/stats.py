"""A summary of what the lake holds: events by day and type, people, items, files."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from intentflow.lake.reader import Lake


def lake_stats(lake: Lake) -> dict[str, Any]:
    """Totals, counts by type and by day, distinct people and items, files and bytes."""
    files = lake.files()
    fs = lake.layout.fs
    con = lake.connect()
    events = lake.events(con)
    con.register("ev", events)
    total, people, users, anonymous, items, first, last = con.execute(
        """SELECT count(*), count(DISTINCT coalesce(user_id, anonymous_id)),
                  count(DISTINCT user_id), count(DISTINCT anonymous_id), count(DISTINCT item_id),
                  min(timestamp), max(timestamp) FROM ev"""
    ).fetchone() or (0, 0, 0, 0, 0, None, None)
    by_type = dict(
        con.execute("SELECT type, count(*) FROM ev GROUP BY 1 ORDER BY 2 DESC").fetchall()
    )
    by_day = [
        {"date": day.isoformat(), "events": n, "people": p}
        for day, n, p in con.execute(
            """SELECT event_date, count(*), count(DISTINCT coalesce(user_id, anonymous_id))
               FROM ev GROUP BY 1 ORDER BY 1"""
        ).fetchall()
    ]
    con.close()
    return {
        "events": total,
        "by_type": by_type,
        "by_day": by_day,
        "people": people,
        "users": users,
        "anonymous_ids": anonymous,
        "items": items,
        "first_event": first.isoformat() if first else None,
        "last_event": last.isoformat() if last else None,
        "partitions": len({f.rsplit("/", 2)[-2] for f in files}),
        "files": len(files),
        "bytes": sum(int(fs.info(f)["size"]) for f in files),
        "lake": lake.layout.url,
    }


def stats_table(stats: dict[str, Any]) -> Table:
    """The lake summary as a table."""
    table = Table(title=f"lake {stats['lake']}", show_header=False)
    for key in (
        "events",
        "people",
        "users",
        "anonymous_ids",
        "items",
        "first_event",
        "last_event",
        "partitions",
        "files",
        "bytes",
    ):
        value = stats[key]
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    for kind, count in stats["by_type"].items():
        table.add_row(f"  {kind}", f"{count:,}")
    return table
