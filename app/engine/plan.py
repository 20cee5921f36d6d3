"""What one worker process runs: its share of a RunSpec (pure, but for the clock)."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from app.spec import RunSpec
from app.workload import Workload


# libuv's timers count whole milliseconds from a cached loop time, so they may fire up to
# about 1 ms early; a wait that must not end early waits at least this long each time
TIMER_RESOLUTION_NS = 1_000_000


@dataclass(frozen=True)
class WorkerPlan:
    spec: RunSpec
    worker: int                 # 0-based
    workers: int
    start_ns: int               # time.monotonic_ns() at which second 0 begins (shared by workers)

    @property
    def concurrency(self) -> int:
        """This worker's share of the in-flight cap (the shares add up to the total)."""
        base, extra = divmod(self.spec.concurrency, self.workers)
        return base + (1 if self.worker < extra else 0)

    @property
    def deadline_ns(self) -> int | None:
        seconds = self.spec.run_seconds
        return None if seconds is None else self.start_ns + int(seconds * 1e9)

    @property
    def workload(self) -> Workload:
        """What this worker sends (compiled once, kept by the spec)."""
        return self.spec.workload()


def now_ns() -> int:
    return time.monotonic_ns()


async def sleep_until(t_ns: int) -> None:
    """Return at t_ns or later, never before: a request sent before it is due would make
    its latency from the due time too short (even negative) and the rate too high."""
    while (left := t_ns - now_ns()) > 0:
        await asyncio.sleep(max(left, TIMER_RESOLUTION_NS) / 1e9)
