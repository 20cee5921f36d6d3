"""A run's per-second samples and their block bootstrap (pure: numpy only).

`Samples` holds what a comparison needs of each *unit* of a run (a second; a minute
once the run is 30 minutes long; an hour once it is 30 hours long, so that there are
never more than ~1,800 units and long runs are read from their stored minute and hour
rows): its responses, requests, failures, time, latency sum and latency histogram,
coarsened to 128 buckets per power of two (values within 0.8 %: the bootstrap resolves
differences of a few per cent, never of 0.1 %; the point estimates stay exact).

`Bootstrap` draws resamples of the units once, as a matrix of weights (how often each
unit is drawn), so that every statistic of every resample is one matrix product over
per-unit arrays, never a histogram merged thousands of times. Units are drawn in
circular blocks of floor(U^(1/3)) consecutive units (Politis & Romano's circular block
bootstrap): neighbouring seconds are alike (a slow minute, a warming cache), and
drawing them one by one would make the interval too narrow. A percentile interval of
few blocks is too narrow as well (it misses twice as often as it says with 6 seconds,
measured), so each run's resampled deviations are widened as Hesterberg's *expanded
percentile interval* does: by t(k-1)/z * sqrt(k/(k-1)) for k blocks (x1.44 for 6
seconds, x1.10 for 20 blocks).
"""
from __future__ import annotations

import base64
import math
import zlib
from statistics import NormalDist
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# the histogram's own bucket layout: what a coarse bucket's value is
from app.engine.histogram import SIZE, Histogram, _lowest_of, _width_of

SPANS = (1, 60, 3600)          # the stored rows' spans (app/engine/series.py)
MIN_UNITS_OF_SPAN = 30         # a span is a unit once the run holds this many of them
COARSE_SHIFT = 3               # 8 fine buckets (1/1024 each) to a coarse one (1/128)
COARSE_SIZE = (SIZE >> COARSE_SHIFT) + 1
MAX_GRID = 1024                # columns of a percentile's search: beyond, every k-th
FORMAT = 1                     # version of the JSON form (bench --json "samples")
_SCALARS = ("elapsed_s", "responses", "completed", "bad", "sum_ns")


def unit_for(seconds: int) -> int:
    """The unit of a window of this many seconds: the largest stored span that it
    holds at least MIN_UNITS_OF_SPAN times (1 s under 30 minutes, then minutes,
    then hours)."""
    return max(s for s in SPANS if s == 1 or seconds >= MIN_UNITS_OF_SPAN * s)


def coarse_high_ms(columns: np.ndarray) -> np.ndarray:
    """The highest value (ms) of each coarse bucket, as Histogram.percentiles_ms reports
    a fine bucket: its highest equivalent value."""
    last_fine = (np.asarray(columns, dtype=np.int64) << COARSE_SHIFT) + (1 << COARSE_SHIFT) - 1
    high_us = _lowest_of(last_fine) + _width_of(last_fine) - 1
    return (high_us * 1000 + 999) / 1e6


@dataclass
class Samples:
    """A run's units, in order, merged as they come (`add` a second or a stored row)."""
    unit_s: int = 1
    auto: bool = False            # coarsen to the next span as the run grows (bench)
    keys: list[int] = field(default_factory=list)          # unit k: seconds k*u+1..(k+1)*u
    scalars: list[list[float]] = field(default_factory=list)
    hists: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (first column, counts)

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, second: int, elapsed_s: float, ok: int, failed: int, errors: int,
            completed: int, latency: Histogram) -> None:
        """Seconds `second`.. (elapsed_s of them; a stored row may span many): counts of a
        Snapshot or Summary.total and its latency histogram."""
        key = (second - 1) // self.unit_s
        row = [elapsed_s, ok + failed, completed, failed + errors, latency.sum_ns]
        hist = _coarse(latency)
        if self.keys and self.keys[-1] == key:
            self.scalars[-1] = [a + b for a, b in zip(self.scalars[-1], row)]
            self.hists[-1] = _add(self.hists[-1], hist)
        else:
            self.keys.append(key)
            self.scalars.append(row)
            self.hists.append(hist)
            if self.auto and len(self.keys) >= MIN_UNITS_OF_SPAN * _next_ratio(self.unit_s):
                self.coarsen(unit_for(len(self.keys) * self.unit_s))

    def coarsen(self, unit_s: int) -> None:
        """Merge the units into units of unit_s seconds (a multiple of the current)."""
        old = self.keys, self.scalars, self.hists
        self.keys, self.scalars, self.hists = [], [], []
        factor, self.unit_s = unit_s // self.unit_s, unit_s
        for key, row, hist in zip(*old):
            if self.keys and self.keys[-1] == key // factor:
                self.scalars[-1] = [a + b for a, b in zip(self.scalars[-1], row)]
                self.hists[-1] = _add(self.hists[-1], hist)
            else:
                self.keys.append(key // factor)
                self.scalars.append(row)
                self.hists.append(hist)

    def arrays(self) -> tuple[dict[str, np.ndarray], int, np.ndarray]:
        """Per-unit arrays: the scalars by name, and the latency counts as one dense
        U x K matrix over columns lo..lo+K-1 (float64: exact below 2**53, and BLAS)."""
        scalars = np.array(self.scalars, dtype=np.float64).reshape(-1, len(_SCALARS))
        named = {name: scalars[:, i] for i, name in enumerate(_SCALARS)}
        used = [(lo, c) for lo, c in self.hists if len(c)]
        lo = min((lo for lo, _ in used), default=0)
        hi = max((lo + len(c) for lo, c in used), default=lo)
        counts = np.zeros((len(self.hists), hi - lo))
        for row, (first, c) in enumerate(self.hists):
            counts[row, first - lo:first - lo + len(c)] = c
        named["total"] = counts.sum(axis=1)
        return named, lo, counts

    # -- the JSON form: bench --json carries it, so that --baseline FILE can be tested --

    def to_json(self) -> dict[str, Any]:
        named, lo, counts = self.arrays()
        packed = zlib.compress(counts.astype("<i8").tobytes(), 6)
        return {"format": FORMAT, "unit_s": self.unit_s, "units": self.keys,
                **{name: named[name].tolist() for name in _SCALARS},
                "latency": {"first_bucket": lo, "buckets": int(counts.shape[1]),
                            "counts_b64": base64.b64encode(packed).decode()}}

    @classmethod
    def from_json(cls, data: Any) -> Samples:
        """ValueError saying what is wrong with it."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"its samples are not of format {FORMAT}")
        try:
            unit_s, keys = int(data["unit_s"]), [int(k) for k in data["units"]]
            rows = np.array([data[name] for name in _SCALARS], dtype=np.float64).T
            lat = data["latency"]
            lo, width = int(lat["first_bucket"]), int(lat["buckets"])
            if unit_s not in SPANS or not 0 <= lo <= lo + width <= COARSE_SIZE:
                raise ValueError("a unit or bucket range out of bounds")
            if rows.shape != (len(keys), len(_SCALARS)) or not np.isfinite(rows).all():
                raise ValueError("the per-unit lists differ in length or hold non-numbers")
            raw = zlib.decompressobj().decompress(base64.b64decode(lat["counts_b64"]),
                                                  len(keys) * width * 8 + 1)
            counts = np.frombuffer(raw, dtype="<i8")
            if len(counts) != len(keys) * width or (counts < 0).any():
                raise ValueError("the latency counts do not match the units")
        except (KeyError, TypeError, ValueError, zlib.error) as exc:   # binascii.Error too
            raise ValueError(f"its samples are unreadable: {exc}") from None
        counts = counts.reshape(len(keys), width)
        samples = cls(unit_s=unit_s, keys=keys, scalars=rows.tolist())
        samples.hists = [(lo, row.astype(np.float64)) for row in counts]
        return samples


def _next_ratio(unit_s: int) -> int:
    """How many of the current units make the next span."""
    bigger = [s for s in SPANS if s > unit_s]
    return bigger[0] // unit_s if bigger else math.inf


def _coarse(h: Histogram) -> tuple[int, np.ndarray]:
    if h.total == 0 or not len(h.counts):
        return 0, np.zeros(0)
    columns = (np.arange(h.lo, h.lo + len(h.counts)) >> COARSE_SHIFT)
    first = int(columns[0])
    counts = np.bincount(columns - first, weights=h.counts.astype(np.float64))
    # kept per unit (and per endpoint of a comparison: 20 of them): int32 halves that,
    # exact while a unit's bucket holds under 2**31 (2.1e9 responses)
    return first, counts.astype(np.int32) if h.total < 2**31 else counts


def _add(a: tuple[int, np.ndarray], b: tuple[int, np.ndarray]) -> tuple[int, np.ndarray]:
    if not len(a[1]):
        return b
    if not len(b[1]):
        return a
    lo = min(a[0], b[0])
    out = np.zeros(max(a[0] + len(a[1]), b[0] + len(b[1])) - lo)
    out[a[0] - lo:a[0] - lo + len(a[1])] += a[1]
    out[b[0] - lo:b[0] - lo + len(b[1])] += b[1]
    return lo, out


class Bootstrap:
    """The resamples of one run's units and the statistics of each: every one an array
    of `resamples` values (NaN where a resample has nothing to take it from), next to
    the same statistic of the whole sample computed the same way (`whole`)."""

    def __init__(self, samples: Samples, resamples: int, rng: np.random.Generator,
                 confidence: float, weights: np.ndarray | None = None):
        """`weights`: another Bootstrap's, of the same units (a run's endpoints are
        resampled as the run is: the same draws, drawn once)."""
        self.named, self.lo, counts = samples.arrays()
        units = len(samples)
        self.block = block_length(units)
        self.weights = (_block_weights(units, self.block, resamples, rng)
                        if weights is None else weights)
        self.widen = widening(-(-units // self.block), confidence)
        self._cum = np.cumsum(counts, axis=1)

    def deviations(self, stat: tuple[float, np.ndarray]) -> np.ndarray:
        """Each resample's statistic minus the whole sample's, widened for few blocks."""
        whole, each = stat
        return (each - whole) * self.widen

    def ratio(self, top: str, bottom: str, scale: float = 1.0) -> tuple[float, np.ndarray]:
        """sum(top) / sum(bottom) of the whole sample and of each resample."""
        num, den = self.named[top], self.named[bottom]
        with np.errstate(divide="ignore", invalid="ignore"):
            each = (self.weights @ num) / (self.weights @ den) * scale
        whole = num.sum() / den.sum() * scale if den.sum() else math.nan
        return whole, np.where(np.isfinite(each), each, np.nan)

    def percentile(self, p: float) -> tuple[float, np.ndarray]:
        """The p-th percentile (ms) of the merged coarse histogram of the whole sample and
        of each resample: the rank as Histogram.percentiles_ms takes it, the value
        interpolated linearly within its bucket (else every resample of a long run would
        land in one bucket, and the interval would say 0.8 % is certainty)."""
        total = self.named["total"]
        has = total > 0
        if not has.any():
            return math.nan, np.full(len(self.weights), np.nan)
        cum = self._cum[has]
        # the merged percentile lies between the units' own: search only there
        own = np.argmax(cum >= _ranks(p, total[has])[:, None], axis=1)
        first, last = int(own.min()), int(own.max())
        step = max(1, -(-(last - first + 1) // MAX_GRID))
        columns = np.unique(np.r_[np.arange(first, last + 1, step), last])
        # and the column before, where the rank is not reached yet: the interpolation's start
        before = cum[:, first - 1:first] if first else np.zeros((len(cum), 1))
        grid = np.hstack([before, cum[:, columns]])
        values = np.r_[coarse_high_ms(self.lo + first - 1) if self.lo + first else 0.0,
                       coarse_high_ms(self.lo + columns)]
        whole = _interpolated(p, grid.sum(axis=0)[None, :], total[has].sum()[None], values)
        weights = self.weights[:, has]
        return float(whole[0]), _interpolated(p, weights @ grid, weights @ total[has], values)


def _ranks(p: float, n: np.ndarray) -> np.ndarray:
    return np.maximum(1, np.ceil(p / 100.0 * n))


def _interpolated(p: float, merged: np.ndarray, n: np.ndarray,
                  values: np.ndarray) -> np.ndarray:
    """Per row of cumulative counts over the grid: the value where the rank is reached,
    linear within the grid step that reaches it (column 0 never does); NaN for no count."""
    ranks = _ranks(p, n)
    reached = merged >= ranks[:, None]
    j = np.maximum(np.argmax(reached, axis=1), 1)
    rows = np.arange(len(merged))
    below, at = merged[rows, j - 1], merged[rows, j]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.clip((ranks - below) / (at - below), 0.0, 1.0)
    out = values[j - 1] + share * (values[j] - values[j - 1])
    return np.where(reached.any(axis=1) & (n > 0), out, np.nan)


def block_length(units: int) -> int:
    """floor(U^(1/3)) units a block (1 below 8 units, 12 for 1,800): the usual rate for a
    block bootstrap's variance (Hall, Horowitz & Jing 1995)."""
    return max(1, math.floor(units ** (1 / 3) + 1e-9))


def widening(blocks: int, confidence: float) -> float:
    """t(k-1) / z * sqrt(k / (k-1)) at the confidence's two-sided quantile; t from its
    Cornish-Fisher expansion in z (within 1 % of the table from 2 degrees of freedom)."""
    if blocks < 2:
        return math.inf
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    n = blocks - 1
    t = (z + (z**3 + z) / (4 * n) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * n**2)
         + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * n**3)
         + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * n**4))
    return t / z * math.sqrt(blocks / n)


def _block_weights(units: int, block: int, resamples: int,
                   rng: np.random.Generator) -> np.ndarray:
    """resamples x units: how often each unit is drawn, in circular blocks of `block`
    consecutive units, as many blocks as make `units` units (the last one cut short)."""
    blocks = -(-units // block)
    starts = rng.integers(0, units, size=(resamples, blocks))
    drawn = (starts[:, :, None] + np.arange(block)).reshape(resamples, -1)[:, :units] % units
    flat = drawn + (np.arange(resamples) * units)[:, None]
    return np.bincount(flat.ravel(), minlength=resamples * units).reshape(
        resamples, units).astype(np.float64)
