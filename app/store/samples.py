"""A run's bootstrap units (app/analysis/bootstrap.py Samples) over a window, read
through app/store/series.py: its seconds, or, for a window of 30 minutes or more, its
stored minute (or hour) rows, so that a day-long run is 1,440 rows, not 86,400 seconds.
"""
from __future__ import annotations

import asyncio

import aiosqlite

from app.analysis.bootstrap import Samples, unit_for
from app.analysis.compare import Side, figures
from app.engine.series import buckets
from app.engine.snapshot import Snapshot

from . import db as store_db
from . import runs as store
from . import series as timeline


def add(samples: Samples, second: int, elapsed_s: float, snap: Snapshot) -> None:
    samples.add(second, elapsed_s, snap.ok, snap.failed, snap.errors, snap.completed,
                snap.latency)


async def run_samples(db: aiosqlite.Connection, run_id: int, lo: int, hi: int,
                      pending: timeline.Pending | None = None) -> Samples:
    """The units of seconds lo..hi of a run (hi past its end: to its end)."""
    hi = min(hi, await timeline.last_second(db, run_id, pending))
    samples = Samples(unit_s=unit_for(max(hi - lo + 1, 1)))
    if hi < lo:
        return samples
    if samples.unit_s == 1:
        async for chunk in timeline.seconds(db, run_id, lo, hi, pending):
            # binning each second's histogram coarser: off the event loop
            await asyncio.to_thread(
                lambda chunk=chunk: [add(samples, s.second, s.elapsed_s, s) for s in chunk])
        return samples
    for first, last in buckets(lo, hi, samples.unit_s):    # aligned: stored rollup rows
        summary = await timeline.window(db, run_id, first, last, pending)
        if summary.duration_s:
            add(samples, first, summary.duration_s, summary.total)
    return samples


async def side(db: aiosqlite.Connection, run_id: int, lo: int, hi: int,
               pending: timeline.Pending | None = None, summary: dict | None = None) -> Side:
    """A run as a comparison takes it: the exact figures of the window (of `summary` when
    the caller has it already) and its units."""
    if summary is None:
        summary = (await timeline.window(db, run_id, lo, hi, pending)).to_dict()
    return Side(figures(summary), await run_samples(db, run_id, lo, hi, pending))


async def stored_side(path: str, run_id: int) -> Side | None:
    """A stored run, whole, as a comparison takes it (bench --baseline RUN_ID --db PATH);
    None when the database has no such run."""
    db = await store_db.open_db(path)
    try:
        if await store.get_run(db, run_id) is None:
            return None
        last = await timeline.last_second(db, run_id)
        return await side(db, run_id, 1, max(last, 1))
    finally:
        await db.close()
