"""The run owner: `start(spec)` -> Run, which merges and stops.

A Run owns its worker processes (even a single worker is a process: a big
run's hot path never shares the owner's event loop), merges their per-second
snapshots exactly, and yields one merged Snapshot per second:

    run = await start(spec)
    async for snapshot in run: ...
    run.summary, run.outcome, run.error
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from enum import Enum

from app.analysis.thresholds import Metric, evaluate
from app.spec import RunSpec

from .backends import Backend, WorkerHandle
from .backends.local import LocalBackend
from .merge import Merger
from .nodes import NodeBoard
from .plan import now_ns as _now_ns
from .snapshot import Snapshot, Summary

READY_TIMEOUT_S = 60.0
START_MARGIN_NS = 100_000_000      # workers start together, this long after the last is ready
STOP_GRACE_S = 5.0
TICK_S = 0.25                      # how often the owner looks for late and lost workers
TICK_NS = int(TICK_S * 1e9)
WAITING_SHOWN_NS = 1_500_000_000   # a second incomplete this long after its end is shown
MAX_BEHIND_S = 30                  # a live worker this many seconds behind is lost


class Outcome(str, Enum):
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


class _Worker:
    """The owner's view of one worker: its handle (backends/), and how it ended."""

    def __init__(self, handle: WorkerHandle):
        self.handle = handle
        self.index = handle.index
        self.done = False
        self.failure: str | None = None     # it failed: the run fails
        self.lost: str | None = None        # its node or process went away: the run goes on

    def send(self, line: str) -> None:
        self.handle.send(line)


class Run:
    def __init__(self, spec: RunSpec, workers: list[_Worker], backend_name: str = "local"):
        self.spec = spec
        self.summary = Summary()
        self.outcome: Outcome | None = None
        self.error: str | None = None
        self.backend = backend_name
        self._workers = workers
        self._running = len(workers)           # workers that have not ended yet
        self._stop_requested = False
        self.start_ns = 0      # the monotonic instant second 0 begins at, once workers are ready
        self.nodes = NodeBoard({})             # once the workers are ready: where they run
        self.lost_workers: list[dict] = []
        # live views may listen: a second still waiting for a late share (shown, then
        # corrected by the complete one), and a worker lost (an event on the run page)
        self.on_waiting: Callable[[Snapshot, list[int]], None] | None = None
        self.on_lost: Callable[[dict], None] | None = None
        self.criteria = spec.criteria()
        self.aborted: dict | None = None        # the threshold that stopped it (abort_on_fail)

    async def _ready(self) -> None:
        for worker in self._workers:
            msg = await asyncio.wait_for(worker.handle.receive(), READY_TIMEOUT_S)
            if msg is None or msg[0] != "ready":
                raise RuntimeError(self._describe_failure(worker, msg))
        # one instant for all: on this host's monotonic clock for local workers, and on
        # the wall clock for workers on other hosts (NTP-synced: backends/ray.py)
        self.nodes = NodeBoard({w.index: w.handle.place for w in self._workers})
        margin = max(START_MARGIN_NS, *(w.handle.start_margin_ns for w in self._workers))
        self.start_ns = _now_ns() + margin
        go = json.dumps({"go": self.start_ns, "wall": time.time_ns() + margin})
        for worker in self._workers:
            worker.send(go)

    def stop(self) -> None:
        """Ask every worker to stop; the iteration then ends after their last snapshot."""
        self._stop_requested = True
        for worker in self._workers:
            worker.send("stop")

    def result(self) -> dict:
        """The summary as stored and printed: the merged totals, with where they came
        from (the backend, per node) and the workers lost on the way."""
        out = self.summary.to_dict()
        out["backend"] = self.backend
        out["nodes"] = self.nodes.summary()
        out["lost_workers"] = list(self.lost_workers)
        skews = {str(w.index): w.handle.skew_ms for w in self._workers
                 if w.handle.skew_ms is not None}
        if skews:
            out["clock_skew_ms"] = skews
        if self.criteria:
            results = evaluate(self.criteria, self.summary)
            out["thresholds"] = [r.to_dict() for r in results]
            out["thresholds_passed"] = all(r.passed for r in results)
        if self.aborted:
            out["aborted"] = self.aborted
        return out

    def _check_abort(self, second: int) -> None:
        """abort_on_fail: at the end of every second, on the totals so far. A threshold
        with nothing to measure yet (no response) does not stop the run, nor does a lower
        bound on `requests`, which only the end can judge."""
        if not self.spec.abort_on_fail or self.aborted or self._stop_requested:
            return
        for result in evaluate(self.criteria, self.summary):
            t = result.threshold
            if result.value is None or result.passed or (
                    t.metric is Metric.REQUESTS and t.op in (">", ">=")):
                continue
            self.aborted = {"threshold": t.expr, "second": second,
                            "value": round(result.value, 6)}
            self.stop()
            return

    async def __aiter__(self) -> AsyncIterator[Snapshot]:
        messages: asyncio.Queue = asyncio.Queue()
        readers = [asyncio.ensure_future(self._pump(w, messages)) for w in self._workers]
        merger = Merger(len(self._workers))
        shown_waiting = 0
        next_look = 0
        try:
            while self._running:
                try:
                    worker, msg = await asyncio.wait_for(messages.get(), TICK_S)
                except asyncio.TimeoutError:
                    worker, msg = None, None
                ready = [] if worker is None else self._handle(worker, msg, merger)
                # once a tick, not a frame: each look is O(workers), and a copy of a
                # second to show it (1,000 workers send 1,000 frames a second)
                now = _now_ns()
                if now >= next_look:
                    next_look = now + TICK_NS
                    ready += self._drop_stragglers(merger)
                    k = merger.emitted + 1
                    if self.on_waiting and shown_waiting < k \
                            and now > self._second_end_ns(k) + WAITING_SHOWN_NS:
                        waiting = merger.waiting()
                        if waiting and waiting[1]:
                            shown_waiting = k
                            self.on_waiting(*waiting)
                for snap in ready:
                    self.summary.add(snap)
                    self._check_abort(snap.second)
                    yield snap
        finally:
            for task in readers:
                task.cancel()
            await self._reap()
        failures = [w.failure for w in self._workers if w.failure]
        if failures:
            self.outcome, self.error = Outcome.FAILED, "; ".join(failures)
        elif all(w.lost for w in self._workers):
            self.outcome = Outcome.FAILED
            self.error = "every worker was lost: " + "; ".join(w.lost or "" for w in self._workers)
        else:
            self.outcome = Outcome.STOPPED if self._stop_requested else Outcome.FINISHED

    def _end(self, worker: _Worker) -> None:
        worker.done = True
        self._running -= 1

    def _second_end_ns(self, second: int) -> int:
        return self.start_ns + second * 1_000_000_000

    async def _pump(self, worker: _Worker, messages: asyncio.Queue) -> None:
        while True:
            msg = await worker.handle.receive()
            await messages.put((worker, msg))
            if msg is None or msg[0] in ("done", "failed", "lost"):
                return

    def _handle(self, worker: _Worker, msg, merger: Merger) -> list[Snapshot]:
        if worker.done:
            return []                       # declared lost already: what it still sends is dropped
        if msg is not None and msg[0] == "snapshot":
            self.nodes.add(worker.index, msg[1])
            return merger.add(worker.index, msg[1])
        if msg is not None and msg[0] == "lost":
            return self._lose(worker, msg[1], merger)
        self._end(worker)
        self.nodes.ended(worker.index)
        if msg is None or msg[0] == "failed":
            worker.failure = self._describe_failure(worker, msg)
        return merger.end(worker.index)

    def _drop_stragglers(self, merger: Merger) -> list[Snapshot]:
        """A live worker this far behind the others holds every second back: it is
        lost (and killed), so the run's memory and its live view stay bounded."""
        ready: list[Snapshot] = []
        for index, behind in merger.behind().items():
            if behind > MAX_BEHIND_S:
                worker = self._workers[index]
                worker.handle.kill()
                ready += self._lose(worker, f"sent nothing for {behind} s while the others ran",
                                    merger)
        return ready

    def _lose(self, worker: _Worker, detail: str, merger: Merger) -> list[Snapshot]:
        self._end(worker)
        worker.lost = f"worker {worker.index} lost: {detail}"
        self.nodes.ended(worker.index, lost=True)
        place = worker.handle.place
        # the first second it did not send: its share of it and after is what was lost
        event = {"worker": worker.index, "node": place.node, "host": place.host,
                 "second": merger.last_of(worker.index) + 1, "detail": detail}
        self.lost_workers.append(event)
        if self.on_lost:
            self.on_lost(event)
        return merger.end(worker.index)

    def _describe_failure(self, worker: _Worker, msg) -> str:
        detail = msg[1] if msg is not None and len(msg) > 1 else "exited unexpectedly"
        tail = worker.handle.failure_detail()
        return f"worker {worker.index} failed: {detail}" + (f" ({tail})" if tail else "")

    async def _reap(self) -> None:
        await asyncio.gather(*(w.handle.close(STOP_GRACE_S) for w in self._workers))


async def start(spec: RunSpec, backend: Backend | None = None) -> Run:
    """Start the workers (local processes unless another backend is given), hand each
    its share and start them together."""
    backend = backend or LocalBackend()
    workers: list[_Worker] = []
    # once for all workers: with a data file it is up to 100 MB of CSV
    spec_json = json.dumps(spec.to_dict(with_data=True))
    try:
        for index in range(spec.workers):
            plan = f'{{"spec": {spec_json}, "worker": {index}, "workers": {spec.workers}}}'
            workers.append(_Worker(await backend.start_worker(plan, index, spec.workers)))
        run = Run(spec, workers, backend.name)
        await run._ready()
    except BaseException:
        for worker in workers:
            worker.handle.kill()
        await Run(spec, workers)._reap()
        raise
    return run
