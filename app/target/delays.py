"""A request's delay as a pure function of the seed and the request target (pure).

The same seed gives `/17?delay=0-3` the same delay in every run, in any arrival order, from any
worker process and with any number of workers, so two runs against the target see the same
delays. A random generator running across requests gave none of that: its n-th draw went to
whichever request arrived n-th, and each worker drew its own sequence.
"""

from __future__ import annotations

import hashlib

_TO_UNIT = 2.0**-64  # a 64-bit digest onto [0, 1]


class DelayHash:
    """Maps a request target (path and query, as sent) onto [0, 1] for one seed.

    Keyed BLAKE2b: stable across processes and Python versions, unlike the salted built-in
    hash(), and well spread even for targets differing in one digit. The keyed state is
    built once; per request it is copied, which skips hashing the key block again (~0.45 µs).
    """

    __slots__ = ("_keyed",)

    def __init__(self, seed: int):
        # Any int is a valid seed: its decimal digits are hashed down to a key of legal length.
        key = hashlib.blake2b(b"%d" % seed, digest_size=32).digest()
        self._keyed = hashlib.blake2b(digest_size=8, key=key)

    def fraction(self, target: bytes) -> float:
        hasher = self._keyed.copy()
        hasher.update(target)
        return int.from_bytes(hasher.digest(), "little") * _TO_UNIT


def delay_for(seed: int, target: bytes, low: float, high: float) -> float:
    """The delay the target gives `target` in [low, high]: for tests and documentation."""
    return low + DelayHash(seed).fraction(target) * (high - low)
