"""Retention: --keep-days and --keep-runs keep the database bounded, never touching an
active run, and deleting a run gives its space back to the file system."""
from __future__ import annotations

import dataclasses
import os
import sqlite3

import numpy as np

from app.engine.record import encode_record
from app.engine.snapshot import Snapshot
from app.status import RunStatus
from app.store import runs as store
from app.store.db import open_db, size_bytes
from app.web.app import create_app


def spec(name: str) -> dict:
    return {"name": name, "url": "http://127.0.0.1:1/", "engine": "aiohttp", "model": "closed"}


async def ended_runs(db, count: int) -> list[int]:
    ids = []
    for k in range(count):
        run = await store.create_run(db, spec(f"r{k}"), status=RunStatus.RUNNING)
        await store.finish_run(db, run.id, RunStatus.FINISHED, None)
        ids.append(run.id)
    return ids


async def test_keep_runs_and_keep_days_spare_active_runs(tmp_path):
    db = await open_db(tmp_path / "r.sqlite")
    try:
        old = await ended_runs(db, 3)
        running = (await store.create_run(db, spec("live"), status=RunStatus.RUNNING)).id
        new = await ended_runs(db, 2)
        assert await store.prune(db) == []                        # no retention asked
        assert await store.prune(db, keep_runs=2) == old
        assert await store.get_run(db, running) is not None
        await db.execute("UPDATE runs SET created_at = created_at - 3 * 86400 WHERE id = ?",
                         (new[0],))
        await db.execute("UPDATE runs SET created_at = created_at - 3 * 86400 WHERE id = ?",
                         (running,))
        assert await store.prune(db, keep_days=2) == [new[0]]     # the old active one stays
        assert [r.id for r in (await store.list_runs(db))[0]] == [new[1], running]
    finally:
        await db.close()


async def test_deleting_a_run_frees_its_space(tmp_path):
    path = tmp_path / "big.sqlite"
    db = await open_db(path)
    try:
        assert (await db.execute_fetchall("PRAGMA auto_vacuum"))[0][0] == 2   # incremental
        assert (await db.execute_fetchall("PRAGMA page_size"))[0][0] == 65536
        assert (await db.execute_fetchall("PRAGMA journal_mode"))[0][0] == "wal"
        run = (await ended_runs(db, 1))[0]
        snap = Snapshot(second=1, elapsed_s=1.0)
        snap.latency.record_ns(np.random.default_rng(1).integers(1_000_000, 200_000_000, 20_000))
        blob = encode_record(snap)
        await store.append_rows(db, run, [(1, s, blob) for s in range(1, 3001)])
        before = await size_bytes(db)
        assert before > 3000 * len(blob)
        assert await store.delete_run(db, run)
        await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert await size_bytes(db) < before / 10
        assert os.path.getsize(path) < before / 10
    finally:
        await db.close()


async def test_an_existing_file_is_switched_to_incremental_vacuum(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as plain:
        plain.execute("CREATE TABLE leftover (x)")
    assert sqlite3.connect(path).execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    db = await open_db(path)
    await db.close()
    plain = sqlite3.connect(path)
    assert plain.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert plain.execute("PRAGMA page_size").fetchone()[0] == 65536
    assert plain.execute("SELECT name FROM sqlite_master WHERE name = 'leftover'").fetchone()


async def test_the_dashboard_prunes_at_start(aiohttp_client, settings):
    db = await open_db(settings.db_path)
    ids = await ended_runs(db, 4)
    await db.close()
    client = await aiohttp_client(create_app(dataclasses.replace(settings, keep_runs=1)))
    body = await (await client.get("/api/runs")).json()
    assert [r["id"] for r in body["runs"]] == [ids[-1]]
    page = await (await client.get("/runs")).text()
    assert f"<code>{settings.db_path}</code>, takes " in page and " MB" in page
    assert "keeping the 1 newest run, with active runs always kept" in page
