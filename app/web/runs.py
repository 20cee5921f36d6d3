"""RunManager: the one active run (plus a FIFO queue), persisted and published as it goes.

The engine's hot path runs in worker processes; this event loop only receives one
merged Snapshot per second, hands its rows (the second, and the minute and hour it
completes) to a background writer (a crash loses at most the rows not yet written),
keeps the recent seconds in memory for late joiners and publishes it to the hub. At
the end the summary is stored with the final status. Memory does not grow with the
run's length: a late joiner gets the older seconds from the store, downsampled.

A database that takes no more writes (disk full, read-only) fails the run at the next
second, naming the file and what to do, and stops its engine. If even the end cannot be
stored, the run is let go all the same (a new one may start) and its end is stored as
soon as the database takes writes again.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import sqlite3
import sys
from collections import deque
from dataclasses import dataclass, field

import aiosqlite

from app import engine
from app.engine.backends import Cluster
from app.engine.backends.local import ThisMachine
from app.engine.snapshot import Snapshot
from app.spec import RunSpec
from app.status import RunStatus
from app.store import db as store_db
from app.engine.series import Rollups
from app.store import runs as store
from app.store import series as timeline
from app.store.series import Pending, encoded

from .hub import Hub, done_message, event_message, snapshot_message, status_message

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_S = 15.0     # a stopped run's workers report their last second well within this
END_RETRY_S = 2.0           # a run's end that could not be stored is tried again this often


class RunActive(Exception):
    """Another run is active (or queued): one at a time."""

    def __init__(self, run_id: int):
        super().__init__(f"run #{run_id} is active")
        self.run_id = run_id


RECENT_SECONDS = 300        # seconds a live run keeps in memory, in full, for late joiners


@dataclass
class LiveState:
    """What the dashboard knows of an active (or queued) run, in memory: bounded."""
    run_id: int
    status: RunStatus
    # (second, Snapshot.to_view() as JSON) of the last RECENT_SECONDS seconds
    recent: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=RECENT_SECONDS))
    pending: Pending = field(default_factory=Pending)      # rows the writer has not stored
    totals: dict | None = None                              # Summary.to_dict() so far
    totals_json: str = "null"
    nodes_json: str = "null"                                # each node's last second
    stop_requested: bool = False
    engine_run: engine.Run | None = None

    def replay(self) -> tuple[int, list[str]]:
        """(first second held, one snapshot message per second held), totals the current
        ones; the seconds before come from the store (live.py)."""
        first = self.recent[0][0] if self.recent else self.pending.last + 1
        return first, [snapshot_message(self.run_id, s, self.totals_json, self.nodes_json)
                       for _, s in self.recent]


@dataclass(frozen=True)
class _End:
    """How a run ended, as finish_run stores it."""
    status: RunStatus
    summary: dict | None
    error: str | None


class RunManager:
    def __init__(self, db: aiosqlite.Connection, hub: Hub, cluster: Cluster | None = None):
        self._db = db
        self._hub = hub
        self._cluster = cluster or ThisMachine()
        self._lock = asyncio.Lock()
        self._queue: deque[tuple[int, RunSpec]] = deque()
        self._live: dict[int, LiveState] = {}
        self._current: int | None = None
        self._task: asyncio.Task | None = None
        self._closing = False
        # ends the database refused (full, read-only): their rows still say running
        self._unstored: dict[int, _End] = {}
        self._tasks: set[asyncio.Task] = set()
        self._retry: asyncio.Task | None = None

    # -- what the handlers ask -------------------------------------------------------

    @property
    def active_id(self) -> int | None:
        if self._current is not None:
            return self._current
        return self._queue[0][0] if self._queue else None

    def live_state(self, run_id: int) -> LiveState | None:
        return self._live.get(run_id)

    def pending(self, run_id: int) -> Pending | None:
        """A running run's rows not stored yet (None once it has ended: all are stored)."""
        state = self._live.get(run_id)
        return state.pending if state is not None else None

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
            try:
                records = await store.create_runs(
                    self._db, [s.to_dict(with_data=True) for s in specs])
            except sqlite3.Error as exc:
                problem = await store_db.storage_error(self._db, exc, "the run could not be stored")
                if problem is None:
                    raise
                raise problem from exc
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
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), grace_s)
            except asyncio.TimeoutError:
                log.warning("run #%s did not stop within %.0f s; cancelling it",
                            self._current, grace_s)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._last_try_for_unstored_ends()
        for task in list(self._tasks):      # an overview not kept yet is made on demand
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- the background task -----------------------------------------------------------

    async def _drive(self) -> None:
        first = True
        while self._queue:
            run_id, spec = self._queue.popleft()
            self._current = run_id
            try:
                await self._run(self._live[run_id], spec, already_running=first)
            except Exception as exc:        # never leave the queue stuck behind one broken run
                problem = await store_db.storage_error(
                    self._db, exc, f"run #{run_id} could not be marked running")
                if problem is None:
                    log.exception("run #%s", run_id)
                else:
                    log.error("%s", problem)
                if run_id in self._live:
                    await self._finish(self._live[run_id], RunStatus.FAILED, None,
                                       f"{problem}, then start it again" if problem
                                       else "internal error, see the dashboard's log")
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
            run = await engine.start(spec, self._cluster.backend())
        except asyncio.CancelledError:
            await self._finish(state, RunStatus.STOPPED, None, None)
            raise
        except Exception as exc:
            await self._finish(state, RunStatus.FAILED, None, f"the run could not start: {exc}")
            return
        state.engine_run = run
        run.on_waiting = functools.partial(self._show_waiting, state, run)
        run.on_lost = functools.partial(self._show_lost, state, run)
        if state.stop_requested:
            run.stop()
        try:
            await self._consume(state, run)
        except asyncio.CancelledError:
            await self._finish(state, RunStatus.STOPPED, run.result(), None)
            raise
        except store_db.StorageError as exc:
            log.error("run #%s: %s", state.run_id, exc)
            await self._finish(state, RunStatus.FAILED, run.result(),
                               f"{exc}, then start a new run. The run was stopped; the "
                               "seconds stored before are kept.")
            return
        except Exception as exc:
            log.exception("run #%s", state.run_id)
            await self._finish(state, RunStatus.FAILED, run.result(), str(exc))
            return
        status = RunStatus(run.outcome.value) if run.outcome else RunStatus.FAILED
        await self._finish(state, status, run.result(), run.error)

    async def _consume(self, state: LiveState, run: engine.Run) -> None:
        writer = _RowWriter(self._db, state.run_id, state.pending)
        rollups = Rollups()
        snapshots = run.__aiter__()
        try:
            async for snap in snapshots:
                writer.add(encoded(rollups.add(snap)))
                state.pending.last = snap.second
                sample_json = json.dumps(snap.to_view())
                state.recent.append((snap.second, sample_json))
                self._update_totals(state, run)     # the engine added this second already
                self._hub.publish(state.run_id, snapshot_message(
                    state.run_id, sample_json, state.totals_json, state.nodes_json))
        except BaseException:
            run.stop()      # the workers end now; aclose() below reaps them
            raise
        finally:
            ending = sys.exc_info()[1]           # what the run is ending on, if anything
            await snapshots.aclose()
            try:
                writer.add(encoded(rollups.close()))
                await writer.close()
            except Exception:
                # a run already ending on an error or a cancellation keeps that one: a
                # writer that failed before says so again here
                if ending is None:
                    raise
                log.exception("run #%s: its last rows", state.run_id)

    @staticmethod
    def _update_totals(state: LiveState, run: engine.Run) -> None:
        """The totals so far (as the summary will be: per node over the run, the workers
        lost so far), and apart, each node's last second (the health panel's)."""
        totals = run.result()
        state.totals, state.totals_json = totals, json.dumps(totals)
        state.nodes_json = json.dumps(run.nodes.view())

    def _show_waiting(self, state: LiveState, run: engine.Run, snap: Snapshot,
                      missing: list[int]) -> None:
        """A second still waiting for late workers' shares: shown as it stands, marked
        partial; the complete second replaces it (same second) when they arrive. It is
        not kept for replays, nor stored."""
        view = snap.to_view()
        view["partial"] = {"missing_workers": missing}
        self._hub.publish(state.run_id, snapshot_message(
            state.run_id, json.dumps(view), state.totals_json, state.nodes_json))

    def _show_lost(self, state: LiveState, run: engine.Run, event: dict) -> None:
        self._update_totals(state, run)
        self._hub.publish(state.run_id, event_message(state.run_id, "lost_worker", event))

    async def _finish(self, state: LiveState, status: RunStatus, summary: dict | None,
                      error: str | None) -> None:
        """Store the final status, tell the clients, forget the run (in that order: a client
        that finds no live state reads a finished run from the store).

        An end the database refuses is forgotten all the same (the dashboard must not wait on
        a disk for a new run to start) and tried again until it is stored."""
        end = _End(status, summary, error)
        try:
            await self._store_end(state.run_id, end)
            if state.engine_run is not None:       # it has rows: its page's series, once
                self._background(timeline.overview(self._db, state.run_id))
        except sqlite3.Error as exc:
            problem = await store_db.storage_error(
                self._db, exc, f"the end of run #{state.run_id} could not be stored")
            log.error("%s; trying again every %.0f s", problem or exc, END_RETRY_S)
            self._unstored[state.run_id] = end
            if self._retry is None or self._retry.done():
                self._retry = asyncio.create_task(self._retry_unstored_ends(),
                                                  name="stampede-unstored-ends")
        except Exception:
            log.exception("could not store the end of run #%s", state.run_id)
        state.status = status
        self._hub.publish(state.run_id, done_message(state.run_id, status.value, summary, error))
        self._live.pop(state.run_id, None)
        if self._current == state.run_id:
            self._current = None

    def _background(self, work) -> None:
        """Work nobody waits for (a failure is logged): kept referenced until done."""
        task = asyncio.create_task(work)
        self._tasks.add(task)

        def done(task: asyncio.Task) -> None:
            self._tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error("background work failed", exc_info=task.exception())
        task.add_done_callback(done)

    async def _store_end(self, run_id: int, end: _End) -> None:
        await store.finish_run(self._db, run_id, end.status, end.summary, end.error)

    async def _retry_unstored_ends(self) -> None:
        while self._unstored:
            await asyncio.sleep(END_RETRY_S)
            for run_id, end in list(self._unstored.items()):
                with contextlib.suppress(sqlite3.Error):
                    await self._store_end(run_id, end)
                    del self._unstored[run_id]
                    log.info("stored the end of run #%s at last", run_id)

    async def _last_try_for_unstored_ends(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry
        for run_id, end in list(self._unstored.items()):
            try:
                await self._store_end(run_id, end)
                del self._unstored[run_id]
            except sqlite3.Error as exc:
                log.warning("the end of run #%s is not stored (%s): the database still says "
                            "running, and the next start marks it interrupted", run_id, exc)


class _RowWriter:
    """Writes a run's rows in the background, in batches: whatever arrived while the
    previous write was in progress goes in the next one, so a slow disk never holds up
    the run and the store lags by at most the write in progress. Until a row is stored
    it is in `unstored`, where the series reads it."""

    def __init__(self, db: aiosqlite.Connection, run_id: int, unstored: Pending):
        self._db = db
        self._run_id = run_id
        self._unstored = unstored
        self._pending: list[tuple[int, int, bytes]] = []
        self._task: asyncio.Task | None = None

    def add(self, rows: list[tuple[int, int, bytes]]) -> None:
        if self._task is not None and self._task.done():
            self._task.result()      # a failed write fails the run rather than losing data silently
            self._task = None
        self._unstored.rows.update(((span, start), blob) for span, start, blob in rows)
        self._pending.extend(rows)
        if self._task is None:
            self._task = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await store.append_rows(self._db, self._run_id, batch)
            except sqlite3.Error as exc:
                seconds = [start for span, start, _ in batch if span == 1]
                what = f"second {seconds[0]}" if seconds else "the last rollups"
                problem = await store_db.storage_error(
                    self._db, exc, f"{what} of run #{self._run_id} could not be stored")
                if problem is None:
                    raise
                raise problem from exc
            for span, start, _ in batch:
                self._unstored.rows.pop((span, start), None)

    async def close(self) -> None:
        if self._task is not None:
            # shielded: a cancelled run still gets its last seconds written
            await asyncio.shield(self._task)
        await self._flush()
