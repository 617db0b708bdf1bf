"""Frozen settings for every stage, read from ``INTENTFLOW_*`` variables and an optional TOML file.

Precedence, highest first: arguments given in code, environment variables, the TOML file named by
``INTENTFLOW_CONFIG`` (or ``./intentflow.toml`` when present), then the defaults below. Nested
sections use a double underscore: ``INTENTFLOW_COLLECT__MAX_BODY_BYTES=1000000``.

>>> Settings(data_dir="/tmp/x").lake_dir
'/tmp/x/lake'
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


def _validation_workers(cores: int | None) -> int:
    return max(0, min(4, (cores or 1) - 2))


class CollectSettings(_Section):
    """The HTTP collector: limits and validation policy."""

    max_body_bytes: int = 5 * 1024 * 1024
    """Largest request body accepted, after gzip decompression; larger bodies get 413."""

    max_batch_events: int = 10_000
    """Most events in one request; more get 413."""

    max_event_bytes: int = 32 * 1024
    """Largest single event (its JSON); a larger one is rejected with the reason."""

    max_properties_depth: int = 10
    """Deepest nesting allowed in ``properties``, ``traits`` and ``context``."""

    max_future_skew: timedelta = timedelta(minutes=10)
    """How far an event's timestamp may lie ahead of the server clock."""

    min_timestamp: datetime = datetime(1990, 1, 1, tzinfo=UTC)
    """Events older than this are rejected as absurd (epoch-zero and similar client bugs)."""

    validation_workers: int = Field(default_factory=lambda: _validation_workers(os.cpu_count()))
    """Worker processes that validate request bodies beside the event loop. 0 validates in the
    event loop, which on 2 cores is faster (the workers' messaging costs more CPU than it frees);
    the default keeps one core for requests and one for the flusher, and uses the rest, up to 4."""

    dedup_window: timedelta = timedelta(hours=24)
    """How long a message_id is remembered to drop client retries."""

    dedup_max_ids: int = 2_000_000
    """Most message ids remembered; when reached, the oldest are forgotten first."""


class WalSettings(_Section):
    """The write-ahead log that makes an acknowledged event durable before the reply."""

    fsync: bool = True
    """fsync every group of appended batches before acknowledging them."""

    segment_bytes: int = 64 * 1024 * 1024
    """A log segment is closed and a new one started past this size."""


class FlushSettings(_Section):
    """The background flusher that moves the log into the lake."""

    max_age_s: float = 5.0
    """Flush when the oldest unflushed event has waited this long (seconds)."""

    max_events: int = 200_000
    """Flush as soon as this many events wait, and never write more in one flush."""

    max_bytes: int = 64 * 1024 * 1024
    """Flush as soon as this many log bytes wait."""

    process: bool = True
    """Run the flusher in its own process, so that writing Parquet never holds up requests."""

    nice: int = 10
    """Scheduling niceness of the flusher thread (Linux): flushing yields the CPU to requests
    and catches up when they leave it idle. 0 keeps the process's priority."""


class LakeSettings(_Section):
    """The Parquet event lake."""

    url: str | None = None
    """Where the lake lives: a local path or an fsspec URL (``s3://bucket/prefix``).
    Defaults to ``DATA_DIR/lake``."""

    compression: str = "zstd"
    """Parquet compression codec."""

    compression_level: int | None = 1
    """Codec level; zstd level 1 writes about twice as fast as its default and, on event data,
    compresses as well. ``None`` takes the codec's default."""

    compact_target_bytes: int = 128 * 1024 * 1024
    """Compaction merges a partition's files smaller than this into files up to this size."""

    storage_options: dict[str, Any] = Field(default_factory=dict)
    """Options passed to the fsspec filesystem (for S3: ``endpoint_url``, ``key``, ``secret``)."""


class FeatureSettings(_Section):
    """User features (the catalog, its engines, its tables)."""

    engine: Literal["duckdb", "spark"] = "duckdb"
    """Where feature queries run: DuckDB in-process, or Spark."""

    spark_master: str = "local[2]"
    """The Spark master URL when ``engine`` is ``spark`` (``spark://host:7077``, ``yarn``...)."""

    session_gap_s: int = 30 * 60
    """Inactivity that starts a new session where events carry no session id."""

    duckdb_memory_limit: str | None = None
    """DuckDB's memory limit for feature queries (``4GB``); its default when unset."""


class ModelSettings(_Section):
    """Trained models: the registry and how a challenger becomes champion."""

    registry_url: str | None = None
    """Where versioned models live (a local directory). Defaults to ``DATA_DIR/models``."""

    promote_metric: Literal["roc_auc", "pr_auc", "log_loss", "brier"] = "pr_auc"
    """The test metric a challenger must beat the champion on, both scored on the challenger's
    test split. PR-AUC by default: purchases are rare, and it rewards the top of the ranking."""

    promote_margin: float = 0.0
    """How much better (in the metric's units) a challenger must be to become champion."""

    intent_trials: int = 30
    """Optuna trials when tuning the intent model."""


class SegmentSettings(_Section):
    """Behavioral segments: how people are clustered and how often segments are refreshed."""

    algorithm: Literal["kmeans", "agglomerative", "dbscan", "hdbscan"] = "kmeans"
    """The clustering algorithm when ``intentflow segment`` is not told one."""

    k_min: int = 2
    """The smallest number of segments tried when k is chosen."""

    k_max: int = 12
    """The largest number of segments tried when k is chosen."""

    choose_by: Literal["silhouette", "davies_bouldin", "calinski_harabasz", "consensus"] = (
        "silhouette"
    )
    """How k is chosen: the best silhouette, Davies-Bouldin or Calinski-Harabasz, or the best
    mean rank of the three (``consensus``)."""

    scaling: Literal["zscore", "minmax"] = "zscore"
    """How features are put on one scale after the log transform of skewed counts."""

    pca: float | None = None
    """Cluster in PCA space: a number of components (3) or a share of variance to keep (0.9).
    ``None`` clusters the scaled features themselves."""

    max_correlation: float = 0.95
    """A feature correlated beyond this with an earlier one is left out (1: keep every one)."""

    refresh_days: int = 30
    """``intentflow segment --if-due`` re-clusters once the champion is this many days old."""

    minibatch_above: int = 200_000
    """K-Means fits MiniBatch K-Means on more people than this, full K-Means below."""


class OnlineSettings(_Section):
    """People's online state: how long it is kept and how much of it."""

    ttl_s: int = 35 * 86_400
    """A person without events for this long is forgotten (the longest online window, 30 days,
    plus a margin)."""

    max_people: int = 1_000_000
    """The memory backend keeps at most this many people, evicting the least recently active."""

    namespace: str = "intentflow"
    """Prefix of every Redis key, so that several deployments can share a server."""

    cache_people: int = 20_000
    """The Redis backend keeps this many of the people it last wrote decoded in the processor,
    read again only when another processor changed them (0: none)."""


class StreamSettings(_Section):
    """The stream processor: online features, intent scores and trending as events arrive."""

    enabled: bool = True
    """``intentflow serve`` runs a processor in its own process (over the log, or as one member
    of the Kafka consumer group when ``kafka_bootstrap`` is set)."""

    lateness_s: float = Field(default=60.0, ge=0)
    """Events older than the latest event time seen minus this are late: they reach the lake but
    not the online state. A person's latest events stay this long open to late ones in their
    sessions (the longer, the more each state holds)."""

    score_every_s: float = 2.0
    """A person's intent is scored again at most this often."""

    model_check_s: float = 10.0
    """How often the registry is asked for a new champion."""

    max_batch_events: int = 5_000
    """The processor applies at most about this many events at a time."""

    topic: str = "intentflow-events"
    """The Kafka topic of accepted events, keyed by person."""

    group: str = "intentflow-stream"
    """The Kafka consumer group of the processors."""

    partitions: int = 12
    """Partitions of the topic when intentflow creates it: at most this many processors share
    the work."""

    kafka_config: dict[str, Any] = Field(default_factory=dict)
    """More librdkafka settings for every Kafka client (``security.protocol``, SASL, ...)."""


class RecommendSettings(_Section):
    """Recommendations: the routing policy and the hot lists served from memory."""

    policy: str | None = None
    """A TOML or YAML file of the routing policy and business rules (strategies by intent and
    segment, exclusions, boosts, diversity). Unset: the policy shipped with intentflow."""

    history_days: float = Field(default=7.0, gt=0)
    """The days of the lake (before its latest event) that co-visitation, popular items and
    category bests are learned from."""

    refresh_s: float = Field(default=300.0, gt=0)
    """How often the lists learned from the lake are learned again."""

    items_ttl_s: float = Field(default=10.0, ge=0)
    """How long what the rules read of an item (category, price, stock, tags) is served from
    memory: a change to an item reaches answers within this time."""

    trending_ttl_s: float = Field(default=1.0, ge=0)
    """How long a trending list is served from memory before it is asked for again."""

    segments_check_s: float = Field(default=30.0, gt=0)
    """How often the registry is asked for a new segments champion."""


class Settings(BaseSettings):
    """Every setting of intentflow, one frozen object."""

    model_config = SettingsConfigDict(
        env_prefix="INTENTFLOW_",
        env_nested_delimiter="__",
        frozen=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )

    data_dir: str = "./intentflow-data"
    """Holds ``wal/``, ``lake/``, ``quarantine/``, ``features/``, ``models/``, ``items/`` and
    ``feedback/``."""

    write_keys: Annotated[tuple[str, ...], NoDecode] = ("dev-write-key",)
    """Write keys the collector accepts (comma-separated in the environment)."""

    collect: CollectSettings = CollectSettings()
    wal: WalSettings = WalSettings()
    flush: FlushSettings = FlushSettings()
    lake: LakeSettings = LakeSettings()
    features: FeatureSettings = FeatureSettings()
    models: ModelSettings = ModelSettings()
    segments: SegmentSettings = SegmentSettings()
    online: OnlineSettings = OnlineSettings()
    stream: StreamSettings = StreamSettings()
    recommend: RecommendSettings = RecommendSettings()

    api_keys: Annotated[tuple[str, ...], NoDecode] = ("dev-read-key",)
    """Keys that may read recommendations, scores and segments (``Authorization: Bearer KEY``;
    comma-separated in the environment). Write keys do not read, nor read keys write."""

    state: Literal["memory", "redis"] = "memory"
    """Where people's online state lives: in the process, or in Redis (``redis_url``)."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    """The Redis server of the ``redis`` state backend."""

    kafka_bootstrap: str | None = None
    """Kafka's bootstrap servers (``host:port,...``): the collector forwards accepted events to
    the ``stream.topic`` and processors consume it. Unset: the in-process transport."""

    @field_validator("write_keys", "api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(k.strip() for k in value.split(",") if k.strip())
        return value

    @property
    def wal_dir(self) -> str:
        """The write-ahead log directory."""
        return os.path.join(self.data_dir, "wal")

    @property
    def quarantine_dir(self) -> str:
        """Where rejected events wait with their reasons."""
        return os.path.join(self.data_dir, "quarantine")

    @property
    def features_dir(self) -> str:
        """Feature tables, partitioned by as-of date."""
        return os.path.join(self.data_dir, "features")

    @property
    def feedback_dir(self) -> str:
        """What the API served, for joining feedback to it."""
        return os.path.join(self.data_dir, "feedback")

    @property
    def items_dir(self) -> str:
        """The item catalog of the embedded backend."""
        return os.path.join(self.data_dir, "items")

    @property
    def models_dir(self) -> str:
        """The model registry."""
        return self.models.registry_url or os.path.join(self.data_dir, "models")

    @property
    def lake_dir(self) -> str:
        """The lake root (local path or fsspec URL)."""
        return self.lake.url or os.path.join(self.data_dir, "lake")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        named = os.environ.get("INTENTFLOW_CONFIG")
        if named and not Path(named).is_file():
            raise FileNotFoundError(f"INTENTFLOW_CONFIG names {named}, which is not a file")
        toml_path = named or "intentflow.toml"
        if Path(toml_path).is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)
