"""A run's seconds at any resolution, exactly (pure): rollups, covers and steps.

A run stores each second, plus rollups: the exact merge of each whole minute and each
whole hour of seconds (and, when the run ends, of the last partial ones). A range of
seconds is then read as a few rows, the largest aligned spans that fit, so a 24-hour
run's whole series is 1,440 minute rows rather than 86,400 seconds, and any window's
statistics merge at most ~200 rows; every merge adds histograms, never averages.

Rows are keyed (span, start): span 1, 60 or 3600 seconds, start the first second
(1-based, (start - 1) % span == 0). A rollup row merges the stored seconds of its
span; it is written only once they are all in (the minute is over, or the run is).
"""
from __future__ import annotations

import math
from collections.abc import Iterable

from .snapshot import Snapshot

SPANS = (1, 60, 3600)
MAX_POINTS = 2000                # the default step keeps a series under this many points

Key = tuple[int, int]            # (span, start)


def empty_like(second: int) -> Snapshot:
    return Snapshot(second=second, elapsed_s=0.0)


def merged(second: int, snaps: Iterable[Snapshot]) -> Snapshot:
    """Consecutive intervals as one (counts and histograms added; levels the latest)."""
    out = empty_like(second)
    for snap in snaps:
        out.extend(snap)
    return out


class Rollups:
    """Merges a run's seconds, as they come, into its minute and hour rows."""

    def __init__(self) -> None:
        self._open: dict[int, Snapshot] = {}          # span -> the rollup being built

    def add(self, snap: Snapshot) -> list[tuple[Key, Snapshot]]:
        """The rows to store for this second: itself, and any rollup it completes (or
        that a gap in the seconds left behind)."""
        rows: list[tuple[Key, Snapshot]] = [((1, snap.second), snap)]
        for span in SPANS[1:]:
            start = (snap.second - 1) // span * span + 1
            current = self._open.get(span)
            if current is not None and current.second != start:
                rows.append(((span, current.second), current))
                current = None
            if current is None:
                current = self._open[span] = empty_like(start)
            current.extend(snap)
            if snap.second == start + span - 1:
                rows.append(((span, start), current))
                del self._open[span]
        return rows

    def close(self) -> list[tuple[Key, Snapshot]]:
        """The partial rollups, once the run has ended (no second will join them)."""
        rows = [((span, snap.second), snap) for span, snap in sorted(self._open.items())]
        self._open.clear()
        return rows


def cover(lo: int, hi: int, last: int, spans: tuple[int, ...] = SPANS) -> list[Key]:
    """The fewest rows whose seconds are exactly those of [lo, hi]: the largest aligned
    span that fits at each point. A span may reach past hi when no second exists past
    `last` (the run's last stored second): its rollup holds nothing more."""
    keys, at = [], lo
    end = hi if hi < last else math.inf
    while at <= hi:
        for span in reversed(spans):
            if (at - 1) % span == 0 and at + span - 1 <= end:
                keys.append((span, at))
                at += span
                break
    return keys


def expand(key: Key) -> list[Key]:
    """A rollup that is not stored (its minute is still running, or the dashboard died
    before writing it), as the next smaller rows."""
    span, start = key
    smaller = SPANS[SPANS.index(span) - 1]
    return [(smaller, s) for s in range(start, start + span, smaller)]


def default_step(lo: int, hi: int) -> int:
    """The smallest step a stored span serves (1 s, a minute, an hour, or whole hours)
    that keeps [lo, hi] under MAX_POINTS points: each point is then one row to decode,
    never thousands (a step of 2 s over an hour decoded 3,600 seconds: 2 s a page,
    measured). Finer steps are there on request, and a page zooms to them."""
    wanted = (hi - lo + 1) / MAX_POINTS
    for step in SPANS:
        if step >= wanted:
            return step
    return math.ceil(wanted / SPANS[-1]) * SPANS[-1]


def buckets(lo: int, hi: int, step: int) -> list[tuple[int, int]]:
    """[lo, hi] cut into steps, aligned to multiples of the step (so that steps of 60
    are whole minutes, read from rollups); the first and last may be partial."""
    out, at = [], lo
    while at <= hi:
        end = min((at - 1) // step * step + step, hi)
        out.append((at, end))
        at = end + 1
    return out
