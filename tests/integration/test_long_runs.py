"""Long runs: seconds stored compactly and exactly, an old database re-encoded in place,
and the series and window API exact at any resolution, on real SQLite files."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import shutil

import pytest

from app.engine.histogram import Histogram
from app.engine.record import decode_record
from app.engine.series import Rollups
from app.engine.snapshot import EndpointStats, Health, Snapshot, Summary
from app.spec import parse_spec
from app.status import RunStatus
from app.store import runs as store
from app.store import series as timeline
from app.store.db import open_db
from app.web.app import create_app
from app.web.keys import DB


def a_second(n: int, rng: random.Random, *, requests: int = 40,
             names: tuple[str, str] = ("GET /a", "POST /b")) -> Snapshot:
    """A second as the engine makes them: 0-200 ms latencies, open model (service apart),
    two endpoints, a status mix and an error."""
    latencies = [rng.randint(1_000_000, 200_000_000) for _ in range(requests)]
    snap = Snapshot(second=n, elapsed_s=1.0 + rng.random() / 50, started=requests + 1,
                    completed=requests + 1, ok=requests - 3, failed=3, errors=1,
                    bytes_received=1000 * requests, in_flight=rng.randint(0, 20),
                    max_in_flight=25, late_starts=rng.randint(0, 2),
                    error_classes={"request_timeout": 1},
                    error_samples={"request_timeout": "no response within 5 s"},
                    health=Health(rng.randint(40, 60) * 2**20, rng.random(), rng.random() / 5))
    snap.status_codes.update({200: requests - 3, 503: 3})
    snap.latency.record_ns(latencies)
    snap.service.record_ns([v - rng.randint(0, 900_000) for v in latencies])
    for k, name in enumerate(names):
        e = snap.endpoints[name] = EndpointStats(ok=(requests - 3) // 2, failed=k)
        e.latency.record_ns(latencies[k::2])
    return snap


async def write_old_database(path, seconds: int, rng: random.Random) -> list[Snapshot]:
    """Runs and seconds exactly as the code before migration 0005 stored them: the
    rounded view as JSON, both histograms in the old encoding."""
    conn = await open_db(path, upto=4)
    try:
        spec = parse_spec({"url": "http://127.0.0.1:1/", "duration": "10m"}).to_dict()
        run = await store.create_run(conn, spec, status=RunStatus.RUNNING)
        snaps = [a_second(n, rng) for n in range(1, seconds + 1)]
        await conn.executemany(
            "INSERT INTO samples (run_id, second, data_json, latency_hist, service_hist)"
            " VALUES (?, ?, ?, ?, ?)",
            [(run.id, s.second, json.dumps(s.to_view()), s.latency.encode(),
              s.service.encode()) for s in snaps])
        # as finish_run wrote it then (today's also fills columns of later migrations)
        summary = Summary.of(snaps).to_dict()
        await conn.execute(
            "UPDATE runs SET status = 'finished', finished_at = 1.0, summary_json = ?,"
            " requests = ?, p99_ms = ? WHERE id = ?",
            (json.dumps(summary), summary["requests"], summary["latency_ms"]["p99"], run.id))
        await store.create_run(conn, spec)            # a run without seconds
    finally:
        await conn.close()
    return snaps


async def test_an_old_database_is_re_encoded_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    snaps = await write_old_database(path, 150, random.Random(1))
    conn = await open_db(path)
    try:
        tables = {r[0] for r in await conn.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "samples" not in tables and "series" in tables
        stored = [row async for chunk in store.read_seconds(conn, 1, 1, 10**6) for row in chunk]
        assert [second for second, _ in stored] == list(range(1, 151))
        for snap, (second, blob) in zip(snaps, stored):
            back = decode_record(blob, second)
            # exact: the histograms and every count; the stored JSON had 3 decimals
            assert back.latency == snap.latency and back.service == snap.service
            view, before = back.to_view(), snap.to_view()
            assert back.elapsed_s == pytest.approx(snap.elapsed_s, abs=5e-4)
            for key in ("elapsed_s", "rps", "endpoints", "health"):   # old: rounded
                view.pop(key), before.pop(key)
            assert view == before
            # old seconds kept endpoint counts, not their latency
            assert {n: (e.ok, e.failed) for n, e in back.endpoints.items()} == \
                {n: (e.ok, e.failed) for n, e in snap.endpoints.items()}
        keys = {r[0]: r[1] for r in await conn.execute_fetchall(
            "SELECT span, count(*) FROM series WHERE run_id = 1 GROUP BY span")}
        assert keys == {1: 150, 60: 3, 3600: 1}
        whole = await timeline.window(conn, 1, 1, 150)
        assert whole.total.latency == Summary.of(snaps).total.latency
        assert whole.to_dict()["requests"] == sum(s.completed for s in snaps)
        assert (await store.get_run(conn, 2)).status is RunStatus.QUEUED
    finally:
        await conn.close()


async def test_a_failing_re_encoding_leaves_the_old_database_as_it_was(tmp_path):
    path = tmp_path / "old.sqlite"
    await write_old_database(path, 5, random.Random(2))
    conn = await open_db(path, upto=4)
    # a second whose JSON is not JSON: the migration stops, its transaction rolls back
    await conn.execute("UPDATE samples SET data_json = '{' WHERE second = 3")
    await conn.close()
    with pytest.raises(Exception, match="0005"):
        await open_db(path)
    conn = await open_db(path, upto=4)
    try:
        count = await conn.execute_fetchall("SELECT count(*) FROM samples")
        assert count[0][0] == 5
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    """A 2-hour-and-a-bit run, stored as the dashboard stores one (rows and rollups);
    built once for the module (~7,000 seconds to encode), copied for each test."""
    path = tmp_path_factory.mktemp("long") / "long.sqlite"

    async def build() -> tuple[int, list[Snapshot]]:
        conn = await open_db(path)
        rng = random.Random(3)
        spec = parse_spec({"url": "http://127.0.0.1:1/", "duration": "3h"}).to_dict()
        run = await store.create_run(conn, spec, status=RunStatus.RUNNING)
        rollups, snaps, rows = Rollups(), [], []
        for n in range(1, 2 * 3600 + 91):
            snap = a_second(n, rng, requests=3)
            snaps.append(snap)
            rows += timeline.encoded(rollups.add(snap))
        rows += timeline.encoded(rollups.close())
        await store.append_rows(conn, run.id, rows)
        await store.finish_run(conn, run.id, RunStatus.FINISHED, Summary.of(snaps).to_dict())
        await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await conn.close()
        return run.id, snaps

    run_id, snaps = asyncio.run(build())
    return path, run_id, snaps


@pytest.fixture
async def long_client(aiohttp_client, settings, long_run, tmp_path):
    source, run_id, snaps = long_run
    path = tmp_path / "long.sqlite"
    shutil.copyfile(source, path)
    client = await aiohttp_client(create_app(dataclasses.replace(settings, db_path=str(path))))
    return client, run_id, snaps


async def test_series_points_are_exact_merges_at_any_step(long_client):
    client, run_id, snaps = long_client
    body = await (await client.get(f"/api/runs/{run_id}/series")).json()
    assert body["step"] == 60 and body["last"] == len(snaps)  # 7,290 s: minute rows
    assert len(body["samples"]) <= 2000
    for lo, hi, step in [(1, 7290, 60), (61, 3700, 600), (17, 200, 7), (7201, 7290, 3600)]:
        got = await (await client.get(
            f"/api/runs/{run_id}/series?from={lo}&to={hi}&step={step}")).json()
        assert got["step"] == step
        expected = []
        at = lo
        while at <= hi:
            end = min((at - 1) // step * step + step, hi)
            part = snaps[at - 1:end]
            merged = Snapshot(second=at, elapsed_s=0.0)
            for s in part:
                merged.extend(s)
            expected.append(merged.to_view())
            at = end + 1
        assert got["samples"] == expected


async def test_window_summary_is_exact(long_client):
    client, run_id, snaps = long_client
    for lo, hi in [(1, 7290), (61, 7290), (3000, 3001), (100, 5000)]:
        got = await (await client.get(f"/api/runs/{run_id}/window?from={lo}&to={hi}")).json()
        assert (got["from"], got["to"]) == (lo, hi)
        assert got["summary"] == Summary.of(snaps[lo - 1:hi]).to_dict()
    whole = await (await client.get(f"/api/runs/{run_id}/window")).json()
    assert whole["summary"]["requests"] == sum(s.completed for s in snaps)


async def test_csv_streams_every_second_or_the_step(long_client):
    client, run_id, snaps = long_client
    text = await (await client.get(f"/api/runs/{run_id}/series?format=csv")).text()
    lines = text.splitlines()
    assert len(lines) == 1 + len(snaps)
    header = lines[0].split(",")
    assert header[:2] == ["second", "elapsed_s"] and "status_503" in header
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, len(snaps) + 1))
    stepped = await (await client.get(
        f"/api/runs/{run_id}/series?format=csv&step=60&from=61&to=7290")).text()
    rows = stepped.splitlines()[1:]
    assert len(rows) == 121 and rows[0].startswith("61,")
    completed = header.index("completed")
    assert sum(int(r.split(",")[completed]) for r in rows) == \
        sum(s.completed for s in snaps[60:])


@pytest.mark.parametrize("query, field", [("from=0", "from"), ("to=x", "to"), ("step=-1", "step"),
                                          ("from=10&to=5", "to"), ("from=99999999999", "from"),
                                          ("from=%C2%B2", "from")])   # a Unicode digit
async def test_bad_windows_are_400_naming_the_field(long_client, query, field):
    client, run_id, _ = long_client
    for path in ("series", "window"):
        if field == "step" and path == "window":
            continue
        response = await client.get(f"/api/runs/{run_id}/{path}?{query}")
        assert response.status == 400
        assert field in (await response.json())["errors"]


async def test_a_json_series_of_too_many_points_says_which_step_would_do(long_client,
                                                                          monkeypatch):
    client, run_id, _ = long_client
    monkeypatch.setattr("app.web.api.MAX_ANSWER_POINTS", 100)
    response = await client.get(f"/api/runs/{run_id}/series?step=30&from=2&to=7290")
    assert response.status == 400
    message = (await response.json())["errors"]["step"]
    assert "more than 100 points" in message and "at least 73 s" in message
    assert (await client.get(f"/api/runs/{run_id}/series?step=73")).status == 200
    csv = await client.get(f"/api/runs/{run_id}/series?format=csv&step=1")
    assert csv.status == 200 and len((await csv.text()).splitlines()) == 7291


async def test_an_ended_runs_whole_series_is_kept_once_computed(long_client):
    client, run_id, snaps = long_client
    db = client.server.app[DB]
    assert await store.get_overview(db, run_id) is None
    first = await (await client.get(f"/api/runs/{run_id}/series")).json()
    step, last, samples = await store.get_overview(db, run_id)
    assert (step, last) == (60, len(snaps)) and json.loads(samples) == first["samples"]
    again = await (await client.get(f"/api/runs/{run_id}/series")).json()
    assert again == first
    explicit = await (await client.get(f"/api/runs/{run_id}/series?step=60")).json()
    assert explicit["samples"] == first["samples"]          # the same numbers, computed
    async with client.ws_connect(f"/api/runs/{run_id}/ws") as ws:
        history = json.loads((await ws.receive(timeout=10)).data)
    assert history["type"] == "history" and history["samples"] == first["samples"]
