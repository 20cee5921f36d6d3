"""Seconds stored compactly, with minute and hour rollups (issue #8).

Before: one `samples` row a second holding the rounded JSON view (~0.5 KB) and two
histograms as zlib'd int32 indices + int64 counts (~12 KB each at 20,000 requests a
second): ~25 KB a second, 2 GB a day. After: one `series` row a second holding the
exact record of app/engine/record.py (~3 KB for that second), plus a row per whole
minute and hour, so that a long run's series and any window read a few rows.

Every stored second is re-encoded in place, rollups are built for every run, and the
old table goes, in this migration's one transaction: a failure leaves the database
as it was. Old seconds kept per-endpoint counts without histograms; so do their
records.
"""
from __future__ import annotations

import json
import zlib

import aiosqlite

from app.engine.histogram import Histogram
from app.engine.record import encode_record
from app.engine.series import Rollups
from app.engine.snapshot import Snapshot

_BATCH = 2000
# what every second the old code stored has; a row without one of them must not block the
# upgrade (nothing counted is assumed for it)
_OLD_DEFAULTS = {"elapsed_s": 1.0, "started": 0, "completed": 0, "ok": 0, "failed": 0,
                 "errors": 0, "bytes": 0, "in_flight": 0, "late_starts": 0,
                 "status_codes": {}, "error_classes": {}, "error_samples": {}}


async def migrate(db: aiosqlite.Connection) -> None:
    # A rowid table, not WITHOUT ROWID: rows come in key order, and SQLite fills the
    # pages of an appended rowid table whole, where an index b-tree's splits leave them
    # half empty (5.7 KB a second on disk for a 4.6 KB record, measured); the key is a
    # small index of its own.
    await db.execute("""
        CREATE TABLE series (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            span   INTEGER NOT NULL,      -- seconds merged in the row: 1, 60 or 3600
            start  INTEGER NOT NULL,      -- its first second, 1-based; (start - 1) % span = 0
            record BLOB NOT NULL          -- app/engine/record.py: exact, compressed
        )""")
    await db.execute("CREATE UNIQUE INDEX series_key ON series (run_id, span, start)")
    run_ids = [row[0] for row in await db.execute_fetchall(
        "SELECT DISTINCT run_id FROM samples ORDER BY run_id")]
    for run_id in run_ids:
        rollups, last = Rollups(), 0
        while True:
            # a run at a time, in batches: a day-long run is 86,400 rows
            rows = await db.execute_fetchall(
                "SELECT second, data_json, latency_hist, service_hist FROM samples"
                " WHERE run_id = ? AND second > ? ORDER BY second LIMIT ?",
                (run_id, last, _BATCH))
            if not rows:
                break
            out = []
            for second, data_json, latency, service in rows:
                snap = _old_second(second, data_json, latency, service)
                out += rollups.add(snap)
                last = second
            await _insert(db, run_id, out)
        await _insert(db, run_id, rollups.close())
    await db.execute("DROP TABLE samples")


def _old_second(second: int, data_json: str, latency: bytes, service: bytes) -> Snapshot:
    return Snapshot.from_stored({**_OLD_DEFAULTS, **json.loads(data_json), "second": second},
                                _old_histogram(latency), _old_histogram(service))


def _old_histogram(blob: bytes) -> Histogram:
    """An unreadable histogram (never written so by the app, but one bad row must not
    block the upgrade) is kept as none: the second's counts stay, its latency is gone."""
    try:
        return Histogram.decode(blob) if blob else Histogram()
    except (zlib.error, ValueError):
        return Histogram()


async def _insert(db: aiosqlite.Connection, run_id: int, rows) -> None:
    await db.executemany(
        "INSERT OR REPLACE INTO series (run_id, span, start, record) VALUES (?, ?, ?, ?)",
        [(run_id, span, start, encode_record(snap)) for (span, start), snap in rows])
