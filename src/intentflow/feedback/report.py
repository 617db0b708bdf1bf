"""Click-through and conversion of what was served, per strategy and per segment.

Feedback comes back through the normal event API with the answer's ``rec_id`` in the event's
``properties``: a ``custom`` event named ``impression`` (the answer was shown), a ``click`` or
``product_view`` of one of its items (a click; an item the answer did not hold does not
count), a ``purchase`` (a conversion). An answer counts once for each: shown, clicked,
converted. Its *shown* basis is the impressions when any came back, else every served answer
with items. CTR is clicked over shown; conversion is converted over shown.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from intentflow.lake.reader import Lake

IMPRESSION = "impression"
"""The name of the ``custom`` event that says an answer was shown."""

_PER_ANSWER = """
WITH feedback AS (
  SELECT json_extract_string(properties, '$.rec_id') AS rec_id, type, name, item_id
  FROM lake_events
  WHERE properties IS NOT NULL AND json_extract_string(properties, '$.rec_id') IS NOT NULL
)
SELECT s.rec_id, s.strategy, COALESCE(s.segment, '(none)') AS segment,
       len(s.items) > 0 AS served,
       COALESCE(bool_or(f.type = 'custom' AND f.name = '{impression}'), false) AS impressed,
       COALESCE(bool_or(f.type IN ('click', 'product_view')
                        AND (f.item_id IS NULL OR list_contains(s.items, f.item_id))), false)
         AS clicked,
       COALESCE(bool_or(f.type = 'purchase'), false) AS converted
FROM served AS s LEFT JOIN feedback AS f ON f.rec_id = s.rec_id
GROUP BY ALL
"""


def _rates(rows: list[tuple[Any, ...]], by_impressions: bool) -> list[dict[str, Any]]:
    out = []
    for key, served, impressed, clicked, converted in rows:
        shown = impressed if by_impressions else served
        out.append(
            {
                "key": key,
                "served": served,
                "impressions": impressed,
                "clicks": clicked,
                "conversions": converted,
                "ctr": round(clicked / shown, 4) if shown else None,
                "conversion": round(converted / shown, 4) if shown else None,
            }
        )
    return out


def recs_report(lake: Lake, feedback_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The report as a mapping: ``shown_by`` (impressions or served), and per ``strategy`` and
    per ``segment`` the served answers, impressions, clicks, conversions, CTR and conversion
    rate."""
    files = sorted(Path(feedback_dir, "served").glob("date=*/*.jsonl"))
    if not files:
        return {"shown_by": "served", "answers": 0, "strategy": [], "segment": []}
    con = lake.connect()
    try:
        con.register("lake_events", lake.events(con))
        served = con.read_json(
            [str(f) for f in files],
            format="newline_delimited",
            columns={
                "rec_id": "VARCHAR",
                "strategy": "VARCHAR",
                "segment": "VARCHAR",
                "items": "VARCHAR[]",
            },
        )
        con.register("served", served)
        con.execute("CREATE TEMP TABLE answers AS " + _PER_ANSWER.format(impression=IMPRESSION))
        (answers, impressions) = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE impressed) FROM answers"
        ).fetchone() or (0, 0)
        by_impressions = bool(impressions)
        report: dict[str, Any] = {
            "shown_by": "impressions" if by_impressions else "served",
            "answers": answers,
        }
        for column in ("strategy", "segment"):
            rows = con.execute(
                f"SELECT {column}, count(*) FILTER (WHERE served), "
                "count(*) FILTER (WHERE impressed), count(*) FILTER (WHERE clicked), "
                f"count(*) FILTER (WHERE converted) FROM answers GROUP BY 1 ORDER BY 1"
            ).fetchall()
            report[column] = _rates(rows, by_impressions)
        return report
    finally:
        con.close()


def plot(report: dict[str, Any], path: Path) -> Path:
    """CTR and conversion per strategy as a bar chart (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["strategy"]
    names = [r["key"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.4
    xs = range(len(names))
    ax.bar([x - width / 2 for x in xs], [r["ctr"] or 0 for r in rows], width, label="CTR")
    ax.bar(
        [x + width / 2 for x in xs],
        [r["conversion"] or 0 for r in rows],
        width,
        label="conversion",
    )
    ax.set_xticks(list(xs), names)
    ax.set_ylabel(f"share of answers shown ({report['shown_by']})")
    ax.set_title("Recommendations: click-through and conversion per strategy")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
