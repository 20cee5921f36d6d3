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
import collections
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from enum import Enum
from pathlib import Path

from app.spec import RunSpec

from .snapshot import Snapshot, Summary
from .plan import now_ns as _now_ns
from .protocol import read_frame

_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60.0
START_MARGIN_NS = 100_000_000      # workers start together, this long after the last is ready
STOP_GRACE_S = 5.0


class Outcome(str, Enum):
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


class _Worker:
    def __init__(self, index: int, process: asyncio.subprocess.Process):
        self.index = index
        self.process = process
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self.last_second = 0
        self.done = False
        self.failure: str | None = None

    async def drain_stderr(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.stderr_tail.append(line.decode(errors="replace").rstrip())

    def send(self, line: str) -> None:
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            with contextlib.suppress(ConnectionError, RuntimeError):
                stdin.write(line.encode() + b"\n")


class Run:
    def __init__(self, spec: RunSpec, workers: list[_Worker]):
        self.spec = spec
        self.summary = Summary()
        self.outcome: Outcome | None = None
        self.error: str | None = None
        self._workers = workers
        self._stop_requested = False
        self.start_ns = 0      # the monotonic instant second 0 begins at, once workers are ready
        self._drains = [asyncio.ensure_future(w.drain_stderr()) for w in workers]

    async def _ready(self) -> None:
        for worker in self._workers:
            msg = await asyncio.wait_for(read_frame(worker.process.stdout), READY_TIMEOUT_S)
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
            msg = await read_frame(worker.process.stdout)
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
        tail = " | ".join(list(worker.stderr_tail)[-3:])
        return f"worker {worker.index} failed: {detail}" + (f" ({tail})" if tail else "")

    async def _reap(self) -> None:
        for worker in self._workers:
            proc = worker.process
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        for task in self._drains:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def start(spec: RunSpec) -> Run:
    """Spawn the workers, hand each its share and start them together."""
    workers = []
    env = dict(os.environ, PYTHONPATH=str(_ROOT))
    # once for all workers: with a data file it is up to 100 MB of CSV
    spec_json = json.dumps(spec.to_dict(with_data=True))
    for index in range(spec.workers):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.engine.worker_main", cwd=str(_ROOT), env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=2**24)
        worker = _Worker(index, process)
        worker.send(f'{{"spec": {spec_json}, "worker": {index}, "workers": {spec.workers}}}')
        workers.append(worker)
    run = Run(spec, workers)
    try:
        await run._ready()
    except BaseException:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
        await run._reap()
        raise
    return run
