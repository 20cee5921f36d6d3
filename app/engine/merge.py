"""The exact merge of workers' per-second snapshots into the run's seconds (pure).

Second k is complete, and comes out, once every worker still running has sent its
share of k (or a later second); a worker that has ended no longer holds anything
back. A share that comes late is waited for, so every second that comes out is the
exact sum of the shares of the workers that lived through it. `waiting()` is what
a live view may show meanwhile: the oldest incomplete second, with the shares so far.

Memory is bounded by how far the slowest live worker is behind the others: the
owner declares a worker lost once it is MAX_BEHIND_S seconds behind (owner.py).
"""
from __future__ import annotations

from .snapshot import Snapshot


class Merger:
    def __init__(self, workers: int):
        self._last = {index: 0 for index in range(workers)}    # live workers: last second sent
        self._pending: dict[int, Snapshot] = {}
        self.emitted = 0                                        # the last second that came out

    def add(self, worker: int, snap: Snapshot) -> list[Snapshot]:
        """A worker's share of a second; returns the seconds it completes, in order."""
        if worker not in self._last:         # ended (lost) already: its seconds came out
            return []
        self._last[worker] = snap.second
        if snap.second <= self.emitted:      # cannot happen for a live worker (frames in order)
            raise ValueError(f"worker {worker} sent second {snap.second} after it came out")
        held = self._pending.get(snap.second)
        if held is None:
            self._pending[snap.second] = snap
        else:
            held.merge(snap)
        return self._complete()

    def end(self, worker: int) -> list[Snapshot]:
        """The worker sends nothing more (done, failed or lost)."""
        self._last.pop(worker, None)
        return self._complete()

    def last_of(self, worker: int) -> int:
        """The last second a live worker sent (0: none yet)."""
        return self._last.get(worker, 0)

    @property
    def live(self) -> list[int]:
        return sorted(self._last)

    def behind(self) -> dict[int, int]:
        """Live workers by how many seconds they are behind the newest second sent."""
        newest = max(self._last.values(), default=0)
        return {index: newest - last for index, last in self._last.items()}

    def waiting(self) -> tuple[Snapshot, list[int]] | None:
        """The oldest incomplete second (a copy with the shares so far) and the live
        workers it still waits for, or None when nothing waits."""
        k = self.emitted + 1
        held = self._pending.get(k)
        if held is None:
            return None
        missing = [index for index, last in self._last.items() if last < k]
        copy = Snapshot(second=k, elapsed_s=0.0)
        copy.merge(held)
        return copy, missing

    def _complete(self) -> list[Snapshot]:
        out: list[Snapshot] = []
        while self._pending:
            k = self.emitted + 1
            if any(last < k for last in self._last.values()):
                break
            snap = self._pending.pop(k, None)
            self.emitted = k
            if snap is not None:
                out.append(snap)
        return out
