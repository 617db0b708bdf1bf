"""The contract every state backend keeps, and the compact encoding they share.

A store maps a person id to their :class:`~intentflow.features.online.OnlinePerson`. Each person
has one writer (the processor that owns their partition), which reads a batch of people, applies
their events and writes them back; so a put replaces a person whole. With the people it writes
the positions its source has reached (a Kafka partition's offset, the log's position), in one
atomic step: after a crash the processor skips what the state already holds, so no event counts
twice even when the source delivers it again. A person not written for
``ttl_s`` seconds is forgotten. A state handed to a put belongs to the store: read it again to
change it. The encoding is the person's flat state list in msgpack: small
integers and values, no names (features are numbered by the catalog).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec

from intentflow.features.online import Catalog, OnlinePerson
from intentflow.stream.trending import WINDOWS, Hit

log = logging.getLogger(__name__)
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list)


def encode(person: OnlinePerson) -> bytes:
    """A person's state as bytes."""
    return _encoder.encode(person.dump())


def decode(catalog: Catalog, data: bytes) -> OnlinePerson:
    """A person from :func:`encode`'s bytes."""
    return OnlinePerson.load(catalog, _decoder.decode(data))


class StateConflictError(RuntimeError):
    """A person changed in the store between a processor's read and its write (another
    processor wrote them): nothing of the batch was written, and it is to be applied again."""


@dataclass(frozen=True)
class StoreStats:
    """What a store holds."""

    people: int
    encoded_bytes: int
    """The people's states, encoded (for Redis: what its values take, keys and overhead aside)."""


class StateStore(ABC):
    """People's online state (see the module's doc)."""

    catalog: Catalog

    @abstractmethod
    def get_many(self, people: Sequence[str]) -> dict[str, OnlinePerson]:
        """The state of each of ``people`` that the store holds (the others are absent)."""

    @abstractmethod
    def put_many(
        self,
        people: Mapping[str, OnlinePerson],
        positions: Mapping[str, int] | None = None,
        *,
        links: Mapping[str, str] | None = None,
        gone: Sequence[str] = (),
    ) -> None:
        """Store each person's state whole (their idle time starts again) and, in the same
        atomic step, the source ``positions`` these states include, the ``links`` of anonymous
        ids to their users (kept as long as people are), and forget the people ``gone`` (the
        anonymous ids whose history their user took in)."""

    @abstractmethod
    def aliases(self, ids: Sequence[str]) -> dict[str, str]:
        """The user each of ``ids`` (anonymous ids) is linked to, for those that are."""

    @abstractmethod
    def positions(self) -> dict[str, int]:
        """The source positions the stored states include (by source partition)."""

    @abstractmethod
    def delete(self, people: Sequence[str]) -> None:
        """Forget ``people``."""

    @abstractmethod
    def stats(self) -> StoreStats:
        """How many people the store holds, and their size."""

    def commit(
        self,
        people: Mapping[str, OnlinePerson],
        positions: Mapping[str, int],
        trending: TrendingStore | None = None,
        hits: Sequence[Hit] = (),
        *,
        links: Mapping[str, str] | None = None,
        gone: Sequence[str] = (),
    ) -> None:
        """Write ``people``, ``positions``, ``links`` and ``gone`` (:meth:`put_many`) and add the
        ``hits`` of the same events to ``trending``: in one atomic step where the backends allow
        it (Redis, with trending on the same server), else the hits right after (a crash between
        the two loses them, never counts them twice; so does a failure to add them, which is
        logged)."""
        self.put_many(people, positions, links=links, gone=gone)
        if trending is not None and hits:
            try:
                trending.add(hits)
            except Exception as exc:  # the states are written: the batch must not come again
                log.error("lost %d trending hits: %s", len(hits), exc)

    def get(self, person: str) -> OnlinePerson | None:
        """One person's state, if held."""
        return self.get_many([person]).get(person)

    def find(self, person: str) -> tuple[str, OnlinePerson | None]:
        """A person's state by their id, or by an anonymous id linked to them: the id it is held
        under, and the state (None when there is none). For readers beside the processor (the
        API): the state is theirs to read, not to write back."""
        found = self.get(person)
        if found is None and (linked := self.aliases([person]).get(person)) is not None:
            return linked, self.get(linked)
        return person, found

    def put(self, person: str, state: OnlinePerson) -> None:
        """Store one person's state."""
        self.put_many({person: state})

    def close(self) -> None:  # noqa: B027 (a no-op unless the backend holds connections)
        """Release connections (the memory store has none)."""


Ranked = list[tuple[str, float]]
"""Names with their scores, best first."""


class TrendingStore(ABC):
    """Item and category scores over the trending windows (see
    :mod:`intentflow.stream.trending`), shared by every processor."""

    windows = WINDOWS

    @abstractmethod
    def add(self, hits: Sequence[Hit]) -> None:
        """Add each hit's weight to its item and category in every window."""

    @abstractmethod
    def top(
        self,
        window: str,
        n: int,
        now_us: int,
        *,
        category: str | None = None,
        of: Literal["items", "categories"] = "items",
    ) -> Ranked:
        """The ``n`` best items (within ``category`` when given) or categories of ``window`` at
        ``now_us``, with their decayed scores."""

    def close(self) -> None:  # noqa: B027 (a no-op unless the backend holds connections)
        """Release connections."""
