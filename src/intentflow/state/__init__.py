"""People's online state behind one contract (:class:`~intentflow.state.base.StateStore`), in
the process (:mod:`.memory`) or in Redis (:mod:`.redis`)."""

from __future__ import annotations

from intentflow.config import Settings
from intentflow.features.online import Catalog, online_features
from intentflow.state.base import StateStore, TrendingStore


def open_store(settings: Settings, catalog: Catalog | None = None) -> StateStore:
    """The configured backend (``INTENTFLOW_STATE``), keeping ``catalog``'s features (by
    default every online feature, with the configured session gap and lateness)."""
    if catalog is None:
        catalog = Catalog.of(
            online_features(), settings.features.session_gap_s, settings.stream.lateness_s
        )
    if settings.state == "redis":
        from intentflow.state.redis import RedisStore

        return RedisStore(
            settings.redis_url,
            catalog,
            namespace=settings.online.namespace,
            ttl_s=settings.online.ttl_s,
            cache_people=settings.online.cache_people,
        )
    from intentflow.state.memory import MemoryStore

    return MemoryStore(catalog, ttl_s=settings.online.ttl_s, max_people=settings.online.max_people)


def open_trending(settings: Settings) -> TrendingStore:
    """The configured backend's trending scores."""
    if settings.state == "redis":
        from intentflow.state.redis import RedisTrending

        return RedisTrending(settings.redis_url, namespace=settings.online.namespace)
    from intentflow.state.memory import MemoryTrending

    return MemoryTrending()
