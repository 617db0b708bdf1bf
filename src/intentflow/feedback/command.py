"""``intentflow report recs``: click-through and conversion of what the API served."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from intentflow.config import Settings
from intentflow.models.command import report_app

console = Console(stderr=True)


@report_app.command("recs")
def recs(
    out: Annotated[
        Path | None, typer.Option(help="The PNG plot (default: DATA_DIR/reports/recs.png).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Only the JSON line.")] = False,
) -> None:
    """CTR and conversion per strategy and per segment, from the served answers and the
    feedback events that carry their rec_id (see intentflow.feedback.report); the last line
    printed is the report as JSON."""
    from intentflow.feedback.report import plot, recs_report
    from intentflow.lake.reader import Lake

    settings = Settings()
    with console.status("joining feedback to what was served"):
        report = recs_report(
            Lake(settings.lake_dir, settings.lake.storage_options), settings.feedback_dir
        )
    if not as_json:
        for column in ("strategy", "segment"):
            table = Table(title=f"per {column} (shown: {report['shown_by']})")
            for name in (column, "served", "impressions", "clicks", "conversions", "CTR", "conv."):
                table.add_column(name, justify="left" if name == column else "right")
            for row in report[column]:
                table.add_row(
                    str(row["key"]),
                    *(
                        str(row[k])
                        for k in (
                            "served",
                            "impressions",
                            "clicks",
                            "conversions",
                            "ctr",
                            "conversion",
                        )
                    ),
                )
            console.print(table)
        if report["strategy"]:
            target = out or Path(os.path.join(settings.data_dir, "reports", "recs.png"))
            console.print(f"plot: {plot(report, target)}")
    sys.stdout.write(json.dumps(report) + "\n")
