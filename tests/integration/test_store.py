"""The storage layer against real SQLite files (no mocks)."""
from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from app.engine.histogram import Histogram
from app.engine.snapshot import Snapshot, Summary
from app.status import RunStatus
from app.store.db import MigrationError, default_migrations_dir, open_db, split_statements
from app.engine.record import decode_record, encode_record
from app.store.runs import (SORT_KEYS, RunRecord, append_rows, create_run, delete_run,
                            finish_run, get_run, get_run_data, get_runs, interrupt_active,
                            list_runs, mark_running, read_rows, read_seconds)


@pytest.fixture
async def db(tmp_path):
    conn = await open_db(tmp_path / "data" / "stampede.db")
    yield conn
    await conn.close()


def spec(name: str = "", url: str = "http://127.0.0.1:8080/", engine: str = "aiohttp",
         model: str = "closed") -> dict:
    return {"name": name, "url": url, "method": "GET", "engine": engine, "model": model,
            "concurrency": 10, "duration": 5.0}


def summary(requests: int, rps: float, p50: float, p99: float, error_rate: float,
            duration: float) -> dict:
    return {"requests": requests, "rps": rps, "error_rate": error_rate,
            "duration_s": duration, "latency_ms": {"p50": p50, "p99": p99}}


def snapshot_sample(second: int, latencies_ms: list[float]
                    ) -> tuple[Snapshot, tuple[int, int, bytes]]:
    """A second and its stored row (span 1)."""
    snap = Snapshot(second=second, elapsed_s=1.0, started=len(latencies_ms),
                    completed=len(latencies_ms), ok=len(latencies_ms))
    snap.status_codes[200] = len(latencies_ms)
    snap.latency.record_ns([int(ms * 1e6) for ms in latencies_ms])
    snap.service.record_ns([int(ms * 0.9e6) for ms in latencies_ms])
    return snap, (1, second, encode_record(snap))


async def get_seconds(db, run_id: int) -> list[tuple[int, bytes]]:
    return [row async for chunk in read_seconds(db, run_id, 1, 10**9) for row in chunk]


# every migration in the folder, by number
LATEST = sorted(int(p.name[:4]) for p in default_migrations_dir().iterdir()
                if p.suffix in (".sql", ".py"))


async def versions(conn) -> list[int]:
    rows = await conn.execute_fetchall("SELECT version FROM schema_migrations ORDER BY version")
    return [row[0] for row in rows]


# -- opening and migrating ------------------------------------------------------------

async def test_fresh_database_is_migrated_with_wal_and_foreign_keys(tmp_path):
    path = tmp_path / "nested" / "dir" / "s.db"
    conn = await open_db(path)
    try:
        assert path.exists()
        rows = await conn.execute_fetchall("SELECT version, name FROM schema_migrations")
        # every file of migrations/, in order (0001_initial.sql -> (1, "initial"))
        files = sorted(p.name for p in default_migrations_dir().iterdir()
                       if p.suffix in (".sql", ".py"))
        expected = [(int(f[:4]), f[5:].rsplit(".", 1)[0]) for f in files]
        assert [(r[0], r[1]) for r in rows] == expected
        assert expected[:6] == [(1, "initial"), (2, "run_summary_columns"),
                                (3, "no_latency_without_responses"), (4, "run_data"),
                                (5, "compact_series"), (6, "overviews")]
        assert (await conn.execute_fetchall("PRAGMA journal_mode"))[0][0] == "wal"
        assert (await conn.execute_fetchall("PRAGMA foreign_keys"))[0][0] == 1
        assert (await conn.execute_fetchall("PRAGMA busy_timeout"))[0][0] == 5000
    finally:
        await conn.close()


async def test_reopening_applies_nothing_twice(tmp_path):
    path = tmp_path / "s.db"
    applied = []
    for _ in range(2):
        conn = await open_db(path)
        rows = await conn.execute_fetchall("SELECT version, applied_at FROM schema_migrations")
        applied.append([tuple(r) for r in rows])
        await conn.close()
    assert applied[0] == applied[1] and [v for v, _ in applied[0]] == LATEST


async def test_older_database_upgrades_in_place_with_backfill(tmp_path):
    path = tmp_path / "old.db"
    conn = await open_db(path, upto=1)
    assert await versions(conn) == [1]
    await conn.execute(
        "INSERT INTO runs (name, url, spec_json, engine, model, status, created_at, summary_json)"
        " VALUES ('old', 'http://x/', '{}', 'aiohttp', 'closed', 'finished', 1.0, ?)",
        ('{"requests": 1200, "rps": 400.5, "error_rate": 0.25, "duration_s": 3.0,'
         ' "latency_ms": {"p50": 1.5, "p99": 9.75}}',))
    await conn.execute(   # a corrupt summary must not block the upgrade
        "INSERT INTO runs (url, spec_json, engine, model, status, created_at, summary_json)"
        " VALUES ('http://y/', '{}', 'fast', 'open', 'failed', 2.0, 'not json')")
    await conn.close()

    conn = await open_db(path)
    try:
        assert await versions(conn) == LATEST
        rows = await conn.execute_fetchall(
            "SELECT name, requests, rps, p50_ms, p99_ms, error_rate, duration_s FROM runs"
            " ORDER BY id")
        assert tuple(rows[0]) == ("old", 1200, 400.5, 1.5, 9.75, 0.25, 3.0)
        assert tuple(rows[1])[1:] == (None,) * 6
        page, total = await list_runs(conn, text="old", sort="p99")
        assert total == 1 and page[0].summary["latency_ms"]["p99"] == 9.75
    finally:
        await conn.close()


async def test_error_only_runs_stored_with_zero_latency_become_null(tmp_path):
    """Migration 0003 on rows as the code before it wrote them: a run whose every request
    was a transport error had 0 ms latencies and sorted as the fastest."""
    path = tmp_path / "old.db"
    conn = await open_db(path, upto=2)
    zeros = {k: 0.0 for k in ("mean", "min", "p50", "p90", "p99", "p999", "max")}
    old = [("errors", {"requests": 50, "ok": 0, "failed": 0, "errors": 50, "duration_s": 0.5,
                       "rps": 100.0, "latency_ms": zeros, "service_ms": zeros,
                       "percentile_curve": [[50.0, 0.0]]}),
           ("mixed", {"requests": 40, "ok": 10, "failed": 10, "errors": 20, "duration_s": 2.0,
                      "rps": 20.0, "latency_ms": {**zeros, "p50": 3.0, "p99": 7.0},
                      "service_ms": zeros, "percentile_curve": [[50.0, 3.0]]})]
    for name, data in old:
        await conn.execute(
            "INSERT INTO runs (name, url, spec_json, engine, model, status, created_at,"
            " summary_json, rps, p50_ms, p99_ms) VALUES (?, 'http://x/', '{}', 'fast',"
            " 'closed', 'finished', 1.0, ?, ?, ?, ?)",
            (name, json.dumps(data), data["rps"], data["latency_ms"]["p50"],
             data["latency_ms"]["p99"]))
    second = {"second": 1, "elapsed_s": 0.5, "ok": 0, "failed": 0, "errors": 50, "rps": 100.0,
              "latency_ms": {"mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "p999": 0.0,
                             "max": 0.0},
              "service_ms": {"p50": 0.0, "p99": 0.0, "max": 0.0}}
    await conn.execute("INSERT INTO samples (run_id, second, data_json, latency_hist,"
                       " service_hist) VALUES (1, 1, ?, x'', x'')", (json.dumps(second),))
    await conn.close()

    conn = await open_db(path, upto=4)
    try:
        errors, mixed = await get_runs(conn, [1, 2])
        assert set(errors.summary["latency_ms"].values()) == {None}
        assert set(errors.summary["service_ms"].values()) == {None}
        assert errors.summary["percentile_curve"] == [] and errors.summary["rps"] == 0.0
        assert mixed.summary["latency_ms"]["p50"] == 3.0 and mixed.summary["rps"] == 10.0
        page, _ = await list_runs(conn, sort="p50", descending=False)
        assert [r.name for r in page] == ["mixed", "errors"]      # no latency sorts last
        rows = await conn.execute_fetchall("SELECT data_json FROM samples")
        stored = json.loads(rows[0][0])
        assert set(stored["latency_ms"].values()) == {None} and stored["rps"] == 0.0
    finally:
        await conn.close()
    conn = await open_db(path)     # 0005 re-encodes it (its empty blobs: no latency)
    try:
        [(_, blob)] = await get_seconds(conn, 1)
        second = decode_record(blob, 1)
        assert (second.errors, second.latency.total, second.elapsed_s) == (50, 0, 0.5)
    finally:
        await conn.close()


async def test_failing_migration_rolls_back_and_leaves_database_usable(tmp_path):
    migrations = tmp_path / "migrations"
    shutil.copytree(default_migrations_dir(), migrations)
    # The first statement succeeds: only a real transaction undoes it.
    (migrations / "0099_broken.sql").write_text(
        "CREATE TABLE extra (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n")
    path = tmp_path / "s.db"
    with pytest.raises(MigrationError, match="0099_broken.sql"):
        await open_db(path, migrations_dir=migrations)

    conn = await open_db(path)
    try:
        assert await versions(conn) == LATEST
        tables = await conn.execute_fetchall("SELECT name FROM sqlite_master WHERE type='table'")
        assert "extra" not in {row[0] for row in tables}
        run = await create_run(conn, spec("after"))
        assert (await get_run(conn, run.id)).name == "after"
    finally:
        await conn.close()


def test_split_statements_respects_strings_comments_and_triggers():
    script = """
        -- a comment; with a semicolon
        CREATE TABLE t (x TEXT);
        INSERT INTO t VALUES ('a;b');
        CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = x || ';'; END;
        INSERT INTO t VALUES ('no final semicolon')
    """
    statements = split_statements(script)
    assert len(statements) == 4
    assert statements[1].endswith("VALUES ('a;b');")
    assert statements[2].endswith("END;")
    conn = sqlite3.connect(":memory:")
    for sql in statements:
        conn.execute(sql)
    assert conn.execute("SELECT x FROM t ORDER BY rowid").fetchall() == [
        ("a;b;",), ("no final semicolon;",)]
    conn.close()


# -- a run's lifecycle ----------------------------------------------------------------

async def test_run_lifecycle_round_trip(db):
    run = await create_run(db, spec("round trip", engine="fast", model="open"))
    assert (run.status, run.engine, run.model) == (RunStatus.QUEUED, "fast", "open")
    assert run.started_at is None and run.summary is None
    await mark_running(db, run.id)
    running = await get_run(db, run.id)
    assert running.status is RunStatus.RUNNING and running.started_at >= run.created_at

    snaps = [snapshot_sample(1, [1.0, 2.0, 3.0]), snapshot_sample(2, [4.0, 5.0])]
    await append_rows(db, run.id, [record for _, record in snaps])
    replacement = snapshot_sample(2, [7.0, 8.0, 9.0, 10.0])   # second 2 again: replaced
    third = snapshot_sample(3, [0.5])
    await append_rows(db, run.id, [replacement[1], third[1]])

    total = Summary()
    for snap, _ in (snaps[0], replacement, third):
        total.add(snap)
    await finish_run(db, run.id, RunStatus.FINISHED, total.to_dict())

    done = await get_run(db, run.id)
    assert done.status is RunStatus.FINISHED and done.finished_at >= done.started_at
    assert done.summary == total.to_dict() and done.error_message is None
    assert done.spec == spec("round trip", engine="fast", model="open")
    stored = await get_seconds(db, run.id)
    assert [second for second, _ in stored] == [1, 2, 3]
    assert stored == [row[1:] for _, row in (snaps[0], replacement, third)]   # byte-equal
    rebuilt = decode_record(stored[1][1], 2)
    assert rebuilt.latency == replacement[0].latency and rebuilt.completed == 4
    assert rebuilt.service == replacement[0].service

    row = (await db.execute_fetchall("SELECT requests, p99_ms FROM runs WHERE id = ?",
                                     (run.id,)))[0]
    assert tuple(row) == (8, total.to_dict()["latency_ms"]["p99"])
    assert done.to_dict()["status"] == "finished" and done.to_dict()["summary"]["requests"] == 8


async def test_failed_run_keeps_its_error_and_final_status_is_required(db):
    run = await create_run(db, spec(), status=RunStatus.RUNNING)
    assert run.started_at == run.created_at
    with pytest.raises(ValueError):
        await finish_run(db, run.id, RunStatus.RUNNING, None)
    await finish_run(db, run.id, RunStatus.FAILED, None, "connection refused")
    failed = await get_run(db, run.id)
    assert (failed.status, failed.summary, failed.error_message) == (
        RunStatus.FAILED, None, "connection refused")


async def test_every_status_is_accepted_by_the_schema(db):
    for status in RunStatus:
        assert (await create_run(db, spec(), status=status)).status is status


async def test_large_batch_and_unknown_run(db):
    run = await create_run(db, spec())
    batch = [(1, i, encode_record(Snapshot(second=i, elapsed_s=1.0))) for i in range(1, 2501)]
    await append_rows(db, run.id, batch)
    await append_rows(db, run.id, [])
    assert await get_seconds(db, run.id) == [row[1:] for row in batch]
    keys = [(1, i) for i in range(1, 2600)]                  # more than one query's worth
    assert await read_rows(db, run.id, keys) == {(1, i): blob for _, i, blob in batch}
    with pytest.raises(sqlite3.IntegrityError):   # foreign key: no such run
        await append_rows(db, run.id + 1, batch[:1])


async def test_get_runs_keeps_the_order_asked_for(db):
    a, b, c = [await create_run(db, spec(n)) for n in "abc"]
    got = await get_runs(db, [c.id, 999, a.id, b.id])
    assert [r.id for r in got] == [c.id, a.id, b.id]
    assert await get_runs(db, []) == []
    assert await get_run(db, 999) is None


# -- the history page -----------------------------------------------------------------

@pytest.fixture
async def history(db):
    """Five runs with distinct values for every sort key but engine, one still running."""
    rows = [   # name, url, engine, status, summary(requests, rps, p50, p99, error_rate, duration)
        ("Alpha", "http://a.example/", "aiohttp", RunStatus.FINISHED,
         summary(100, 50.0, 2.0, 9.0, 0.0, 2.0)),
        ("beta 50% off", "http://b.example/", "fast", RunStatus.STOPPED,
         summary(300, 10.0, 1.0, 30.0, 0.1, 30.0)),
        ("gamma 500 off", "http://c.example/", "sync", RunStatus.FAILED,
         summary(200, 20.0, 3.0, 5.0, 0.5, 10.0)),
        ("delta_x", "http://d.example/x", "aiohttp", RunStatus.RUNNING, None),
        ("deltaYx", "http://e.example/", "fast", RunStatus.INTERRUPTED,
         summary(50, 99.0, 0.5, 1.0, 0.01, 0.5)),
    ]
    runs = []
    for name, url, engine, status, result in rows:
        run = await create_run(db, spec(name, url, engine), status=RunStatus.RUNNING)
        if not status.active:
            await finish_run(db, run.id, status, result)
        runs.append(await get_run(db, run.id))
    return runs


def sort_value(run: RunRecord, key: str):
    s = run.summary or {}
    return {
        "created": run.created_at, "name": run.name.lower(), "url": run.url.lower(),
        "engine": run.engine, "status": run.status.value, "duration": s.get("duration_s"),
        "requests": s.get("requests"), "rps": s.get("rps"),
        "p50": s.get("latency_ms", {}).get("p50"), "p99": s.get("latency_ms", {}).get("p99"),
        "error_rate": s.get("error_rate"),
    }[key]


def expected_order(runs: list[RunRecord], key: str, descending: bool) -> list[int]:
    present = [r for r in runs if sort_value(r, key) is not None]
    missing = [r for r in runs if sort_value(r, key) is None]
    present.sort(key=lambda r: (sort_value(r, key), r.id), reverse=descending)
    missing.sort(key=lambda r: r.id, reverse=descending)
    return [r.id for r in present + missing]   # no value: last either way


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("key", SORT_KEYS)
async def test_every_sort_key_both_directions(db, history, key, descending):
    page, total = await list_runs(db, sort=key, descending=descending)
    assert total == 5
    assert [r.id for r in page] == expected_order(history, key, descending)


async def test_sort_examples_spelled_out(db, history):
    ids = [r.id for r in history]
    page, _ = await list_runs(db, sort="p99", descending=False)
    assert [r.id for r in page] == [ids[4], ids[2], ids[0], ids[1], ids[3]]
    page, _ = await list_runs(db, sort="p99", descending=True)
    assert [r.id for r in page] == [ids[1], ids[0], ids[2], ids[4], ids[3]]
    page, _ = await list_runs(db)   # newest first by default
    assert [r.id for r in page] == ids[::-1]


async def test_unknown_sort_key_is_refused(db, history):
    with pytest.raises(ValueError, match="sort"):
        await list_runs(db, sort="id; DROP TABLE runs")
    with pytest.raises(ValueError):
        await list_runs(db, limit=-1)


async def test_text_filter_matches_wildcards_literally(db, history):
    names = lambda page: sorted(r.name for r in page)   # noqa: E731
    page, total = await list_runs(db, text="0% off")
    assert names(page) == ["beta 50% off"] and total == 1
    page, _ = await list_runs(db, text="delta_")
    assert names(page) == ["delta_x"]
    page, _ = await list_runs(db, text="ALPHA")   # case-insensitive
    assert names(page) == ["Alpha"]
    page, _ = await list_runs(db, text="d.example/x")   # the URL too
    assert names(page) == ["delta_x"]
    assert await list_runs(db, text="nothing like it") == ([], 0)


async def test_status_filter_and_pagination(db, history):
    page, total = await list_runs(db, status=RunStatus.RUNNING)
    assert [r.name for r in page] == ["delta_x"] and total == 1
    page, total = await list_runs(db, status=RunStatus.FINISHED, text="beta")
    assert (page, total) == ([], 0)

    pages = []
    for offset in (0, 2, 4, 6):
        page, total = await list_runs(db, sort="name", descending=False, limit=2, offset=offset)
        assert total == 5
        pages.append([r.name for r in page])
    assert pages == [["Alpha", "beta 50% off"], ["delta_x", "deltaYx"], ["gamma 500 off"], []]
    page, total = await list_runs(db, text="delta", limit=1)
    assert len(page) == 1 and total == 2


# -- deleting, interrupting, durability -----------------------------------------------

async def sample_count(conn, run_id: int) -> int:
    rows = await conn.execute_fetchall("SELECT COUNT(*) FROM series WHERE run_id = ?", (run_id,))
    return rows[0][0]


async def test_delete_cascades_and_refuses_active_runs(db):
    done = await create_run(db, spec("done"), status=RunStatus.RUNNING)
    running = await create_run(db, spec("running"), status=RunStatus.RUNNING)
    queued = await create_run(db, spec("queued"))
    for run in (done, running):
        await append_rows(db, run.id, [snapshot_sample(1, [1.0])[1]])
    await finish_run(db, done.id, RunStatus.STOPPED, None)

    assert await delete_run(db, done.id) is True
    assert await get_run(db, done.id) is None and await sample_count(db, done.id) == 0
    assert await delete_run(db, done.id) is False
    for active in (running, queued):
        with pytest.raises(ValueError, match="stop it"):
            await delete_run(db, active.id)
        assert await get_run(db, active.id) is not None
    assert await sample_count(db, running.id) == 1


async def test_interrupt_active_keeps_samples(db):
    queued = await create_run(db, spec("q"))
    running = await create_run(db, spec("r"), status=RunStatus.RUNNING)
    done = await create_run(db, spec("d"), status=RunStatus.RUNNING)
    await append_rows(db, running.id, [snapshot_sample(s, [1.0])[1] for s in (1, 2)])
    await finish_run(db, done.id, RunStatus.FINISHED, summary(1, 1.0, 1.0, 1.0, 0.0, 1.0))

    assert await interrupt_active(db) == [queued.id, running.id]
    for run in (queued, running):
        now = await get_run(db, run.id)
        assert now.status is RunStatus.INTERRUPTED
        assert now.finished_at is not None and "dashboard" in now.error_message
    assert (await get_run(db, done.id)).status is RunStatus.FINISHED
    assert [second for second, _ in await get_seconds(db, running.id)] == [1, 2]
    assert await interrupt_active(db) == []
    assert await delete_run(db, running.id) is True   # no longer active


async def test_second_connection_sees_committed_samples(tmp_path):
    path = tmp_path / "s.db"
    writer = await open_db(path)
    reader = await open_db(path)
    try:
        run = await create_run(writer, spec("shared"), status=RunStatus.RUNNING)
        record = snapshot_sample(1, [1.0, 2.0])[1]
        await append_rows(writer, run.id, [record])
        assert await get_seconds(reader, run.id) == [record[1:]]
        # A plain sqlite3 connection, as another process would open it.
        plain = sqlite3.connect(path)
        assert plain.execute("SELECT record FROM series").fetchall() == [(record[2],)]
        plain.close()
    finally:
        await reader.close()
        await writer.close()


async def test_a_runs_data_file_is_kept_apart_and_deleted_with_it(db):
    csv = "user,token\nann,a1\n\"b, c\",x\n"
    data_spec = {**spec("with data"), "data_csv": csv}
    run = await create_run(db, data_spec)
    plain = await create_run(db, spec("without"))
    assert await get_run_data(db, run.id) == csv
    assert await get_run_data(db, plain.id) is None
    assert "data_csv" not in (await get_run(db, run.id)).spec    # not in every answer
    await finish_run(db, run.id, RunStatus.FINISHED, None, None)
    assert await delete_run(db, run.id)
    assert await get_run_data(db, run.id) is None
