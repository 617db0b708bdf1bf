"""Point-in-time training sets: (person, cutoff, features, label) rows over one or more cutoffs.

At each cutoff the features come from events strictly before it, and the label from events in
the horizon after it (:mod:`intentflow.features.labels`), in one query per cutoff; both engines
run it. Rows whose label is undefined (no open session at the cutoff, for a rest-of-session
label) are left out.

>>> from datetime import UTC, datetime, timedelta
>>> [c.hour for c in rolling_cutoffs(datetime(2026, 1, 1, tzinfo=UTC),
...     datetime(2026, 1, 1, 18, tzinfo=UTC), timedelta(hours=6))]
[0, 6, 12, 18]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from intentflow.features.build import (
    AS_OF_KEY,
    SKIPPED_KEY,
    VERSION_KEY,
    cutoff_us,
    run_query,
    skipped_files,
)
from intentflow.features.catalog import FEATURES, catalog_version
from intentflow.features.engines import DuckDBEngine, Engine
from intentflow.features.kinds import SESSION_GAP_S, Feature
from intentflow.features.labels import PURCHASE, Horizon, Label, Within
from intentflow.features.query import feature_query
from intentflow.lake.reader import Lake, as_utc

LABEL_KEY = b"intentflow.label"
HORIZON_KEY = b"intentflow.horizon"


def rolling_cutoffs(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    """Cutoffs from ``start`` to ``end`` (both included when ``end`` falls on one), ``every``
    apart."""
    if every <= timedelta(0):
        raise ValueError("the step between cutoffs must be positive")
    out, moment = [], start
    while moment <= end:
        out.append(moment)
        moment += every
    return out


def training_set(
    lake: Lake,
    *,
    cutoffs: Sequence[datetime],
    horizon: Horizon | timedelta,
    label: Label = PURCHASE,
    engine: Engine | None = None,
    features: Sequence[Feature] = FEATURES,
    gap_s: int = SESSION_GAP_S,
    progress: Callable[[datetime], None] | None = None,
    skip_corrupt: bool = False,
) -> pa.Table:
    """Rows of ``user_id``, ``cutoff``, every feature at the cutoff and ``label`` (did the person
    send an event of ``label`` in ``horizon`` after it), for each of ``cutoffs``.

    ``horizon`` is :data:`~intentflow.features.labels.REST_OF_SESSION`, a
    :class:`~intentflow.features.labels.Within`, or a plain ``timedelta`` (the same as
    ``Within``). ``progress`` is called after each cutoff; ``skip_corrupt``: see
    :func:`~intentflow.features.build.run_query`.
    """
    if not cutoffs:
        raise ValueError("a training set needs at least one cutoff")
    span = Within(horizon) if isinstance(horizon, timedelta) else horizon
    run = engine or DuckDBEngine()
    moments = sorted({as_utc(c) for c in cutoffs})
    parts = []
    skipped: list[str] = []
    for moment in moments:
        sql = feature_query(features, cutoff_us(moment), gap_s=gap_s, label=(label, span))
        table = run_query(run, sql, lake, moment + span.reach, skip_corrupt=skip_corrupt)
        found = skipped_files(table)
        if found:  # left out of the later cutoffs too, without searching again
            skipped += found
            lake = lake.excluding(set(found))
        table = table.filter(pc.is_valid(table["label"]))
        stamp = pa.array([moment] * table.num_rows, pa.timestamp("us", tz="UTC"))
        parts.append(table.add_column(1, "cutoff", stamp))
        if progress:
            progress(moment)
    out = pa.concat_tables([part.replace_schema_metadata(None) for part in parts])
    return out.replace_schema_metadata(
        {
            **({SKIPPED_KEY: ",".join(sorted(skipped)).encode()} if skipped else {}),
            VERSION_KEY: catalog_version(tuple(features)).encode(),
            AS_OF_KEY: ",".join(m.isoformat() for m in moments).encode(),
            LABEL_KEY: label.name.encode(),
            HORIZON_KEY: span.name.encode(),
        }
    )
