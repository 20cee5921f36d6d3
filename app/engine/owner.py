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
from collections.abc import AsyncIterator
from enum import Enum

from app.spec import RunSpec

from .backends import Backend, WorkerHandle
from .backends.local import LocalBackend
from .plan import now_ns as _now_ns
from .snapshot import Snapshot, Summary

READY_TIMEOUT_S = 60.0
START_MARGIN_NS = 100_000_000      # workers start together, this long after the last is ready
STOP_GRACE_S = 5.0


class Outcome(str, Enum):
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


class _Worker:
    """The owner's view of one worker: its handle (backends/), and how far it got."""

    def __init__(self, handle: WorkerHandle):
        self.handle = handle
        self.index = handle.index
        self.last_second = 0
        self.done = False
        self.failure: str | None = None

    def send(self, line: str) -> None:
        self.handle.send(line)


class Run:
    def __init__(self, spec: RunSpec, workers: list[_Worker]):
        self.spec = spec
        self.summary = Summary()
        self.outcome: Outcome | None = None
        self.error: str | None = None
        self._workers = workers
        self._stop_requested = False
        self.start_ns = 0      # the monotonic instant second 0 begins at, once workers are ready

    async def _ready(self) -> None:
        for worker in self._workers:
            msg = await asyncio.wait_for(worker.handle.receive(), READY_TIMEOUT_S)
            if msg is None or msg[0] != "ready":
                raise RuntimeError(self._describe_failure(worker, msg))
        self.start_ns = _now_ns() + START_MARGIN_NS
        for worker in self._workers:
            worker.send(json.dumps({"go": self.start_ns}))

    def stop(self) -> None:
        """Ask every worker to stop; the iteration then ends after their last snapshot."""
        self._stop_requested = True
        for worker in self._workers:
            worker.send("stop")

    async def __aiter__(self) -> AsyncIterator[Snapshot]:
        messages: asyncio.Queue = asyncio.Queue()
        readers = [asyncio.ensure_future(self._pump(w, messages)) for w in self._workers]
        pending: dict[int, Snapshot] = {}
        emitted = 0
        try:
            while not all(w.done for w in self._workers) or pending:
                if not all(w.done for w in self._workers):
                    worker, msg = await messages.get()
                    self._handle(worker, msg, pending)
                # second k is complete once every worker has reported it or has finished
                while pending:
                    k = emitted + 1
                    if not all(w.done or w.last_second >= k for w in self._workers):
                        break
                    snap = pending.pop(k, None)
                    emitted = k
                    if snap is not None:
                        self.summary.add(snap)
                        yield snap
        finally:
            for task in readers:
                task.cancel()
            await self._reap()
        failures = [w.failure for w in self._workers if w.failure]
        if failures:
            self.outcome, self.error = Outcome.FAILED, "; ".join(failures)
        else:
            self.outcome = Outcome.STOPPED if self._stop_requested else Outcome.FINISHED

    async def _pump(self, worker: _Worker, messages: asyncio.Queue) -> None:
        while True:
            msg = await worker.handle.receive()
            await messages.put((worker, msg))
            if msg is None or msg[0] in ("done", "failed"):
                return

    def _handle(self, worker: _Worker, msg, pending: dict[int, Snapshot]) -> None:
        if msg is not None and msg[0] == "snapshot":
            snap: Snapshot = msg[1]
            worker.last_second = snap.second
            if snap.second in pending:
                pending[snap.second].merge(snap)
            else:
                pending[snap.second] = snap
            return
        worker.done = True
        if msg is None or msg[0] == "failed":
            worker.failure = self._describe_failure(worker, msg)

    def _describe_failure(self, worker: _Worker, msg) -> str:
        detail = msg[1] if msg is not None and len(msg) > 1 else "exited unexpectedly"
        tail = worker.handle.failure_detail()
        return f"worker {worker.index} failed: {detail}" + (f" ({tail})" if tail else "")

    async def _reap(self) -> None:
        for worker in self._workers:
            await worker.handle.close(STOP_GRACE_S)


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
            workers.append(_Worker(await backend.start_worker(plan, index)))
        run = Run(spec, workers)
        await run._ready()
    except BaseException:
        for worker in workers:
            worker.handle.kill()
        await Run(spec, workers)._reap()
        raise
    return run
