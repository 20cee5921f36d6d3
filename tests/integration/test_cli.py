"""`run.py bench`: flags, exit codes, the JSON contract, the text summary."""
import asyncio
import json
import sys
from pathlib import Path

import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]


async def bench(*args, timeout=60):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "run.py", "bench", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def server(aiohttp_server):
    seen = []

    async def handler(request):
        seen.append((request.method, request.path, request.headers.get("X-Test"),
                     await request.text()))
        return web.Response(text="hello", status=201 if request.method == "POST" else 200)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    srv = await aiohttp_server(app)
    srv.seen = seen
    return srv


async def test_json_summary_has_the_documented_keys(server):
    url = f"http://127.0.0.1:{server.port}/p/{{i}}"
    code, out, err = await bench(url, "-n", "40", "-c", "4", "-m", "POST", "-H", "X-Test: yes",
                                 "-d", "payload", "--json")
    assert code == 0, err
    result = json.loads(out)
    for key in ("requests", "ok", "errors", "duration_s", "rps", "latency_ms", "status_codes",
                "error_classes", "peak_rss_mb", "cpu_percent", "spec"):
        assert key in result
    assert set(result["latency_ms"]) >= {"mean", "p50", "p90", "p99", "p999", "max"}
    assert result["requests"] == 40 and result["status_codes"] == {"201": 40}
    assert result["spec"]["method"] == "POST" and result["spec"]["concurrency"] == 4
    assert sorted(p for _, p, _, _ in server.seen) == sorted(f"/p/{i}" for i in range(40))
    assert {(m, h, b) for m, _, h, b in server.seen} == {("POST", "yes", "payload")}
    assert result["peak_rss_mb"] > 0


async def test_text_summary_like_hey(server):
    code, out, _ = await bench(f"http://127.0.0.1:{server.port}/", "-z", "1s", "-c", "2",
                               "--engine", "sync")
    assert code == 0
    for words in ("Requests/sec:", "p99", "Response time histogram", "[200]", "peak RSS"):
        assert words in out


async def test_errors_are_a_completed_run_with_exit_0():
    code, out, _ = await bench("http://127.0.0.1:9/", "-n", "3", "--json")
    assert code == 0
    assert json.loads(out)["error_classes"] == {"connection_refused": 3}


@pytest.mark.parametrize("args, field", [
    (["ftp://x/", "-n", "1"], "url"),
    (["http://127.0.0.1:9/"], "-n"),
    (["http://127.0.0.1:9/", "-n", "0"], "-n"),
    (["http://127.0.0.1:9/", "-n", "1", "-q", "0"], "-q"),
    (["http://127.0.0.1:9/", "-n", "1", "-H", "nocolon"], "headers"),
    (["http://127.0.0.1:9/", "-n", "1", "-c", "10000000"], "-c"),
    (["-n", "1"], "url"),
    (["-n", "1", "--targets", "/nonexistent/targets.txt"], "--targets"),
])
async def test_invalid_input_exits_2_naming_the_field(args, field):
    code, out, err = await bench(*args)
    assert code == 2 and out == ""
    assert f"error: {field}:" in err


async def test_save_stores_the_run_where_the_dashboard_lists_it(server, tmp_path):
    from app.engine.record import decode_record
    from app.store import db as store_db
    from app.store import runs

    db_path = tmp_path / "runs.sqlite"
    code, out, err = await bench(f"http://127.0.0.1:{server.port}/", "-n", "25", "-c", "5",
                                 "--name", "saved <run>", "--save", "--db", str(db_path),
                                 "--json")
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    db = await store_db.open_db(db_path)
    try:
        record = await runs.get_run(db, run_id)
        samples = [s async for chunk in runs.read_seconds(db, run_id, 1, 10**6) for s in chunk]
    finally:
        await db.close()
    assert record.status.value == "finished" and record.name == "saved <run>"
    assert record.summary["requests"] == 25 and record.summary["status_codes"] == {"200": 25}
    assert sum(decode_record(blob, second).completed for second, blob in samples) == 25


async def test_a_targets_file_and_data_with_endpoints_in_the_json(server, tmp_path):
    base = f"http://127.0.0.1:{server.port}"
    (tmp_path / "body.json").write_text('{{"user": "{user}"}}')
    (tmp_path / "targets.txt").write_text(
        f"GET {base}/users/{{user}}\nX-Test: {{user}}\n\n"
        f"# a comment between targets\nPOST {base}/login\n@body.json\n")
    (tmp_path / "data.csv").write_text("user\nann\nbob\n")
    code, out, err = await bench("--targets", str(tmp_path / "targets.txt"),
                                 "--data", str(tmp_path / "data.csv"), "-n", "8", "-c", "2",
                                 "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result["endpoints"]) == {"GET /users/{user}", "POST /login"}
    assert result["endpoints"]["POST /login"]["status_codes"] == {"201": 4}
    assert result["spec"]["data"] == {"rows": 2, "columns": ["user"]}
    # request i takes target i mod 2 and row i mod 2 (sequence both): GETs get ann, POSTs bob
    assert sorted(server.seen) == [("GET", "/users/ann", "ann", "")] * 4 + [
        ("POST", "/login", None, '{"user": "bob"}')] * 4
    code, out, _ = await bench("--targets", str(tmp_path / "targets.txt"),
                               "--data", str(tmp_path / "data.csv"), "-n", "8")
    assert code == 0 and "Endpoints (ms):" in out and "POST /login" in out


@pytest.mark.parametrize("files, message", [
    ({"t.txt": "GET http://127.0.0.1:9/a\nNoColonHeader\n"}, "--targets: targets line 2"),
    ({"t.txt": "GET http://127.0.0.1:9/{user}\n", "d.csv": "user,x\nann\n"},
     "--data: data line 2"),
    ({"t.txt": "GET http://127.0.0.1:9/{usr}\n", "d.csv": "user\nann\n"},
     "unknown placeholder {usr}"),
    ({"t.txt": ""}, "--targets: "),
    ({"t.har": "not json"}, "--targets: "),
])
async def test_bad_targets_or_data_exit_2_naming_the_line(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    args = ["-n", "1"]
    for name in files:
        args += ["--data" if name.endswith(".csv") else "--targets", str(tmp_path / name)]
    code, out, err = await bench(*args)
    assert code == 2 and out == "", err
    assert message in err
