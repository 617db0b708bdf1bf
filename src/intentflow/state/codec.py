"""How a shared store keeps people's states small: msgpack, compressed with zstd against a
dictionary trained on the deployment's own states.

A person's state is a few hundred bytes, too little for a compressor to find repeats in; but
people's states repeat each other (state numbers, item-id prefixes, categories, times of the same
days), and a dictionary of what they share lets zstd halve each one. The dictionary is trained from
the first :data:`SAMPLES` states a store writes, and kept beside them (one per namespace and
catalog version): the first processor to offer one wins, every other reads that one, so whoever
reads a state can decode it. Until there is a dictionary, states are stored plain.

A stored state's first byte tells which: :data:`COMPRESSED`, then a byte of the dictionary's
fingerprint, before a zstd frame (without its magic number); or the msgpack array a plain state
is. A state compressed with another dictionary than the stored one is refused, never misread.

>>> from intentflow.features.online import Catalog, online_features
>>> shelf = {}
>>> codec = Codec(Catalog.of(online_features()), Shelf(shelf.get, shelf.setdefault))
>>> plain = codec.encode(OnlinePerson(codec.catalog))
>>> plain[0] == COMPRESSED, codec.decode(plain).states
(False, {})
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
import zstandard

from intentflow.features.online import Catalog, OnlinePerson

log = logging.getLogger(__name__)

COMPRESSED = 0x01
"""The first byte of a compressed state (a msgpack array starts with 0x90 or more)."""

SAMPLES = 500
"""The states a dictionary is trained on (more made it no better, and left more people written
plain before it); twice as many each time they were too few, up to :data:`MAX_SAMPLES`."""

MAX_SAMPLES = 64_000

DICTIONARY_BYTES = 4_096
"""A dictionary's size: a few hundred states teach one this big; a 16 KB one took 5% off the
stream's states only when trained on thousands."""

LEVEL = 3
"""zstd's level: 6 took three times as long for 4.5% fewer bytes."""

_FORMAT = zstandard.FORMAT_ZSTD1_MAGICLESS


@dataclass(frozen=True)
class Shelf:
    """Where a store keeps its dictionary: ``get`` gives the stored one (or None) and ``offer``
    stores one unless there is one already, and gives the one stored."""

    get: Callable[[str], bytes | None]
    offer: Callable[[str, bytes], bytes]


class Codec:
    """Encodes and decodes people's states for one store (see the module's doc)."""

    def __init__(self, catalog: Catalog, shelf: Shelf, *, samples: int = SAMPLES):
        self.catalog = catalog
        self.shelf = shelf
        self.samples = samples
        self.name = f"dictionary:{catalog.version}"
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(list)
        self.dictionary: bytes | None = None
        """The dictionary in use, if any."""
        self.digest = ""
        """The SHA-1 of the dictionary in use (hex; empty without one)."""
        self._head = b""
        self._compressor: zstandard.ZstdCompressor | None = None
        self._decompressor: zstandard.ZstdDecompressor | None = None
        self._seen: list[bytes | bytearray | memoryview[int]] = []
        self._use(shelf.get(self.name))

    @property
    def trained(self) -> bool:
        """Whether states are compressed."""
        return self._compressor is not None

    def _use(self, stored: bytes | None) -> None:
        if stored is None or stored == self.dictionary:
            return
        self.dictionary = stored
        self.digest = hashlib.sha1(stored).hexdigest()
        self._head = bytes((COMPRESSED, int(self.digest[:2], 16)))
        dictionary = zstandard.ZstdCompressionDict(stored)
        params = zstandard.ZstdCompressionParameters.from_level(
            LEVEL, format=_FORMAT, write_content_size=1, write_checksum=0, write_dict_id=0
        )
        self._compressor = zstandard.ZstdCompressor(dict_data=dictionary, compression_params=params)
        self._decompressor = zstandard.ZstdDecompressor(dict_data=dictionary, format=_FORMAT)
        self._seen = []

    def reload(self) -> None:
        """Use the stored dictionary (another processor's, after this one's was lost)."""
        self._use(self.shelf.get(self.name))

    def restore(self) -> None:
        """Offer the dictionary in use again (the stored one is gone), and use the one stored
        then."""
        if self.dictionary is not None:
            self._use(self.shelf.offer(self.name, self.dictionary))

    def encode(self, person: OnlinePerson) -> bytes:
        """A person's state as stored."""
        plain = self._encoder.encode(person.dump())
        if self._compressor is None:
            self._learn(plain)
            if self._compressor is None:
                return plain
        return self._head + self._compressor.compress(plain)

    def decode(self, data: bytes) -> OnlinePerson:
        """A person from :meth:`encode`'s bytes (compressed ones by the stored dictionary)."""
        if data[:1] == bytes((COMPRESSED,)):
            if data[:2] != self._head:  # another processor trained it, or replaced a lost one
                self.reload()
            if self._decompressor is None or data[:2] != self._head:
                raise ValueError("a state compressed with a dictionary that is not stored")
            data = self._decompressor.decompress(data[2:])
        return OnlinePerson.load(self.catalog, self._decoder.decode(data))

    def _learn(self, plain: bytes) -> None:
        if not self.samples:  # given up
            return
        self._seen.append(plain)
        if len(self._seen) < self.samples:
            return
        try:
            trained = zstandard.train_dictionary(DICTIONARY_BYTES, self._seen).as_bytes()
        except zstandard.ZstdError as exc:  # too little to learn from: wait for more
            if self.samples * 2 > MAX_SAMPLES:
                log.warning("states stay plain: no dictionary from %d (%s)", self.samples, exc)
                self._seen, self.samples = [], 0
            else:
                self.samples *= 2
            return
        self._use(self.shelf.offer(self.name, trained))
