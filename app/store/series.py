"""A run's series and windows, read from its stored rows plus, for a run still going,
the rows the dashboard holds that the writer has not stored yet: the one place that
decides where a second comes from (the API, the live replay and the pages ask here).

Exact at every resolution: each point and each window is the merge of its rows
(app/engine/series.py), histograms added.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import aiosqlite

from app.engine.record import decode_record, encode_record
from app.engine.series import Key, Rollups, buckets, cover, default_step, expand, merged
from app.engine.snapshot import Snapshot, Summary

from . import runs as store

ROWS_PER_CHUNK = 500            # rows of a series decoded at once (~40 MB at most)
# stored bytes of seconds decoded at once: a record decodes to ~10-30 times its size (its
# histograms' counts), so ~20-60 MB whatever the seconds hold (a 20,000 req/s second of 10
# endpoints is ~15 KB stored)
DECODE_BYTES = 2 * 2**20


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


async def _fetch(db: aiosqlite.Connection, run_id: int, keys: list[Key],
                 pending: Pending | None) -> dict[Key, bytes | list[Key]]:
    """The stored blob of each key; for a rollup not (yet) stored, its smaller keys,
    fetched in turn. A second never stored is left out."""
    held = dict(pending.rows) if pending is not None else {}
    found: dict[Key, bytes | list[Key]] = {}
    while keys:
        blobs = {k: held[k] for k in keys if k in held}
        blobs.update(await store.read_rows(db, run_id, [k for k in keys if k not in held]))
        smaller: list[Key] = []
        for key in keys:
            if key in blobs:
                found[key] = blobs[key]
            elif key[0] > 1:
                found[key] = expand(key)
                smaller += found[key]
        keys = smaller
    return found


def _snapshot(key: Key, found: dict[Key, bytes | list[Key]]) -> Snapshot | None:
    got = found.get(key)
    if isinstance(got, list):
        parts = [p for p in (_snapshot(k, found) for k in got) if p is not None]
        return merged(key[1], parts) if parts else None
    return decode_record(got, key[1]) if got is not None else None


def _point(first: int, keys: list[Key], found: dict[Key, bytes | list[Key]]
           ) -> Snapshot | None:
    parts = [p for p in (_snapshot(k, found) for k in keys) if p is not None]
    if len(parts) == 1:                  # decoded for this answer: no copy needed
        return parts[0]
    return merged(first, parts) if parts else None


async def views(db: aiosqlite.Connection, run_id: int, lo: int, hi: int, step: int,
                pending: Pending | None = None) -> AsyncIterator[list[dict]]:
    """The view (Snapshot.to_view) of each step of [lo, hi] that holds data, each the
    exact merge of its seconds (`second`: the step's first; `elapsed_s`: the time it
    covers), a chunk at a time: at most ROWS_PER_CHUNK rows are decoded at once (a
    decoded second holds ~80 KB of counts), and decoding runs off the event loop."""
    last = await last_second(db, run_id, pending)
    hi = min(hi, last)
    plan = [(a, cover(a, b, last)) for a, b in buckets(lo, hi, step)] if lo <= hi else []
    at = 0
    while at < len(plan):
        chunk, rows = [], 0
        while at < len(plan) and (not chunk or rows + len(plan[at][1]) <= ROWS_PER_CHUNK):
            chunk.append(plan[at])
            rows += len(plan[at][1])
            at += 1
        found = await _fetch(db, run_id, [k for _, keys in chunk for k in keys], pending)

        def build(chunk=chunk, found=found) -> list[dict]:
            points = (_point(first, keys, found) for first, keys in chunk)
            return [p.to_view() for p in points if p is not None]
        yield await asyncio.to_thread(build)


async def window(db: aiosqlite.Connection, run_id: int, lo: int, hi: int,
                 pending: Pending | None = None) -> Summary:
    """The exact summary of seconds lo..hi (all of them: 1..last)."""
    last = await last_second(db, run_id, pending)
    keys = cover(lo, min(hi, last), last) if lo <= min(hi, last) else []
    found = await _fetch(db, run_id, keys, pending)
    return await asyncio.to_thread(
        lambda: Summary.of(p for p in (_snapshot(k, found) for k in keys) if p is not None))


async def seconds(db: aiosqlite.Connection, run_id: int, lo: int, hi: int,
                  pending: Pending | None = None) -> AsyncIterator[list[Snapshot]]:
    """Every second of lo..hi, in order, a chunk at a time (never the whole run): at most
    DECODE_BYTES of stored records decoded at once, off the event loop. A chunk of 1,000
    seconds of 10 endpoints decoded at once held ~1 GB (two 29-minute runs compared)."""
    stored = 0
    async for chunk in store.read_seconds(db, run_id, lo, hi):
        stored = chunk[-1][0]
        for part in _by_bytes(chunk):
            yield await asyncio.to_thread(_decode_all, part)
    if pending is not None:
        rest = sorted((k[1], blob) for k, blob in pending.rows.items()
                      if k[0] == 1 and max(lo, stored + 1) <= k[1] <= hi)
        for part in _by_bytes(rest):
            yield await asyncio.to_thread(_decode_all, part)


def _by_bytes(rows: list[tuple[int, bytes]]) -> Iterator[list[tuple[int, bytes]]]:
    part: list[tuple[int, bytes]] = []
    size = 0
    for row in rows:
        if part and size + len(row[1]) > DECODE_BYTES:
            yield part
            part, size = [], 0
        part.append(row)
        size += len(row[1])
    if part:
        yield part


def _decode_all(rows: list[tuple[int, bytes]]) -> list[Snapshot]:
    return [decode_record(blob, second) for second, blob in rows]


async def overview(db: aiosqlite.Connection, run_id: int) -> tuple[int, int, str]:
    """(step, last second, samples JSON): an ENDED run's whole series at its default
    step, computed once and kept (its rows never change again)."""
    stored = await store.get_overview(db, run_id)
    if stored is not None:
        return stored
    last = await store.last_second(db, run_id)
    step = default_step(1, max(last, 1))
    samples = json.dumps([v async for chunk in views(db, run_id, 1, last, step) for v in chunk])
    if await store.get_run(db, run_id) is not None:        # not deleted meanwhile
        await store.put_overview(db, run_id, step, last, samples)
    return step, last, samples


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

