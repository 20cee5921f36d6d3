"""Verdicts on real things: GET /api/compare and the compare page over real SQLite files
(stored synthetic runs, then real runs of `bench` against the seeded demo target), and
`bench --baseline RUN_ID|FILE.json [--fail-on-regression]`."""
from __future__ import annotations

import asyncio
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.engine.series import Rollups
from app.engine.snapshot import Snapshot, Summary
from app.spec import parse_spec
from app.status import RunStatus
from app.store import runs as store
from app.store import series as timeline
from app.store.db import open_db
from app.web.app import create_app
from app.web.settings import Settings
from tests.conftest import alone

ROOT = Path(__file__).resolve().parents[2]
RUN = ["-z", "6s", "-c", "10"]          # 6 seconds: enough for a verdict (5 are needed)


async def stored_run(conn, seconds: int, rng: random.Random, low_ms: int, high_ms: int,
                     rate: int = 100) -> int:
    """A finished run stored as the dashboard stores one: each second and its rollups."""
    spec = parse_spec({"url": "http://127.0.0.1:1/", "duration": "10m"}).to_dict()
    run = await store.create_run(conn, spec, status=RunStatus.RUNNING)
    rollups, summary, rows = Rollups(), Summary(), []
    for n in range(1, seconds + 1):
        k = rng.randint(rate * 4 // 5, rate * 6 // 5)
        snap = Snapshot(second=n, elapsed_s=1.0, started=k, completed=k, ok=k)
        snap.status_codes[200] = k
        snap.latency.record_ns([rng.randint(low_ms * 10**6, high_ms * 10**6) for _ in range(k)])
        summary.add(snap)
        rows += timeline.encoded(rollups.add(snap))
    rows += timeline.encoded(rollups.close())
    await store.append_rows(conn, run.id, rows)
    await store.finish_run(conn, run.id, RunStatus.FINISHED, summary.to_dict())
    return run.id


@pytest.fixture
async def stored(aiohttp_client, settings):
    """Runs of 20 s: two alike (10-30 ms), one slower (30-50 ms)."""
    conn = await open_db(settings.db_path)
    try:
        rng = random.Random(3)
        ids = [await stored_run(conn, 20, rng, *ms) for ms in ((10, 30), (10, 30), (30, 50))]
    finally:
        await conn.close()
    return await aiohttp_client(create_app(settings)), ids


async def verdicts_of(client, query: str) -> dict:
    response = await client.get(f"/api/compare?{query}")
    assert response.status == 200, await response.text()
    return await response.json()


def metrics(answer: dict, k: int = 0) -> dict[str, str]:
    return {key: m["verdict"] for key, m in answer["comparisons"][k]["metrics"].items()}


async def test_api_gives_verdicts_intervals_and_the_method(stored):
    client, (a, b, slow, *_) = stored
    answer = await verdicts_of(client, f"ids={a},{b},{slow}")
    assert answer["ids"] == [a, b, slow] and (answer["from"], answer["to"]) == (1, 20)
    assert [r["units"] for r in answer["runs"]] == [20, 20, 20]
    assert answer["method"]["resamples"] == 1000 and answer["method"]["confidence"] == 0.95
    alike, slower = metrics(answer, 0), metrics(answer, 1)
    assert all(alike[k] == "same" for k in ("p50", "p90", "p99", "mean", "rps", "error_rate"))
    assert alike["max"] == "untested"
    assert all(slower[k] == "worse" for k in ("p50", "p90", "p99", "mean"))
    p50 = answer["comparisons"][1]["metrics"]["p50"]
    assert 0 < p50["interval"][0] <= p50["difference"] <= p50["interval"][1]
    assert p50["difference"] == pytest.approx(20, abs=2)
    # the figures are the exact summaries'
    run = await (await client.get(f"/api/runs/{slow}")).json()
    assert answer["runs"][2]["figures"]["p99"] == run["summary"]["latency_ms"]["p99"]
    # the same question, the same answer (seeded)
    assert await verdicts_of(client, f"ids={a},{b},{slow}") == answer


async def test_api_window(stored):
    client, (a, _, slow) = stored
    answer = await verdicts_of(client, f"ids={slow},{a}&from=6&to=15")
    assert (answer["from"], answer["to"]) == (6, 15)
    assert [r["units"] for r in answer["runs"]] == [10, 10]
    assert metrics(answer)["p50"] == "better"
    few = await verdicts_of(client, f"ids={a},{slow}&from=1&to=3")
    assert metrics(few)["p50"] == "untested"
    assert "too few seconds" in few["comparisons"][0]["metrics"]["p50"]["reason"]


async def test_api_reads_long_runs_by_the_minute(aiohttp_client, settings):
    """30 minutes: 30 minute units, read from the stored minute rows."""
    conn = await open_db(settings.db_path)
    try:
        rng = random.Random(4)
        ids = [await stored_run(conn, 1800, rng, 10, 30, rate=5) for _ in range(2)]
    finally:
        await conn.close()
    client = await aiohttp_client(create_app(settings))
    long = await verdicts_of(client, f"ids={ids[0]},{ids[1]}")
    assert [(r["units"], r["unit_s"]) for r in long["runs"]] == [(30, 60), (30, 60)]
    assert metrics(long)["p50"] == "same"


@pytest.mark.parametrize("query, name", [
    ("", "ids"), ("ids=1", "ids"), ("ids=1,x", "ids"), ("ids=1,1", "ids"), ("ids=1,01", "ids"),
    ("ids=1,2,3,4,5", "ids"), ("ids=1,-2", "ids"), ("ids=1,2&from=0", "from"),
    ("ids=1,2&from=5&to=4", "to"), ("ids=1,2&to=x", "to")])
async def test_api_bad_parameters_are_400_naming_them(client, query, name):
    response = await client.get(f"/api/compare?{query}")
    assert response.status == 400
    assert list((await response.json())["errors"]) == [name]


@pytest.mark.parametrize("unknown", ["999", "99999999999999999999999"])
async def test_api_unknown_run_is_404(stored, unknown):
    client, (a, *_) = stored
    response = await client.get(f"/api/compare?ids={a},{unknown}")
    assert response.status == 404
    assert (await response.json())["error"] == f"run #{unknown} not found"
    response = await client.get(f"/api/compare?ids={unknown},4,{a}")
    assert (await response.json())["error"] == f"run #{unknown}, run #4 not found"


def delta_classes(page: str, label: str) -> list[str]:
    row = re.search(rf'<th scope="row">{re.escape(label)}</th>(.*?)</tr>', page, re.S).group(1)
    return re.findall(r'<span class="delta([^"]*)"', row)


async def test_page_colours_only_real_differences(stored):
    client, (a, b, slow, *_) = stored
    page = await (await client.get(f"/compare?ids={a},{b},{slow}")).text()
    assert delta_classes(page, "p50") == ["", " worse"]
    assert delta_classes(page, "Mean") == ["", " worse"]
    for label in ("Requests", "Duration", "Max", "Error %", "Peak RSS"):
        assert " better" not in "".join(delta_classes(page, label)), label
        assert " worse" not in "".join(delta_classes(page, label)), label
    assert 'id="compare-verdicts"' in page and "minimum effect" in page
    assert "title=\"same: the 95% interval" in page
    # the downloaded file colours exactly what the page colours
    report = await (await client.get(f"/compare/report.html?ids={a},{b},{slow}")).text()
    p50_row = re.search(r"<th[^>]*>p50</th>(.*?)</tr>", report, flags=re.S)[1]
    assert re.findall(r'class="delta( \w+)?"', p50_row) == ["", " worse"]
    requests_row = re.search(r"<th[^>]*>Requests</th>(.*?)</tr>", report, flags=re.S)[1]
    assert " worse" not in requests_row and " better" not in requests_row


# -- real runs: bench against the demo target, stored in one SQLite file ---------------------

def bench(*args: str) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "run.py", "bench", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def real_runs(target_url, tmp_path_factory) -> dict:
    """fast (10-20 ms), slow and slow again (20-40 ms): 6 s each, one after the other. The
    slow runs are compared with fast by the CLI as they end (--baseline, a stored run and
    the fast run's --json file), with --fail-on-regression."""
    folder = tmp_path_factory.mktemp("verdicts")
    db, fast_json = str(folder / "runs.sqlite"), folder / "fast.json"
    fast_url, slow_url = (target_url + "{i}?delay=" + d for d in ("0.01-0.02", "0.02-0.04"))
    with alone(tmp_path_factory, "heavy"):      # measured apart from the Ray cluster's tests
        code, out, err = bench(fast_url, *RUN, "--save", "--db", db, "--json")
        assert code == 0, err
        fast_json.write_text(out)
        fast = json.loads(out)
        runs = {"db": db, "file": str(fast_json), "fast": fast}
        for name, baseline in (("slow", str(fast["run_id"])), ("again", str(fast_json))):
            code, out, err = bench(slow_url, *RUN, "--save", "--db", db, "--json",
                                   "--baseline", baseline, "--fail-on-regression")
            runs[name] = {"code": code, "stderr": err, **json.loads(out)}
    return runs


def test_bench_baseline_of_a_stored_run_fails_on_regression(real_runs):
    slow = real_runs["slow"]
    assert slow["code"] == 1, slow["stderr"]
    comparison = slow["comparison"]
    assert comparison["baseline"] == f"run #{real_runs['fast']['run_id']} of {real_runs['db']}"
    assert comparison["metrics"]["p50"]["verdict"] == "worse"
    assert comparison["metrics"]["rps"]["verdict"] == "worse"
    assert {"p50", "rps"} <= set(comparison["regressions"])
    assert comparison["method"]["resamples"] == 1000


def test_bench_baseline_of_a_json_file_is_tested_from_its_samples(real_runs):
    again = real_runs["again"]
    assert again["code"] == 1, again["stderr"]
    assert again["comparison"]["baseline"] == real_runs["file"]
    p50 = again["comparison"]["metrics"]["p50"]
    assert p50["verdict"] == "worse" and p50["interval"][0] > 0
    assert real_runs["fast"]["samples"]["unit_s"] == 1
    assert len(real_runs["fast"]["samples"]["units"]) == 6


async def test_same_spec_is_same_and_a_delay_is_worse_then_better(real_runs, target_url):
    ids = [real_runs[k]["run_id"] for k in ("fast", "slow", "again")]
    settings = Settings(db_path=real_runs["db"], target_url=target_url, start_target=False)
    from aiohttp.test_utils import TestClient, TestServer
    async with TestClient(TestServer(create_app(settings))) as client:
        fast, slow, again = ids
        same = metrics(await verdicts_of(client, f"ids={slow},{again}"))
        assert (same["p50"], same["p99"], same["rps"]) == ("same", "same", "same"), same
        assert metrics(await verdicts_of(client, f"ids={fast},{slow}"))["p50"] == "worse"
        assert metrics(await verdicts_of(client, f"ids={slow},{fast}"))["p50"] == "better"
        page = await (await client.get(f"/compare?ids={slow},{again},{fast}")).text()
        assert delta_classes(page, "p50") == ["", " better"]


@pytest.mark.parametrize("args, message", [
    (["--baseline", "999"], "--baseline: no run #999 in"),
    (["--baseline", "/nonexistent/run.json"], "--baseline: cannot read /nonexistent/run.json"),
    (["--baseline", "run.py"], "is not JSON"),
    (["--fail-on-regression"], "--fail-on-regression: needs --baseline"),
])
async def test_bench_bad_baseline_exits_2_naming_the_flag(real_runs, args, message):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "run.py", "bench", "http://127.0.0.1:9/", "-n", "1", "--db",
        real_runs["db"], *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2 and out == b""
    assert message in err.decode()


# -- per-endpoint verdicts ---------------------------------------------------------------------

async def stored_endpoint_run(conn, seconds: int, rng: random.Random, slow: str | None,
                              names=("GET /a", "GET /b", "GET /c")) -> int:
    """A finished workload run stored as the dashboard stores one: each endpoint ~100
    responses a second in 10-30 ms, `slow` in 30-50 ms."""
    from app.engine.snapshot import EndpointStats
    spec = parse_spec({"url": "http://127.0.0.1:1/", "duration": "10m"}).to_dict()
    run = await store.create_run(conn, spec, status=RunStatus.RUNNING)
    rollups, summary, rows = Rollups(), Summary(), []
    for n in range(1, seconds + 1):
        snap = Snapshot(second=n, elapsed_s=1.0)
        for name in names:
            k = rng.randint(80, 120)
            low, high = (30, 50) if name == slow else (10, 30)
            e = EndpointStats(ok=k)
            e.status_codes[200] = k
            e.latency.record_ns([rng.randint(low * 10**6, high * 10**6) for _ in range(k)])
            snap.endpoints[name] = e
            snap.started += k
            snap.completed += k
            snap.ok += k
            snap.status_codes[200] += k
            snap.latency.add(e.latency)
        snap.service = snap.latency.copy()
        summary.add(snap)
        rows += timeline.encoded(rollups.add(snap))
    rows += timeline.encoded(rollups.close())
    await store.append_rows(conn, run.id, rows)
    await store.finish_run(conn, run.id, RunStatus.FINISHED, summary.to_dict())
    return run.id


async def test_endpoint_verdicts_in_the_api_and_on_the_page(aiohttp_client, settings):
    conn = await open_db(settings.db_path)
    try:
        rng = random.Random(5)
        a, b = [await stored_endpoint_run(conn, 20, rng, slow) for slow in (None, "GET /b")]
    finally:
        await conn.close()
    client = await aiohttp_client(create_app(settings))
    answer = await verdicts_of(client, f"ids={a},{b}")
    endpoints = answer["comparisons"][0]["endpoints"]
    got = {name: {k: v["verdict"] for k, v in m.items()} for name, m in endpoints.items()}
    assert got["GET /b"]["p50"] == "worse" and got["GET /b"]["p99"] == "worse"
    for name in ("GET /a", "GET /c"):
        assert set(got[name].values()) == {"same"}, (name, got[name])
    assert answer["method"]["endpoints"]["max"] == 20
    # the page colours exactly those deltas, with the verdict and its reason as the title
    page = await (await client.get(f"/compare?ids={a},{b}")).text()
    for name in ("GET /a", "GET /b", "GET /c"):
        body = re.search(rf'<tbody data-endpoint="{re.escape(name)}">(.*?)</tbody>', page,
                         re.S).group(1)
        p50 = delta_classes(body, "p50")
        assert p50 == ([" worse"] if name == "GET /b" else [""]), (name, p50)
        assert " worse" not in "".join(delta_classes(body, "Max") + delta_classes(body, "p90"))
    body = re.search(r'<tbody data-endpoint="GET /b">(.*?)</tbody>', page, re.S).group(1)
    assert 'title="worse: the 95% interval' in body
    assert 'title="not tested"' in body                  # p90, max, requests
    # the downloaded file colours the same endpoint deltas
    report = await (await client.get(f"/compare/report.html?ids={a},{b}")).text()
    groups = re.findall(r'<tr class="endpoint-group"><th[^>]*>([^<]*)</th></tr>(.*?)</tbody>',
                        report, re.S)
    classes = {name: re.findall(r'<th scope="row">p50</th>.*?class="delta( \w+)?"', body, re.S)
               for name, body in groups}
    assert classes == {"GET /a": [""], "GET /b": [" worse"], "GET /c": [""]}, classes


def test_endpoint_verdicts_of_runs_stored_by_long_run(tmp_path):
    """Two runs of 10 endpoints written by benchmarks/long_run.py (the same seed: alike),
    read from the stored seconds: every endpoint's metrics are compared, and the same."""
    db = str(tmp_path / "long.sqlite")
    for extra in ((), ("--append",)):
        done = subprocess.run([sys.executable, "benchmarks/long_run.py", "--endpoints", "10",
                               "--seconds", "60", "--rate", "2000", "--pool", "60",
                               "--db", db, *extra], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr

    async def compared():
        from app.analysis import compare as verdicts
        from app.store import samples as run_samples
        conn = await open_db(db)
        try:
            summaries = [(await timeline.window(conn, i, 1, 10**9)).to_dict() for i in (1, 2)]
            names, rest = verdicts.endpoints_to_test(summaries)
            sides = [await run_samples.side(conn, i, 1, 10**9, None, s, names)
                     for i, s in zip((1, 2), summaries)]
        finally:
            await conn.close()
        return names, rest, verdicts.compare_endpoints(sides, names, rest)[0]

    names, rest, got = asyncio.run(compared())
    assert len(names) == 10 and rest == []
    for name in names:
        assert {r.verdict.value for r in got[name]} == {"same"}, (name, got[name])
