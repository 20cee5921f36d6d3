"""The one schedule every engine's request loop follows (pure, but for reading the clock).

Which request comes next, when it is due, whether the run is over, and whether a
request was a late start are decided here and nowhere else; the three engines only
wait and send. A worker takes global indices worker, worker + w, ... so `{i}` and the
open-model schedule are the same whatever the worker count.

- Closed model: a request is due when a slot frees. `indices` is the plain iterator
  of this worker's indices, which the fast engine's hot path pulls from directly.
- Open model: `next_due()` gives each index with its due time from the pacer; none
  once the rate falls to 0 for good or the next one would be due past the deadline.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator

from app.spec import LoadModel

from .pacing import Pacer
from .plan import WorkerPlan

LATE_START_NS = 1_000_000   # picked up more than 1 ms after it was due: no free slot in time


class Schedule:
    __slots__ = ("start_ns", "deadline_ns", "indices", "_pacer", "_over")

    def __init__(self, plan: WorkerPlan):
        spec = plan.spec
        self.start_ns = plan.start_ns
        self.deadline_ns = plan.deadline_ns
        stop = spec.requests
        self.indices: Iterator[int] = (itertools.count(plan.worker, plan.workers) if stop is None
                                       else iter(range(plan.worker, stop, plan.workers)))
        self._pacer = (None if spec.model is LoadModel.CLOSED
                       else Pacer(spec.rate, spec.stages))
        self._over = False

    @property
    def open(self) -> bool:
        return self._pacer is not None

    def next_due(self) -> tuple[int, int] | None:
        """Open model: (index, due monotonic ns) of this worker's next request, or None when
        no more are due. Indices are handed out in increasing order (the pacer relies on it),
        so callers on several threads take them under one lock."""
        if self._over:
            return None
        index = next(self.indices, None)
        due_s = None if index is None else self._pacer.due_s(index)
        if due_s is None:
            self._over = True
            return None
        due = self.start_ns + int(due_s * 1e9)
        if self.expired(due):
            self._over = True
            return None
        return index, due

    def expired(self, t_ns: int) -> bool:
        """Whether t_ns is at or past the run's deadline (a request then is not sent)."""
        return self.deadline_ns is not None and t_ns >= self.deadline_ns

    @staticmethod
    def late(due_ns: int, now_ns: int) -> bool:
        """A request picked up this long after it was due had no free slot in time."""
        return now_ns - due_ns > LATE_START_NS
