"""Open-model pacing (pure): when is the request with global index m due?

A constant `rate` gives due(m) = m / rate. `stages` ramp the rate linearly from
the previous stage's target (the first from `rate`, or 0) to their own; past the
last stage the rate holds at its target. Workers share one global schedule and
take every w-th index, so their union is exactly the requested stream.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from app.spec import Stage


@dataclass(frozen=True)
class _Segment:
    start_s: float
    duration_s: float     # math.inf for the hold after the last stage
    r0: float
    r1: float
    hits_before: float

    @property
    def hits(self) -> float:
        if math.isinf(self.duration_s):
            return math.inf if self.r0 > 0 else 0.0
        return (self.r0 + self.r1) / 2.0 * self.duration_s


class Pacer:
    def __init__(self, rate: float | None, stages: tuple[Stage, ...] = ()):
        segments: list[_Segment] = []
        t, hits, r = 0.0, 0.0, (rate or 0.0)
        for stage in stages:
            seg = _Segment(t, stage.duration, r, stage.rate, hits)
            segments.append(seg)
            t, hits, r = t + stage.duration, hits + seg.hits, stage.rate
        segments.append(_Segment(t, math.inf, r, r, hits))
        self._segments = segments
        self._seg = 0

    def due_s(self, index: int) -> float | None:
        """Seconds after the start at which request `index` is due; None if never
        (the rate fell to 0 for good). Indices are asked for in increasing order,
        so the current segment is remembered."""
        segs = self._segments
        i = self._seg
        while i < len(segs) and index >= segs[i].hits_before + segs[i].hits:
            i += 1
        if i == len(segs):
            return None
        self._seg = i
        seg = segs[i]
        h = index - seg.hits_before
        if h <= 0:
            return seg.start_s
        if seg.r0 == seg.r1 or math.isinf(seg.duration_s):
            return seg.start_s + h / seg.r0
        # solve r0·τ + (r1-r0)·τ²/(2d) = h in the form that is stable when a -> 0
        a = (seg.r1 - seg.r0) / (2.0 * seg.duration_s)
        disc = max(seg.r0 * seg.r0 + 4.0 * a * h, 0.0)
        return seg.start_s + 2.0 * h / (seg.r0 + math.sqrt(disc))

    def count_before(self, seconds: float) -> int:
        """How many requests are due before `seconds` (the schedule's own answer, by
        bisection over due_s, so no second formula can disagree with it)."""
        def due_in_time(index: int) -> bool:
            self._seg = 0                 # due_s remembers its segment: any order here
            due = self.due_s(index)
            return due is not None and due < seconds
        low, high = 0, 1                  # index 0 is due at 0: find the first index not due
        if not due_in_time(0):
            return 0
        while due_in_time(high):
            low, high = high, high * 2
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if due_in_time(middle) else (low, middle)
        self._seg = 0
        return high
