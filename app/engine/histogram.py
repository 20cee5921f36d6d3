"""HDR-style log-linear latency histogram (pure: numpy only).

Values are microseconds. Buckets follow HdrHistogram's layout with 3 significant
digits: 2048 sub-buckets per power of two, so every value is kept to within
1/1024 of itself from 1 µs up to 60 s. Histograms merge exactly by adding their
count arrays, which is what makes totals and percentiles across seconds, workers
and runs honest (never an average of percentiles).

Recording is done in batches: the hot path appends raw nanosecond integers to a
list and `record_ns` bins a whole second of them with one `np.bincount`, which
costs a few ns per value instead of ~2 µs for a per-value `record_value`.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np

LOWEST_US = 1
HIGHEST_US = 60_000_000
_SUB_BITS = 11                      # 2048 sub-buckets: 3 significant digits
_SUB_COUNT = 1 << _SUB_BITS
_HALF = _SUB_COUNT >> 1
_SUB_MASK = _SUB_COUNT - 1
# buckets needed so that HIGHEST_US fits: bucket b spans up to SUB_COUNT << b
_BUCKETS = max(1, math.ceil(math.log2(HIGHEST_US / _SUB_COUNT)) + 1)
SIZE = (_BUCKETS + 1) * _HALF


def _indices(values_us: np.ndarray) -> np.ndarray:
    v = np.clip(values_us, LOWEST_US, HIGHEST_US).astype(np.int64)
    # bit length of (v | mask): exact in float64 for values < 2**53
    bit_len = np.frexp((v | _SUB_MASK).astype(np.float64))[1].astype(np.int64)
    bucket = bit_len - _SUB_BITS
    sub = v >> bucket
    return (bucket << (_SUB_BITS - 1)) + sub


def _lowest_of(index: np.ndarray | int) -> np.ndarray:
    idx = np.asarray(index, dtype=np.int64)
    bucket = np.maximum((idx >> (_SUB_BITS - 1)) - 1, 0)
    sub = idx - (bucket << (_SUB_BITS - 1))
    return sub << bucket


def _width_of(index: np.ndarray | int) -> np.ndarray:
    idx = np.asarray(index, dtype=np.int64)
    bucket = np.maximum((idx >> (_SUB_BITS - 1)) - 1, 0)
    return np.left_shift(1, bucket)


class Histogram:
    """Counts per bucket plus exact count/sum/min/max in nanoseconds."""

    __slots__ = ("counts", "total", "sum_ns", "min_ns", "max_ns")

    def __init__(self) -> None:
        self.counts = np.zeros(SIZE, dtype=np.int64)
        self.total = 0
        self.sum_ns = 0
        self.min_ns = 0
        self.max_ns = 0

    def record_ns(self, values_ns: Sequence[int] | np.ndarray) -> None:
        if len(values_ns) == 0:
            return
        arr = np.asarray(values_ns, dtype=np.int64)
        self.counts += np.bincount(_indices(arr // 1000), minlength=SIZE)[:SIZE]
        lo, hi = int(arr.min()), int(arr.max())
        self.min_ns = lo if self.total == 0 else min(self.min_ns, lo)
        self.max_ns = max(self.max_ns, hi)
        self.total += len(arr)
        self.sum_ns += int(arr.sum())

    def add(self, other: Histogram) -> None:
        if other.total == 0:
            return
        self.counts += other.counts
        self.min_ns = other.min_ns if self.total == 0 else min(self.min_ns, other.min_ns)
        self.max_ns = max(self.max_ns, other.max_ns)
        self.total += other.total
        self.sum_ns += other.sum_ns

    def copy(self) -> Histogram:
        h = Histogram()
        h.add(self)
        return h

    def mean_ms(self) -> float:
        return self.sum_ns / self.total / 1e6 if self.total else 0.0

    def percentiles_ms(self, ps: Sequence[float]) -> list[float]:
        """Value at each percentile (0–100), in ms, like HdrHistogram's
        getValueAtPercentile: the highest value equivalent to the bucket holding
        the ceil(p% · n)-th value, clamped to the exact min and max."""
        if self.total == 0:
            return [0.0 for _ in ps]
        cum = np.cumsum(self.counts)
        out = []
        for p in ps:
            rank = max(1, math.ceil(p / 100.0 * self.total))
            if rank >= self.total:      # the top is known exactly, even past 60 s
                out.append(self.max_ns / 1e6)
                continue
            idx = int(np.searchsorted(cum, rank))
            high_us = int(_lowest_of(idx) + _width_of(idx) - 1)
            value_ns = min(max(high_us * 1000 + 999, self.min_ns), self.max_ns)
            out.append(value_ns / 1e6)
        return out

    def percentile_ms(self, p: float) -> float:
        return self.percentiles_ms([p])[0]

    def buckets_ms(self) -> list[tuple[float, int]]:
        """(bucket lower bound in ms, count) for every non-empty bucket."""
        nz = np.nonzero(self.counts)[0]
        lows = _lowest_of(nz)
        return [(int(lo) / 1000.0, int(c)) for lo, c in zip(lows, self.counts[nz])]

    # -- encoding: sparse (index, count) pairs, zlib-compressed -----------------

    def encode(self) -> bytes:
        nz = np.nonzero(self.counts)[0].astype(np.int32)
        header = np.array([self.total, self.sum_ns, self.min_ns, self.max_ns, len(nz)],
                          dtype=np.int64)
        payload = header.tobytes() + nz.tobytes() + self.counts[nz].astype(np.int64).tobytes()
        return zlib.compress(payload, 1)

    @classmethod
    def decode(cls, blob: bytes) -> Histogram:
        raw = zlib.decompress(blob)
        header = np.frombuffer(raw, dtype=np.int64, count=5)
        n = int(header[4])
        idx = np.frombuffer(raw, dtype=np.int32, count=n, offset=40)
        counts = np.frombuffer(raw, dtype=np.int64, count=n, offset=40 + 4 * n)
        h = cls()
        h.counts[idx] = counts
        h.total, h.sum_ns, h.min_ns, h.max_ns = (int(x) for x in header[:4])
        return h

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Histogram) and self.total == other.total
                and self.sum_ns == other.sum_ns and self.min_ns == other.min_ns
                and self.max_ns == other.max_ns
                and bool(np.array_equal(self.counts, other.counts)))

    def __reduce__(self):  # pickles as its compact encoding (pipe protocol)
        return (Histogram.decode, (self.encode(),))
