"""A run's series and windows, read from its stored rows plus, for a run still going,
the rows the dashboard holds that the writer has not stored yet: the one place that
decides where a second comes from (the API, the live replay and the pages ask here).

Exact at every resolution: each point and each window is the merge of its rows
(app/engine/series.py), histograms added.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiosqlite

from app.engine.record import decode_record, encode_record
from app.engine.series import Key, Rollups, buckets, cover, expand, merged
from app.engine.snapshot import Snapshot, Summary

from . import runs as store

CHUNK_SECONDS = 3600 * 3        # seconds of a series decoded at once (rollups make it cheap)


@dataclass
class Pending:
    """Rows of a running run not yet in the store (the writer lags by one write), and
    the run's last second so far. Bounded: the writer empties it as it stores."""
    rows: dict[Key, bytes] = field(default_factory=dict)
    last: int = 0


async def last_second(db: aiosqlite.Connection, run_id: int,
                      pending: Pending | None = None) -> int:
    stored = await store.last_second(db, run_id)
    return max(stored, pending.last) if pending is not None else stored


async def resolve(db: aiosqlite.Connection, run_id: int, keys: list[Key],
                  pending: Pending | None = None) -> dict[Key, Snapshot]:
    """The Snapshot of each key that has data: a rollup not (yet) stored is merged
    from its smaller rows; a second never stored is left out."""
    blobs = dict(pending.rows) if pending is not None else {}
    wanted = [k for k in keys if k not in blobs]
    blobs.update(await store.read_rows(db, run_id, wanted))
    found = {k: decode_record(blobs[k], k[1]) for k in keys if k in blobs}
    missing = {k: expand(k) for k in keys if k not in blobs and k[0] > 1}
    if missing:
        parts = await resolve(db, run_id, [c for cs in missing.values() for c in cs], pending)
        for key, children in missing.items():
            present = [parts[c] for c in children if c in parts]
            if present:
                found[key] = merged(key[1], present)
    return found


async def series(db: aiosqlite.Connection, run_id: int, lo: int, hi: int, step: int,
                 pending: Pending | None = None) -> list[Snapshot]:
    """One Snapshot per step of [lo, hi] that holds data, each the exact merge of its
    seconds; `second` is the step's first second, `elapsed_s` the time it covers."""
    last = await last_second(db, run_id, pending)
    hi = min(hi, last)
    plan = [(a, cover(a, b, last)) for a, b in buckets(lo, hi, step)] if lo <= hi else []
    rows = await resolve(db, run_id, [k for _, keys in plan for k in keys], pending)
    points = []
    for first, keys in plan:
        parts = [rows[k] for k in keys if k in rows]
        if len(parts) == 1:                 # decoded for this answer: no copy needed
            points.append(parts[0])
        elif parts:
            points.append(merged(first, parts))
    return points


async def series_chunks(db: aiosqlite.Connection, run_id: int, lo: int, hi: int, step: int,
                        pending: Pending | None = None) -> AsyncIterator[list[Snapshot]]:
    """series() a few hundred steps at a time, so that a long answer (a 24-hour CSV, a
    fine step over hours) never holds more than a chunk's histograms."""
    per_chunk = max(1, CHUNK_SECONDS // step) * step
    start = lo
    while start <= hi:
        end = min((start - 1) // per_chunk * per_chunk + per_chunk, hi)
        yield await series(db, run_id, start, end, step, pending)
        start = end + 1


async def window(db: aiosqlite.Connection, run_id: int, lo: int, hi: int,
                 pending: Pending | None = None) -> Summary:
    """The exact summary of seconds lo..hi (all of them: 1..last)."""
    last = await last_second(db, run_id, pending)
    keys = cover(lo, min(hi, last), last) if lo <= min(hi, last) else []
    rows = await resolve(db, run_id, keys, pending)
    return Summary.of(rows[k] for k in keys if k in rows)


async def seconds(db: aiosqlite.Connection, run_id: int, lo: int, hi: int,
                  pending: Pending | None = None) -> AsyncIterator[list[Snapshot]]:
    """Every second of lo..hi, in order, a chunk at a time (never the whole run)."""
    stored = 0
    async for chunk in store.read_seconds(db, run_id, lo, hi):
        stored = chunk[-1][0]
        yield [decode_record(blob, second) for second, blob in chunk]
    if pending is not None:
        rest = sorted((k[1], blob) for k, blob in pending.rows.items()
                      if k[0] == 1 and max(lo, stored + 1) <= k[1] <= hi)
        if rest:
            yield [decode_record(blob, second) for second, blob in rest]


def encoded(rows: list[tuple[Key, Snapshot]]) -> list[tuple[int, int, bytes]]:
    return [(span, start, encode_record(snap)) for (span, start), snap in rows]


async def close_interrupted(db: aiosqlite.Connection, run_ids: list[int]) -> None:
    """Runs a dead dashboard left behind: their last, partial minute and hour get their
    rollups (from the seconds after the last stored ones), then a summary of every
    stored second, so they stay readable and fast."""
    for run_id in run_ids:
        last = await store.last_second(db, run_id)
        if not last:
            continue
        start = (last - 1) // 3600 * 3600 + 1             # the last hour's seconds at most
        rollups = Rollups()
        async for chunk in seconds(db, run_id, start, last):
            for snap in chunk:
                rollups.add(snap)
        await store.append_rows(db, run_id, encoded(rollups.close()))
        summary = await window(db, run_id, 1, last)
        await store.store_summary(db, run_id, summary.to_dict())

