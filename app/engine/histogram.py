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
_EMPTY = np.zeros(0, dtype=np.int64)


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
    """Counts per bucket plus exact count/sum/min/max in nanoseconds.

    The counts cover only the range of buckets in use: `counts[k]` is bucket `lo + k`.
    A second's latencies span a few hundred buckets of the 17,408 there are, so a
    histogram is a few KB, not 139, to allocate, add, scan and encode; a run with many
    endpoints makes one per endpoint per second."""

    __slots__ = ("counts", "lo", "total", "sum_ns", "min_ns", "max_ns")

    def __init__(self) -> None:
        self.counts = _EMPTY
        self.lo = 0
        self.total = 0
        self.sum_ns = 0
        self.min_ns = 0
        self.max_ns = 0

    def record_ns(self, values_ns: Sequence[int] | np.ndarray) -> None:
        if len(values_ns) == 0:
            return
        arr = np.asarray(values_ns, dtype=np.int64)
        self._record(arr, _indices(arr // 1000))

    def _record(self, arr: np.ndarray, idx: np.ndarray) -> None:
        lo = int(idx.min())
        self._add_counts(lo, np.bincount(idx - lo))
        lo_ns, hi_ns = int(arr.min()), int(arr.max())
        self.min_ns = lo_ns if self.total == 0 else min(self.min_ns, lo_ns)
        self.max_ns = max(self.max_ns, hi_ns)
        self.total += len(arr)
        self.sum_ns += int(arr.sum())

    @classmethod
    def by_group(cls, values_ns: np.ndarray, groups: np.ndarray) -> dict[int, Histogram]:
        """One histogram per group id of values_ns (two arrays of one length), binned in
        one pass: how a second's latencies are split by endpoint."""
        if not len(values_ns):
            return {}
        order = np.argsort(groups, kind="stable")
        ids, starts = np.unique(groups[order], return_index=True)
        values = values_ns[order]
        idx = _indices(values // 1000)
        bounds = [*starts.tolist(), len(values)]
        out = {}
        for k, group in enumerate(ids.tolist()):
            h = out[group] = cls()
            h._record(values[bounds[k]:bounds[k + 1]], idx[bounds[k]:bounds[k + 1]])
        return out

    def add(self, other: Histogram) -> None:
        if other.total == 0:
            return
        self._add_counts(other.lo, other.counts)
        self.min_ns = other.min_ns if self.total == 0 else min(self.min_ns, other.min_ns)
        self.max_ns = max(self.max_ns, other.max_ns)
        self.total += other.total
        self.sum_ns += other.sum_ns

    def _add_counts(self, lo: int, counts: np.ndarray) -> None:
        """Add counts of buckets lo, lo + 1, ...: the range grows to cover both."""
        if not len(self.counts):
            # a copy: the counts given may be another histogram's
            self.lo, self.counts = lo, counts.astype(np.int64, copy=True)
            return
        start, end = min(self.lo, lo), max(self.lo + len(self.counts), lo + len(counts))
        if start != self.lo or end != self.lo + len(self.counts):
            grown = np.zeros(end - start, dtype=np.int64)
            grown[self.lo - start:self.lo - start + len(self.counts)] = self.counts
            self.lo, self.counts = start, grown
        self.counts[lo - start:lo - start + len(counts)] += counts

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
            idx = self.lo + int(np.searchsorted(cum, rank))
            high_us = int(_lowest_of(idx) + _width_of(idx) - 1)
            value_ns = min(max(high_us * 1000 + 999, self.min_ns), self.max_ns)
            out.append(value_ns / 1e6)
        return out

    def percentile_ms(self, p: float) -> float:
        return self.percentiles_ms([p])[0]

    def buckets_ms(self) -> list[tuple[float, int]]:
        """(bucket lower bound in ms, count) for every non-empty bucket."""
        nz = np.nonzero(self.counts)[0]
        lows = _lowest_of(nz + self.lo)
        return [(int(lo) / 1000.0, int(c)) for lo, c in zip(lows, self.counts[nz])]

    # -- encoding: sparse (index, count) pairs, zlib-compressed -----------------

    def encode(self) -> bytes:
        nz = np.nonzero(self.counts)[0]
        header = np.array([self.total, self.sum_ns, self.min_ns, self.max_ns, len(nz)],
                          dtype=np.int64)
        payload = (header.tobytes() + (nz + self.lo).astype(np.int32).tobytes()
                   + self.counts[nz].astype(np.int64).tobytes())
        return zlib.compress(payload, 1)

    @classmethod
    def decode(cls, blob: bytes) -> Histogram:
        raw = zlib.decompress(blob)
        header = np.frombuffer(raw, dtype=np.int64, count=5)
        n = int(header[4])
        idx = np.frombuffer(raw, dtype=np.int32, count=n, offset=40)
        counts = np.frombuffer(raw, dtype=np.int64, count=n, offset=40 + 4 * n)
        h = cls()
        if n:
            h.lo = int(idx[0])
            h.counts = np.zeros(int(idx[-1]) - h.lo + 1, dtype=np.int64)
            h.counts[idx - h.lo] = counts
        h.total, h.sum_ns, h.min_ns, h.max_ns = (int(x) for x in header[:4])
        return h

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Histogram) and self.total == other.total
                and self.sum_ns == other.sum_ns and self.min_ns == other.min_ns
                and self.max_ns == other.max_ns
                and self._nonzero() == other._nonzero())

    def _nonzero(self) -> tuple[bytes, bytes]:
        # the same counts may sit in ranges of different extent (zeros at either end)
        nz = np.nonzero(self.counts)[0]
        return (nz + self.lo).tobytes(), self.counts[nz].tobytes()

    def __reduce__(self):
        # the pipe protocol: the non-zero buckets as raw arrays, no compression to pay
        # each second (a histogram per endpoint per second: zlib was 0.1 ms each)
        nz = np.nonzero(self.counts)[0]
        return (_unpickle, (self.lo, nz.astype(np.int32).tobytes(),
                            self.counts[nz].tobytes(), self.total, self.sum_ns, self.min_ns,
                            self.max_ns))


def _unpickle(lo: int, offsets: bytes, counts: bytes, total: int, sum_ns: int, min_ns: int,
              max_ns: int) -> Histogram:
    h = Histogram()
    nz = np.frombuffer(offsets, dtype=np.int32)
    if len(nz):
        h.lo = lo + int(nz[0])
        h.counts = np.zeros(int(nz[-1] - nz[0]) + 1, dtype=np.int64)
        h.counts[nz - nz[0]] = np.frombuffer(counts, dtype=np.int64)
    h.total, h.sum_ns, h.min_ns, h.max_ns = total, sum_ns, min_ns, max_ns
    return h
