"""RunManager: the one active run (plus a FIFO queue), persisted and published as it goes.

The engine's hot path runs in worker processes; this event loop only receives one
merged Snapshot per second, hands it to a background writer (a crash loses at most
the second not yet written), keeps it in memory for late joiners and publishes it
to the hub. At the end the summary is stored with the final status.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass, field

import aiosqlite

from app import engine
from app.spec import RunSpec
from app.status import RunStatus
from app.store import runs as store

from .hub import Hub, done_message, snapshot_message, status_message

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_S = 15.0     # a stopped run's workers report their last second well within this


class RunActive(Exception):
    """Another run is active (or queued): one at a time."""

    def __init__(self, run_id: int):
        super().__init__(f"run #{run_id} is active")
        self.run_id = run_id


@dataclass
class LiveState:
    """What the dashboard knows of an active (or queued) run, in memory."""
    run_id: int
    status: RunStatus
    samples: list[dict] = field(default_factory=list)       # Snapshot.to_dict() per second
    sample_json: list[str] = field(default_factory=list)    # the same, encoded for replay
    totals: dict | None = None                              # Summary.to_dict() so far
    totals_json: str = "null"
    stop_requested: bool = False
    engine_run: engine.Run | None = None

    def replay(self) -> list[str]:
        """One snapshot message per second so far (totals: the current ones)."""
        return [snapshot_message(self.run_id, s, self.totals_json) for s in self.sample_json]


class RunManager:
    def __init__(self, db: aiosqlite.Connection, hub: Hub):
        self._db = db
        self._hub = hub
        self._lock = asyncio.Lock()
        self._queue: deque[tuple[int, RunSpec]] = deque()
        self._live: dict[int, LiveState] = {}
        self._current: int | None = None
        self._task: asyncio.Task | None = None
        self._closing = False

    # -- what the handlers ask -------------------------------------------------------

    @property
    def active_id(self) -> int | None:
        if self._current is not None:
            return self._current
        return self._queue[0][0] if self._queue else None

    def live_state(self, run_id: int) -> LiveState | None:
        return self._live.get(run_id)

    async def submit(self, spec: RunSpec) -> store.RunRecord:
        return (await self.submit_many([spec]))[0]

    async def submit_many(self, specs: list[RunSpec]) -> list[store.RunRecord]:
        """Store the runs (the first running, the others queued) and start the first."""
        if not specs:
            raise ValueError("no run to submit")
        async with self._lock:        # two submits at once: the second sees the first's run
            if self._closing:
                raise RuntimeError("the dashboard is shutting down")
            if self.active_id is not None:
                raise RunActive(self.active_id)
            records = await store.create_runs(
                self._db, [s.to_dict(with_data=True) for s in specs])
            for record, spec in zip(records, specs):
                self._live[record.id] = LiveState(record.id, record.status)
                self._queue.append((record.id, spec))
            self._task = asyncio.create_task(self._drive(), name="stampede-runs")
            return records

    def queued_after(self, run_id: int) -> list[int]:
        """The runs queued behind this one (a preset's next runs), in the order they start."""
        ids = [queued_id for queued_id, _ in self._queue]
        if run_id == self._current:
            return ids
        return ids[ids.index(run_id) + 1:] if run_id in ids else []

    async def stop(self, run_id: int, *, queued_after: bool = False) -> bool:
        """Stop the running run (it ends after its workers' last second) or drop a queued
        one without starting it; with `queued_after`, also drop every run queued behind it,
        so stopping a preset's first run does not start the next. False if the run is not
        active."""
        state = self._live.get(run_id)
        if state is None:
            return False
        dropped = self.queued_after(run_id) if queued_after else []
        if run_id != self._current:
            if not any(queued_id == run_id for queued_id, _ in self._queue):
                return False
            dropped.insert(0, run_id)
        # out of the queue before the first await: the running run may end meanwhile, and
        # _drive must not start a run that is being stopped
        self._queue = deque(item for item in self._queue if item[0] not in dropped)
        if run_id == self._current:
            state.stop_requested = True
            if state.engine_run is not None:
                state.engine_run.stop()
        for queued_id in dropped:
            await self._finish(self._live[queued_id], RunStatus.STOPPED, None, None)
        return True

    async def shutdown(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Stop everything: queued runs are marked stopped, the running one is stopped and
        waited for (its samples and summary stored); cancelled only if it hangs."""
        self._closing = True
        while self._queue:
            run_id, _ = self._queue.pop()
            await self._finish(self._live[run_id], RunStatus.STOPPED, None, None)
        if self._current is not None:
            await self.stop(self._current)
        task = self._task
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), grace_s)
        except asyncio.TimeoutError:
            log.warning("run #%s did not stop within %.0f s; cancelling it", self._current, grace_s)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the background task -----------------------------------------------------------

    async def _drive(self) -> None:
        first = True
        while self._queue:
            run_id, spec = self._queue.popleft()
            self._current = run_id
            try:
                await self._run(self._live[run_id], spec, already_running=first)
            except Exception:        # never leave the queue stuck behind one broken run
                log.exception("run #%s", run_id)
                if run_id in self._live:
                    await self._finish(self._live[run_id], RunStatus.FAILED, None,
                                       "internal error, see the dashboard's log")
            finally:
                self._current = None
            first = False

    async def _run(self, state: LiveState, spec: RunSpec, *, already_running: bool) -> None:
        if not already_running:
            await store.mark_running(self._db, state.run_id)
            state.status = RunStatus.RUNNING
            self._hub.publish(state.run_id, status_message(state.run_id, state.status.value))
        if state.stop_requested:
            await self._finish(state, RunStatus.STOPPED, None, None)
            return
        try:
            run = await engine.start(spec)
        except asyncio.CancelledError:
            await self._finish(state, RunStatus.STOPPED, None, None)
            raise
        except Exception as exc:
            await self._finish(state, RunStatus.FAILED, None, f"the run could not start: {exc}")
            return
        state.engine_run = run
        if state.stop_requested:
            run.stop()
        try:
            await self._consume(state, run)
        except asyncio.CancelledError:
            await self._finish(state, RunStatus.STOPPED, run.summary.to_dict(), None)
            raise
        except Exception as exc:
            log.exception("run #%s", state.run_id)
            await self._finish(state, RunStatus.FAILED, run.summary.to_dict(), str(exc))
            return
        status = RunStatus(run.outcome.value) if run.outcome else RunStatus.FAILED
        await self._finish(state, status, run.summary.to_dict(), run.error)

    async def _consume(self, state: LiveState, run: engine.Run) -> None:
        writer = _SampleWriter(self._db, state.run_id)
        snapshots = run.__aiter__()
        try:
            async for snap in snapshots:
                record = store.sample_record(snap)
                writer.add(record)
                totals = run.summary.to_dict()     # the engine added this second already
                sample_json = json.dumps(record.data)
                state.samples.append(record.data)
                state.sample_json.append(sample_json)
                state.totals, state.totals_json = totals, json.dumps(totals)
                self._hub.publish(state.run_id, snapshot_message(
                    state.run_id, sample_json, state.totals_json))
        except BaseException:
            run.stop()      # the workers end now; aclose() below reaps them
            raise
        finally:
            await snapshots.aclose()
            await writer.close()

    async def _finish(self, state: LiveState, status: RunStatus, summary: dict | None,
                      error: str | None) -> None:
        """Store the final status, tell the clients, forget the run (in that order: a client
        that finds no live state reads a finished run from the store)."""
        try:
            await store.finish_run(self._db, state.run_id, status, summary, error)
        except Exception:
            log.exception("could not store the end of run #%s", state.run_id)
        state.status = status
        self._hub.publish(state.run_id, done_message(state.run_id, status.value, summary, error))
        self._live.pop(state.run_id, None)
        if self._current == state.run_id:
            self._current = None


class _SampleWriter:
    """Writes a run's seconds in the background, in batches: whatever arrived while the
    previous write was in progress goes in the next one, so a slow disk never holds up
    the run and the store lags by at most the write in progress."""

    def __init__(self, db: aiosqlite.Connection, run_id: int):
        self._db = db
        self._run_id = run_id
        self._pending: list[store.SampleRecord] = []
        self._task: asyncio.Task | None = None

    def add(self, record: store.SampleRecord) -> None:
        if self._task is not None and self._task.done():
            self._task.result()      # a failed write fails the run rather than losing data silently
            self._task = None
        self._pending.append(record)
        if self._task is None:
            self._task = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            await store.append_samples(self._db, self._run_id, batch)

    async def close(self) -> None:
        if self._task is not None:
            # shielded: a cancelled run still gets its last seconds written
            await asyncio.shield(self._task)
        await self._flush()
