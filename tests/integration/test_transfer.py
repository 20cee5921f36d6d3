"""Runs from anywhere in one history (issue #10, part 4): a run as one JSON document
(app/store/transfer.py), `run.py export` / `run.py import`, POST /api/runs/import and
`bench --push`, on real SQLite files, real sockets and real subprocesses."""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import json
import random
import socket
import sqlite3
import sys
import zlib
from pathlib import Path

import pytest

from app.engine.record import encode_record
from app.engine.series import Rollups
from app.engine.snapshot import Snapshot, Summary
from app.spec import parse_spec
from app.status import RunStatus
from app.store import runs as store
from app.store import transfer
from app.store.db import open_db
from app.store.series import encoded
from app.web.app import create_app
from tests.integration.test_long_runs import a_second as long_runs_second

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "push-token-7"
SECONDS = 150            # past two whole minutes: minute rollups, and a partial one


async def cli(*args: str, stdin: bytes | None = None, timeout: float = 60):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "run.py", *args, cwd=ROOT, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    return proc.returncode, out.decode(), err.decode()


def a_second(n: int, rng: random.Random) -> Snapshot:
    """A second as the engine makes them (test_long_runs'), of this file's two endpoints."""
    return long_runs_second(n, rng, requests=rng.randint(20, 60),
                            names=("GET /users/{user}", "POST /login"))


def the_spec() -> dict:
    return parse_spec({
        "targets_text": "GET http://me:hunter2@127.0.0.1:9/users/{user}?api_key=k1\n"
                        "Authorization: Bearer tok-abc\n\nPOST http://127.0.0.1:9/login\n",
        "data_csv": "user,password\nann,pw1\nbob,pw2\n", "duration": "10m", "rate": 50,
        "name": "Exported run", "thresholds": ["p99 < 2s"]}).to_dict(with_data=True)


async def write_run(path, *, seconds: int = SECONDS, status=RunStatus.FINISHED) -> int:
    """A run stored as the dashboard stores one (Rollups, encoded, finish_run)."""
    db = await open_db(path)
    try:
        record = await store.create_run(db, the_spec(), status=RunStatus.RUNNING)
        rng, rollups, snaps = random.Random(7), Rollups(), []
        for n in range(1, seconds + 1):
            snaps.append(a_second(n, rng))
            await store.append_rows(db, record.id, encoded(rollups.add(snaps[-1])))
        await store.append_rows(db, record.id, encoded(rollups.close()))
        summary = {**Summary.of(snaps).to_dict(), "backend": "local",
                   "nodes": {"local": {"host": "here", "workers": 1}}}
        await store.finish_run(db, record.id, status, summary)
        return record.id
    finally:
        await db.close()


async def export_text(path, run_id: int, **kwargs) -> str:
    db = await open_db(path)
    try:
        return "".join([p async for p in transfer.export_document(db, run_id, **kwargs)])
    finally:
        await db.close()


def stored_counts(path) -> tuple[int, int, int, int]:
    with sqlite3.connect(path) as conn:
        return tuple(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                     for table in ("runs", "series", "run_data", "run_origins"))


@pytest.fixture
def spare_temp(tmp_path, monkeypatch) -> Path:
    """The temporary folder imports stage in and bench --push keeps its run in (this
    process's and the subprocesses'): empty again after each."""
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


async def answers(client, run_id: int) -> dict:
    """What the pages draw from: the series at the default step and at 1 s, a window and
    the endpoint table (the run's own id and times left out)."""
    out = {}
    for name, path in (("series", "series"), ("fine", "series?step=1&from=50&to=140"),
                       ("window", "window?from=31&to=127"), ("whole", "window"),
                       ("endpoints", "endpoints")):
        response = await client.get(f"/api/runs/{run_id}/{path}")
        assert response.status == 200, (path, await response.text())
        body = await response.json()
        body.pop("run", None), body.pop("run_id", None)
        out[name] = body
    return out


async def test_export_then_import_elsewhere_is_the_same_run(client, aiohttp_client, settings,
                                                            tmp_path, spare_temp):
    run_id = await write_run(settings.db_path)
    document = tmp_path / "run.json"
    code, out, err = await cli("export", str(run_id), "--db", settings.db_path)
    assert code == 0, err
    document.write_text(out)
    other = tmp_path / "other.sqlite"
    await write_run(other, seconds=3)          # the new id is not the old one
    code, out, err = await cli("import", str(document), "--db", str(other))
    assert code == 0, err
    new_id = int(out)
    assert new_id == 2 and not list(spare_temp.iterdir())

    there = await aiohttp_client(create_app(dataclasses.replace(settings, db_path=str(other))))
    original, imported = [await (await c.get(f"/api/runs/{i}")).json()
                          for c, i in ((client, run_id), (there, new_id))]
    assert imported["summary"] == original["summary"]
    assert imported["summary"]["backend"] == "local"        # what seconds cannot give: kept
    for key in ("name", "url", "spec", "status", "created_at", "started_at", "finished_at"):
        assert imported[key] == original[key], key
    assert await answers(there, new_id) == await answers(client, run_id)
    # exact rows: each second byte for byte, the rollups merged again to the same keys
    with sqlite3.connect(settings.db_path) as a, sqlite3.connect(other) as b:
        rows = [list(conn.execute("SELECT span, start, record FROM series WHERE run_id = ?"
                                  " ORDER BY span, start", (i,)))
                for conn, i in ((a, run_id), (b, new_id))]
    assert [r[:2] for r in rows[0]] == [r[:2] for r in rows[1]]
    assert [r for r in rows[0] if r[0] == 1] == [r for r in rows[1] if r[0] == 1]
    assert len(rows[1]) == SECONDS + 3 + 1

    # secrets masked by default (the data file travels: Run again needs it), kept on request
    spec = json.loads(document.read_text())["run"]["spec"]
    assert "hunter2" not in document.read_text() and "tok-abc" not in document.read_text()
    assert spec["targets"][0]["headers"] == [["Authorization", "Bearer ••••••"]]
    db = await open_db(other)
    try:
        assert await store.get_run_data(db, new_id) == "user,password\nann,pw1\nbob,pw2\n"
        origin = await store.get_origin(db, new_id)
        assert (origin.host, origin.source, origin.remote_id) == (
            socket.gethostname(), "dashboard", run_id)
    finally:
        await db.close()
    whole = json.loads(await export_text(settings.db_path, run_id, secrets=True))
    assert whole["origin"]["secrets"] == "included"
    assert whole["run"]["spec"]["targets"][0]["headers"] == [["Authorization", "Bearer tok-abc"]]

    page = await (await there.get("/runs")).text()
    assert f"imported from {socket.gethostname()}" in page
    assert page.count("imported from") == 1                  # its own run is not marked

    code, out, err = await cli("export", "99", "--db", settings.db_path)
    assert code == 1 and out == "" and "there is no run #99" in err
    code, _, err = await cli("export", "1", "--db", str(tmp_path / "typo.sqlite"))
    assert code == 1 and "no database" in err and not (tmp_path / "typo.sqlite").exists()


async def test_any_layout_and_any_read_size_give_the_same_run(tmp_path, monkeypatch,
                                                              spare_temp):
    """The streaming reader: pretty-printed, and read 7 characters at a time (numbers,
    strings and escapes cut at every place)."""
    source = tmp_path / "a.sqlite"
    run_id = await write_run(source, seconds=40)
    document = json.loads(await export_text(source, run_id))
    document["run"]["error"] = "quote \" and \\u00e9 é"
    monkeypatch.setattr(transfer, "_READ_CHARS", 7)
    got = []
    for text in (json.dumps(document, indent=2), json.dumps(document, separators=(",", ":"))):
        target = tmp_path / f"{len(got)}.sqlite"
        imported = await transfer.import_document(target, transfer.text_of(
            io.BytesIO(text.encode())))
        db = await open_db(target)
        try:
            record = await store.get_run(db, imported.run_id)
            rows = await db.execute_fetchall("SELECT span, start, record FROM series"
                                             " WHERE span = 1 ORDER BY start")
            got.append((record.summary, record.error_message, [tuple(r) for r in rows]))
        finally:
            await db.close()
    assert got[0] == got[1] and got[0][1] == document["run"]["error"]
    assert [r[1] for r in got[0][2]] == list(range(1, 41))
    assert [base64.b64encode(r[2]).decode() for r in got[0][2]] == [
        text for _, text in document["seconds"]]


async def test_a_run_exported_while_running_is_imported_interrupted(client, settings, tmp_path,
                                                                     spare_temp):
    source = tmp_path / "a.sqlite"
    run_id = await write_run(source, seconds=30)
    document = json.loads(await export_text(source, run_id))
    document["run"].update(status="running", summary=None, finished_at=None)
    response = await client.post("/api/runs/import", data=json.dumps(document))
    assert response.status == 201, await response.text()
    run = await response.json()
    assert run["status"] == "interrupted" and "never runs here" in run["error_message"]
    whole = await (await client.get(f"/api/runs/{run['id']}/window")).json()
    assert run["summary"]["requests"] == whole["summary"]["requests"] > 0
    assert run["finished_at"] == document["origin"]["exported_at"]
    assert run["origin"]["host"] == socket.gethostname() and run["page"] == f"/runs/{run['id']}"
    assert response.headers["Location"] == f"/api/runs/{run['id']}"
    stop = await client.post(f"/api/runs/{run['id']}/stop")
    assert stop.status == 409                                  # never active here


async def test_bench_push_lists_the_run_as_imported(client, settings, target_url, spare_temp):
    dashboard = str(client.make_url("")).rstrip("/")
    code, out, err = await cli("bench", f"{target_url}{{i}}", "-n", "40", "-c", "4",
                               "-H", "X-Api-Key: ci-secret", "--push", dashboard, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["pushed"] == f"{dashboard}/runs/1" and "run_id" not in result
    run = await (await client.get("/api/runs/1")).json()
    assert run["status"] == "finished" and run["summary"]["requests"] == 40
    for key in ("requests", "ok", "status_codes", "latency_ms", "duration_s", "rps",
                "percentile_curve", "backend"):
        assert run["summary"][key] == result[key], key
    series = await (await client.get("/api/runs/1/series?step=1")).json()
    assert sum(s["completed"] for s in series["samples"]) == 40
    assert not list(spare_temp.iterdir())          # bench's temporary database is gone
    page = await (await client.get("/runs")).text()
    assert f"imported from {socket.gethostname()}" in page
    with sqlite3.connect(settings.db_path) as conn:           # pushed masked, stored so
        [(spec,)] = conn.execute("SELECT spec_json FROM runs").fetchall()
    assert "ci-secret" not in spec and json.loads(spec)["headers"] == ["X-Api-Key: ••••••"]


async def test_a_token_protected_dashboard_needs_the_token_to_take_a_push(
        aiohttp_client, settings, target_url, spare_temp):
    guarded = await aiohttp_client(create_app(dataclasses.replace(settings, token=TOKEN)))
    dashboard = str(guarded.make_url("")).rstrip("/")
    args = ("bench", f"{target_url}{{i}}", "-n", "20", "-c", "2", "--push", dashboard)
    code, out, err = await cli(*args)
    assert code == 1 and "401" in err and "token" in err
    assert "Requests/sec" in out                              # the run's own results
    assert stored_counts(settings.db_path) == (0, 0, 0, 0)
    code, out, err = await cli(*args, "--token", TOKEN)
    assert code == 0, err
    assert f"Pushed: {dashboard}/runs/1" in out
    listed = await guarded.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (await listed.json())["total"] == 1


async def test_an_unreachable_dashboard_fails_the_push_not_the_run(target_url, spare_temp):
    code, out, err = await cli("bench", f"{target_url}{{i}}", "-n", "5", "--push",
                               "http://127.0.0.1:9", "--json")
    assert code == 1 and "cannot reach http://127.0.0.1:9/api/runs/import" in err
    assert json.loads(out)["requests"] == 5 and "pushed" not in json.loads(out)
    code, _, err = await cli("bench", f"{target_url}{{i}}", "-n", "5", "--push", "ftp://x")
    assert code == 2 and "--push" in err


def corrupt_second(document: dict, index: int, blob: bytes) -> dict:
    seconds = [list(s) for s in document["seconds"]]
    seconds[index][1] = base64.b64encode(blob).decode()
    return {**document, "seconds": seconds}


async def test_bad_documents_are_refused_naming_the_problem_and_store_nothing(
        client, settings, tmp_path, spare_temp):
    source = tmp_path / "a.sqlite"
    document = json.loads(await export_text(source, await write_run(source, seconds=20)))
    good = json.dumps(document)
    record = zlib.decompress(base64.b64decode(document["seconds"][12][1]))
    cases = [
        ("not json", b"this is not JSON", "body", "must be a JSON object"),
        ("empty", b"", "body", "empty"),
        ("an array", b"[1, 2]", "body", "must be a JSON object"),
        ("cut off", good[:len(good) // 2].encode(), "seconds[", "not valid JSON"),
        ("trailing", (good + "{}").encode(), "body", "more after the end"),
        ("format", json.dumps({**document, "format": "k6"}).encode(), "format",
         "not a Stampede run"),
        ("version", json.dumps({**document, "version": 2}).encode(), "version",
         "update Stampede"),
        ("order", json.dumps({"version": 1, "format": "stampede-run", "seconds": [],
                              "origin": document["origin"], "run": document["run"]}).encode(),
         "origin", 'before "seconds"'),
        ("unknown", json.dumps({"format": "stampede-run", "version": 1, "extra": 1,
                                **document}).encode(), "extra", "unknown member"),
        ("after seconds", json.dumps({**document, "extra": 1}).encode(), "seconds",
         "must be the last member"),
        ("spec", json.dumps({**document, "run": {**document["run"], "spec": {
            **document["run"]["spec"], "targets": [], "url": "ftp://x/"}}}).encode(),
         "run.spec.url", ""),
        ("status", json.dumps({**document, "run": {**document["run"], "status": "done"}}
                              ).encode(), "run.status", "must be one of"),
        ("host", json.dumps({**document, "origin": {"host": "a\nb"}}).encode(),
         "origin.host", "printable"),
        ("NaN", good.replace('"created_at": ', '"created_at": NaN, "x": ', 1).encode(),
         "run", "NaN"),
        ("order of seconds", json.dumps({**document, "seconds": document["seconds"][:3]
                                         + document["seconds"][2:]}).encode(),
         "seconds[3]", "increasing"),
        ("not base64", json.dumps(corrupt_second(document, 12, b"")).replace(
            '[13, ""]', '[13, "%%%"]').encode(), "seconds[12]", "not base64"),
        ("corrupt zlib", json.dumps(corrupt_second(document, 12, b"garbage")).encode(),
         "seconds[12]", "second 13: a corrupt record"),
        ("corrupt record", json.dumps(corrupt_second(
            document, 12, zlib.compress(record[:len(record) // 2]))).encode(),
         "seconds[12]", "second 13: a corrupt record"),
        ("zip bomb", json.dumps(corrupt_second(
            document, 12, zlib.compress(b"\0" * (transfer.MAX_RECORD_RAW + 1)))).encode(),
         "seconds[12]", "decompressed"),
        ("negative counts", json.dumps(corrupt_second(document, 12, encode_record(
            dataclasses.replace(a_second(13, random.Random(1)), ok=-5)))).encode(),
         "seconds[12]", "whole numbers from 0"),
    ]
    for name, body, where, message in cases:
        response = await client.post("/api/runs/import", data=body,
                                     headers={"Content-Type": "application/json"})
        assert response.status == 400, (name, await response.text())
        errors = (await response.json())["errors"]
        [(key, text)] = errors.items()
        assert key.startswith(where) and message in text, (name, errors)
    assert stored_counts(settings.db_path) == (0, 0, 0, 0)
    assert not list(spare_temp.iterdir())                     # every staging folder gone
    code, _, err = await cli("import", "-", "--db", str(tmp_path / "cli.sqlite"),
                             stdin=json.dumps({**document, "version": 9}).encode())
    assert code == 2 and "error: version: 9 is not a version" in err


async def test_an_oversized_document_is_a_413_before_or_while_it_is_read(
        client, settings, monkeypatch, spare_temp):
    # declared too big: refused from the headers, without a byte of the body sent
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(b"POST /api/runs/import HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\n"
                 + f"Content-Length: {transfer.MAX_IMPORT_BYTES + 1}\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.read(4096), 10)
    writer.close()
    assert head.startswith(b"HTTP/1.1 413") and b"MAX_IMPORT_BYTES" in head
    # chunked, so no length up front: refused as soon as it is past the limit
    monkeypatch.setattr(transfer, "MAX_IMPORT_BYTES", 100_000)

    async def chunks():
        for _ in range(50):
            yield b" " * 10_000
    response = await client.post("/api/runs/import", data=chunks())
    assert response.status == 413
    assert "above the limit of 0.0953674 MiB" in (await response.json())["error"]
    assert stored_counts(settings.db_path) == (0, 0, 0, 0)
