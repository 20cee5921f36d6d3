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

    # -- the form stored before migration 0005 (it reads old databases; to_bytes is today's):
    #    sparse (index, count) pairs, zlib-compressed

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

    # -- compact exact byte form: HdrHistogram-V2-like varints, no compression ---

    def to_bytes(self) -> bytes:
        """The histogram as compact, exact bytes (not compressed: zlib them if wanted).

        Format version 2. Every number is a LEB128 varint: 7 bits a byte, least
        significant group first, the high bit set on every byte of a number but its
        last. "zz" marks zigzag (n >= 0 -> 2n, n < 0 -> -2n - 1) before LEB128.

          header  version   always 2 (one byte)
                  lo        index of the first non-zero bucket (unsigned)
                  sum_ns    zz
                  min_ns    zz
                  max_ns    zz
                  n         number of body entries (unsigned)
          body    n entries, zz each, walking buckets lo .. last non-zero bucket:
                  c >= 0    the next bucket holds c (a lone empty bucket is 0)
                  -k        the next k >= 2 buckets are empty

        The header numbers are unbounded (a merged day's sum_ns can pass 2**63); body
        numbers fit 64 bits, so an entry takes 1 to 10 bytes. The first and the last
        entry are positive counts and nothing follows the n-th. `total` is not stored:
        it is the sum of the counts. An empty histogram is b"\\x02\\0\\0\\0\\0\\0".

        ValueError for a negative count, which the format cannot tell from a run of
        empty buckets (recorded and merged counts never are negative)."""
        counts = self.counts
        if not len(counts):
            return _EMPTY_FORM
        zero = counts == 0
        first = 0
        if zero[0] or zero[-1]:     # recorded and added ranges end on non-zero buckets
            first = int(np.argmin(zero))
            if not first and zero[0]:
                return _EMPTY_FORM
            end = len(counts) - int(np.argmin(zero[::-1]))
            counts, zero = counts[first:end], zero[first:end]
        counts = counts.astype(np.int64, copy=False)
        if int(counts.min()) < 0:
            raise ValueError("Histogram.to_bytes: a bucket count is negative")
        entries = _fold_zero_runs(counts, zero) if zero.any() else counts
        head = (_VERSION, self.lo + first, _zz(self.sum_ns), _zz(self.min_ns),
                _zz(self.max_ns), len(entries))
        return b"".join(map(uvarint, head)) + _leb128(_zigzag(entries))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Histogram:
        """The histogram `to_bytes` wrote; its counts cover exactly its first to last
        non-zero bucket. ValueError for truncated, trailing or malformed bytes."""
        try:
            buf = np.frombuffer(data, dtype=np.uint8)
        except (TypeError, ValueError) as e:
            raise ValueError(f"Histogram.from_bytes: not a byte buffer ({e})") from None
        if not len(buf):
            raise ValueError("Histogram.from_bytes: no bytes")
        if buf[0] != _VERSION:
            raise ValueError(f"Histogram.from_bytes: format version {int(buf[0])}, "
                             f"expected {_VERSION}")
        # five numbers, some past 64 bits: plain Python ints over a bounded few bytes
        (lo, sum_zz, min_zz, max_zz, n), size = _read_header(
            buf[1:1 + 5 * _HEAD_VARINT_MAX].tolist())
        body = buf[1 + size:]
        h = cls()
        if n == 0:
            if lo or sum_zz or min_zz or max_zz or len(body):
                raise ValueError("Histogram.from_bytes: malformed empty histogram")
            return h
        if lo >= SIZE:
            raise ValueError(f"Histogram.from_bytes: first bucket {lo} out of range")
        if n > len(body):
            raise ValueError(f"Histogram.from_bytes: truncated: {n} entries announced, "
                             f"{len(body)} bytes left")
        v = _unzigzag(_read_leb128(body, n))
        if v[0] <= 0 or v[-1] <= 0:
            raise ValueError("Histogram.from_bytes: the counts must start and end "
                             "non-zero")
        run = v < 0
        if run.any():
            if int(v.min()) < -SIZE:
                raise ValueError("Histogram.from_bytes: run of empty buckets too long")
            counts = np.repeat(np.where(run, 0, v), np.where(run, -v, 1))
        else:
            counts = v
        if lo + len(counts) > SIZE:
            raise ValueError("Histogram.from_bytes: buckets beyond the last one")
        h.lo, h.counts = lo, counts
        # exact even where the int64 sum would wrap: each half of a count is < 2**32,
        # so a half's sum over 17,408 buckets is < 2**47
        h.total = (int((counts >> 32).sum()) << 32) + int((counts & 0xFFFFFFFF).sum())
        h.sum_ns, h.min_ns, h.max_ns = _unzz(sum_zz), _unzz(min_zz), _unzz(max_zz)
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


# -- varint helpers of to_bytes / from_bytes ---------------------------------------

_VERSION = 2
_EMPTY_FORM = bytes([_VERSION, 0, 0, 0, 0, 0])
# sum_ns may need more than 64 bits; 19 bytes hold 133, past any real run's sum
_HEAD_VARINT_MAX = 19
_U7, _LOW7 = np.uint64(7), np.uint64(0x7F)
# the payload bits of an entry's first min(size, 8) bytes, read as one word
_WORD_KEEP = np.array([0] + [(1 << 8 * k) - 1 & 0x7F7F7F7F7F7F7F7F for k in range(1, 9)],
                      dtype=np.uint64)
# ... and of its 9th and 10th bytes, read as the word 8 bytes on, by its size 0..10
_TAIL_KEEP = np.array([0] * 9 + [0x7F, 0x7FFF], dtype=np.uint64)
# 7-bit groups pair into 14 bits, then 28, then 56: (keep, move down, by)
_SQUEEZE = [(np.uint64(low), np.uint64(high), np.uint64(by)) for low, high, by in (
    (0x007F007F007F007F, 0x7F007F007F007F00, 1),
    (0x00003FFF00003FFF, 0x3FFF00003FFF0000, 2),
    (0x000000000FFFFFFF, 0x0FFFFFFF00000000, 4))]


def _zz(n: int) -> int:
    n = int(n)          # a numpy integer would wrap at 2 * 2**62
    return 2 * n if n >= 0 else -2 * n - 1


def _unzz(z: int) -> int:
    return -(z >> 1) - 1 if z & 1 else z >> 1


def uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_uvarint(b, pos: int, what: str) -> tuple[int, int]:
    """The unsigned varint at b[pos] (bytes or a list of ints), and the position after it;
    ValueError naming `what` when b ends first or the number runs past 133 bits."""
    value = shift = 0
    for _ in range(_HEAD_VARINT_MAX):
        if pos >= len(b):
            raise ValueError(f"{what}: truncated")
        byte = b[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos
    raise ValueError(f"{what}: a number too long")


def _read_header(b: list[int]) -> tuple[list[int], int]:
    """The five unsigned varints at the start of b, and how many bytes they took."""
    out, pos = [], 0
    for _ in range(5):
        value, pos = read_uvarint(b, pos, "Histogram.from_bytes: header")
        out.append(value)
    return out, pos


def _fold_zero_runs(c: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """c (first and last non-zero) with each run of k >= 2 zeros as one entry -k."""
    keep = np.ones(len(c), dtype=bool)
    np.logical_not(zero[1:] & zero[:-1], out=keep[1:])     # a run's first zero stays
    at = np.flatnonzero(keep)
    out = c[at]
    runs = np.flatnonzero(out == 0)
    # a run ends where the next kept bucket, always a count, begins
    k = at[runs + 1] - at[runs]
    out[runs] = np.where(k >= 2, -k, 0)
    return out


def _zigzag(v: np.ndarray) -> np.ndarray:
    # in uint64, so that 2 * 2**62 and the sign fill are bit patterns, not overflows
    return (v.view(np.uint64) << np.uint64(1)) ^ (v >> 63).view(np.uint64)


def _unzigzag(z: np.ndarray) -> np.ndarray:
    return (z >> np.uint64(1)).view(np.int64) ^ -(z & np.uint64(1)).view(np.int64)


def _leb128(z: np.ndarray) -> bytes:
    top = int(z.max())
    if top < 0x80:
        return z.astype(np.uint8).tobytes()     # a second's counts: all one byte
    # a pass per byte position, each over all entries: long contiguous loops, where
    # an (n, width) broadcast would run numpy's inner loop `width` items at a time
    width = (top.bit_length() + 6) // 7
    grid = np.empty((len(z), width), dtype=np.uint8)
    used = np.empty((len(z), width), dtype=bool)
    used[:, 0] = True
    rest = z
    for k in range(width):
        byte = (rest & _LOW7).astype(np.uint8)
        if k + 1 < width:
            rest = rest >> _U7
            more = rest != 0
            used[:, k + 1] = more
            byte |= more.view(np.uint8) << 7
        grid[:, k] = byte
    return grid[used].tobytes()       # row by row: each entry's bytes, in order


def _read_leb128(b: np.ndarray, n: int) -> np.ndarray:
    """The n LEB128 numbers that must make up all of b, as uint64."""
    last = np.flatnonzero(b < 0x80)
    if len(last) != n:
        raise ValueError(f"Histogram.from_bytes: {n} entries announced, {len(last)} "
                         "found")
    if last[-1] != len(b) - 1:
        raise ValueError("Histogram.from_bytes: truncated last entry")
    if len(b) == n:
        return b.astype(np.uint64)
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = last[:-1] + 1
    size = last - starts + 1
    width = int(size.max())
    if width > 10:
        raise ValueError("Histogram.from_bytes: an entry is longer than 64 bits")
    if width > 3:
        return _squeeze_words(b, starts, size)
    # a few byte positions: one gather per position beats the word arithmetic
    z = (b[starts] & 0x7F).astype(np.uint64)
    for k in range(1, width):
        group = (b[np.minimum(starts + k, last)] & 0x7F).astype(np.uint64)
        group *= size > k              # else that byte belongs to the next entry
        z |= group << np.uint64(7 * k)
    return z


def _squeeze_words(b: np.ndarray, starts: np.ndarray, size: np.ndarray) -> np.ndarray:
    """The LEB128 numbers of `size` bytes at `starts` in b, from whole 8-byte words:
    the same dozen passes over the entries however long they are. In place where it
    can be: with fresh 80 KB temporaries per step, page faults cost more than the
    arithmetic."""
    padded = np.zeros(len(b) + 16, dtype=np.uint8)
    padded[:len(b)] = b
    # the 8 bytes from every offset as one little-endian word: an overlapping view
    words = np.ndarray(len(b) + 8, dtype="<u8", buffer=padded, strides=(1,))
    x = words[starts]
    x &= _WORD_KEEP[np.minimum(size, 8)]
    t = np.empty_like(x)
    for low, high, shift in _SQUEEZE:
        np.bitwise_and(x, high, out=t)
        t >>= shift
        x &= low
        x |= t
    if int(size.max()) > 8:
        tail = words[starts + 8]
        tail &= _TAIL_KEEP[size]
        if (tail > 0x1FF).any():        # the tenth byte can carry bit 63 only
            raise ValueError("Histogram.from_bytes: an entry is longer than 64 bits")
        np.bitwise_and(tail, _LOW7, out=t)
        t <<= np.uint64(56)
        x |= t
        tail >>= np.uint64(8)
        tail <<= np.uint64(63)
        x |= tail
    return x


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
