"""Training tables from the lake: Step 2's point-in-time training sets, ready for the model.

A training set (``intentflow features training-set``, or
:func:`~intentflow.features.training.training_set`) has
``user_id``, ``cutoff``, the catalog's features and ``label``. As a training table the person is
the group (for splits by person), the cutoff the time (for splits in time), the catalog's version
the feature version, and the catalog's descriptions the words of the reasons.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from intentflow.config import Settings
from intentflow.features.build import VERSION_KEY
from intentflow.features.catalog import FEATURES
from intentflow.features.engines import configured_engine
from intentflow.features.labels import PURCHASE, Horizon, Label, parse_horizon
from intentflow.features.training import HORIZON_KEY, rolling_cutoffs, training_set
from intentflow.lake.reader import Lake
from intentflow.models.intent.table import TableError, TrainingTable, prepare

RULE_COLUMN = "add_to_carts_30d"
"""The rule baseline on the lake's features: more add-to-carts, more intent."""


def is_training_set(table: pa.Table) -> bool:
    """Whether ``table`` is a training set of the feature catalog (it carries its version)."""
    metadata = table.schema.metadata or {}
    return VERSION_KEY in metadata and {"user_id", "cutoff", "label"} <= set(table.column_names)


def from_training_set(table: pa.Table, *, folds: int = 5) -> TrainingTable:
    """A training table of a training set (see the module's doc)."""
    if not is_training_set(table):
        raise TableError("not a training set of the feature catalog (no catalog version)")
    prepared = prepare(table.to_pandas(), "label", folds=folds, group="user_id", time="cutoff")
    metadata = table.schema.metadata
    horizon = metadata.get(HORIZON_KEY)
    reach = parse_horizon(horizon.decode()).reach if horizon else None
    return dataclasses.replace(
        prepared,
        reach=np.timedelta64(reach) if reach is not None else None,
        feature_version=metadata[VERSION_KEY].decode(),
        descriptions={f.name: f.description for f in FEATURES},
    )


def default_cutoffs(lake: Lake, horizon: Horizon, every: timedelta) -> list[datetime]:
    """Cutoffs ``every`` apart from one ``every`` after the first event to the last moment whose
    horizon the lake has seen whole (a later cutoff would count late buyers as negatives)."""
    span = lake.time_range()
    if span is None:
        raise TableError("the lake is empty: collect or import events first")
    first, last = span
    cutoffs = rolling_cutoffs(first + every, last - horizon.reach, every)
    if not cutoffs:
        raise TableError(
            f"the lake spans {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}: too short for "
            f"cutoffs every {every} with a {horizon.name} horizon"
        )
    return cutoffs


def lake_table(
    settings: Settings,
    *,
    horizon: Horizon,
    every: timedelta,
    label: Label = PURCHASE,
    cutoffs: list[datetime] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TrainingTable:
    """A training table of the lake's features at ``cutoffs`` (default: every ``every`` over
    the lake, :func:`default_cutoffs`); ``progress(done, total)`` after each cutoff."""
    lake = Lake(settings.lake_dir, settings.lake.storage_options)
    moments = cutoffs or default_cutoffs(lake, horizon, every)
    done = [0]

    def advance(_: datetime) -> None:
        done[0] += 1
        if progress:
            progress(done[0], len(moments))

    table = training_set(
        lake,
        cutoffs=moments,
        horizon=horizon,
        label=label,
        engine=configured_engine(settings),
        gap_s=settings.features.session_gap_s,
        progress=advance,
    )
    return from_training_set(table)
