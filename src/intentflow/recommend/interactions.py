"""People's interactions with items, from the lake: who, which item (and its category), what
kind of event, when, and how much it weighs (purchase > add-to-cart > wishlist > view, the
trending weights).

>>> WEIGHT_SQL.startswith("CASE type")
True
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import pandas as pd

from intentflow.lake.reader import Lake
from intentflow.stream.trending import WEIGHTS

WEIGHT_SQL: Final = (
    "CASE type "
    + " ".join(f"WHEN '{kind}' THEN {weight}" for kind, weight in WEIGHTS.items())
    + " END"
)
"""An event's weight in SQL (NULL for types that are no interaction with an item)."""

COLUMNS: Final = ("person", "item", "category", "type", "us", "weight")


def interactions(
    lake: Lake, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """The interactions with ``start <= timestamp < end``, in time order (ties by message id):
    one row per event of a weighted type with an item, keyed by user id, else anonymous id."""
    con = lake.connect()
    try:
        events = lake.events(con, start, end)
        con.register("lake_events", events)
        return con.execute(
            "SELECT COALESCE(user_id, anonymous_id) AS person, item_id AS item, category, type, "
            f"EPOCH_US(timestamp) AS us, {WEIGHT_SQL} AS weight FROM lake_events "
            f"WHERE item_id IS NOT NULL AND ({WEIGHT_SQL}) IS NOT NULL "
            "AND COALESCE(user_id, anonymous_id) IS NOT NULL ORDER BY us, message_id"
        ).df()
    finally:
        con.close()
