"""The item catalog: what recommendations may show, with the metadata rules read (category path,
price, stock, tags, creation time). Items are put through the API or imported in bulk
(authoritative), and appear from events as they are seen (category and price, first seen as
their creation time) until they are put. One contract (:mod:`.base`), kept in the process with a
file beside the data (:mod:`.local`) or in Redis (:mod:`.redis`), as people's state is."""

from __future__ import annotations

from intentflow.config import Settings
from intentflow.items.base import ItemStore


def open_items(settings: Settings) -> ItemStore:
    """The catalog of the configured backend (``INTENTFLOW_STATE``): Redis when people's state
    is there, so that every process sees the same items; else the data directory's file."""
    if settings.state == "redis":
        from intentflow.items.redis import RedisItems

        return RedisItems(settings.redis_url, namespace=settings.online.namespace)
    from intentflow.items.local import LocalItems

    return LocalItems(settings.items_dir)
