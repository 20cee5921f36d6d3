"""A run's bootstrap units (app/analysis/bootstrap.py Samples) over a window, read
through app/store/series.py: its seconds, or, for a window of 30 minutes or more, its
stored minute (or hour) rows, so that a day-long run is 1,440 rows, not 86,400 seconds.
Read in the same pass, the units of the endpoints a comparison tests: each unit with that
endpoint's counts and histogram alone (zeros where it had no request).
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiosqlite

from app.analysis.bootstrap import Samples, unit_for
from app.analysis.compare import Side, endpoint_figures, figures
from app.engine.series import buckets
from app.engine.snapshot import EndpointStats, Snapshot

from . import db as store_db
from . import runs as store
from . import series as timeline


def add(samples: Samples, second: int, elapsed_s: float, snap: Snapshot) -> None:
    samples.add(second, elapsed_s, snap.ok, snap.failed, snap.errors, snap.completed,
                snap.latency)


_NONE = EndpointStats()         # an endpoint's unit without a request


def add_endpoints(of: dict[str, Samples], second: int, elapsed_s: float,
                  snap: Snapshot) -> None:
    for name, samples in of.items():
        e = snap.endpoints.get(name, _NONE)
        samples.add(second, elapsed_s, e.ok, e.failed, e.errors, e.requests, e.latency)


async def run_samples(db: aiosqlite.Connection, run_id: int, lo: int, hi: int,
                      pending: timeline.Pending | None = None) -> Samples:
    """The units of seconds lo..hi of a run (hi past its end: to its end)."""
    return (await _read(db, run_id, lo, hi, pending, ()))[0]


async def _read(db: aiosqlite.Connection, run_id: int, lo: int, hi: int,
                pending: timeline.Pending | None, names: Sequence[str]
                ) -> tuple[Samples, dict[str, Samples]]:
    """The run's units and, in the same pass, those of each endpoint of `names`."""
    hi = min(hi, await timeline.last_second(db, run_id, pending))
    samples = Samples(unit_s=unit_for(max(hi - lo + 1, 1)))
    of = {name: Samples(unit_s=samples.unit_s) for name in names}

    def take(second: int, elapsed_s: float, snap: Snapshot) -> None:
        add(samples, second, elapsed_s, snap)
        add_endpoints(of, second, elapsed_s, snap)

    if hi < lo:
        return samples, of
    if samples.unit_s == 1:
        async for chunk in timeline.seconds(db, run_id, lo, hi, pending):
            # binning each second's histogram coarser: off the event loop
            await asyncio.to_thread(
                lambda chunk=chunk: [take(s.second, s.elapsed_s, s) for s in chunk])
        return samples, of
    for first, last in buckets(lo, hi, samples.unit_s):    # aligned: stored rollup rows
        summary = await timeline.window(db, run_id, first, last, pending)
        if summary.duration_s:
            take(first, summary.duration_s, summary.total)
    return samples, of


async def side(db: aiosqlite.Connection, run_id: int, lo: int, hi: int,
               pending: timeline.Pending | None = None, summary: dict | None = None,
               endpoints: Sequence[str] = ()) -> Side:
    """A run as a comparison takes it: the exact figures of the window (of `summary` when
    the caller has it already) and its units; and the same of each endpoint of
    `endpoints` (compare.endpoints_to_test), read in the same pass."""
    if summary is None:
        summary = (await timeline.window(db, run_id, lo, hi, pending)).to_dict()
    samples, of = await _read(db, run_id, lo, hi, pending, endpoints)
    stats = summary.get("endpoints") or {}
    return Side(figures(summary), samples,
                {name: Side(endpoint_figures(stats.get(name)), of[name]) for name in endpoints})


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
