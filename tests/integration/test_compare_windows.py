"""Windows on the pages, against the real app and real SQLite files: /compare?from=&to=
compares the runs' exact window summaries and says which seconds; a bad from or to (on
the compare page or the run page) is the 400 page naming the parameter."""
from __future__ import annotations

import html
import json
import random
import re

import pytest

from app.engine.series import Rollups
from app.engine.snapshot import Summary
from app.spec import parse_spec
from app.status import RunStatus
from app.store import runs as store
from app.store import series as timeline
from app.store.db import open_db
from app.web.app import create_app
from app.web.display import fmt_int
from tests.integration.test_long_runs import a_second

SECONDS = (90, 70)          # the two runs' lengths


async def stored_run(conn, seconds: int, rng: random.Random) -> tuple[int, list]:
    """A finished run stored as the dashboard stores one: each second and its rollups."""
    spec = parse_spec({"url": "http://127.0.0.1:1/", "duration": "10m"}).to_dict()
    run = await store.create_run(conn, spec, status=RunStatus.RUNNING)
    rollups, snaps, rows = Rollups(), [], []
    for n in range(1, seconds + 1):
        snaps.append(a_second(n, rng, requests=rng.randint(5, 30)))
        rows += timeline.encoded(rollups.add(snaps[-1]))
    rows += timeline.encoded(rollups.close())
    await store.append_rows(conn, run.id, rows)
    await store.finish_run(conn, run.id, RunStatus.FINISHED, Summary.of(snaps).to_dict())
    return run.id, snaps


@pytest.fixture
async def two_runs(aiohttp_client, settings):
    conn = await open_db(settings.db_path)
    try:
        rng = random.Random(8)
        runs = [await stored_run(conn, n, rng) for n in SECONDS]
    finally:
        await conn.close()
    return await aiohttp_client(create_app(settings)), runs


def requests_row(page: str) -> list[str]:
    row = re.search(r'<th scope="row">Requests</th>(.*?)</tr>', page, re.S).group(1)
    return re.findall(r'<span class="value">([^<]*)</span>', row)


def page_data(page: str) -> dict:
    return json.loads(html.unescape(
        re.search(r'<script type="application/json" id="page-data">(.*?)</script>',
                  page, re.S).group(1)))


@pytest.mark.parametrize("query, lo, hi", [("from=61", 61, None), ("from=10&to=20", 10, 20),
                                           ("to=30", 1, 30), ("from=80", 80, None)])
async def test_compare_compares_the_window_of_each_run(two_runs, query, lo, hi):
    client, runs = two_runs
    ids = ",".join(str(run_id) for run_id, _ in runs)
    response = await client.get(f"/compare?ids={ids}&{query}")
    assert response.status == 200
    page = await response.text()
    expected = [Summary.of(snaps[lo - 1:hi]).to_dict() for _, snaps in runs]
    assert requests_row(page) == [fmt_int(s["requests"]) for s in expected]
    assert f"seconds {lo}–{'end' if hi is None else hi}" in html.unescape(page)
    window = f"?from={lo}" + ("" if hi is None else f"&amp;to={hi}")
    for run_id, _ in runs:      # each run's page opens at the window
        assert f'href="/runs/{run_id}{window}" class="run-name"' in page
    data = page_data(page)
    assert [r["summary"] for r in data["runs"]] == expected      # the curves' source too
    assert data["window"] == {"from": lo, "to": hi}
    # every run's series over the same seconds at one step, so the charts line up
    for url, (run_id, snaps) in zip(data["series"], runs):
        series = await (await client.get(url)).json()
        assert series["from"] == lo and series["step"] == 1
        assert [s["second"] for s in series["samples"]] == \
            list(range(lo, min(hi or len(snaps), len(snaps)) + 1))


async def test_compare_without_a_window_is_the_whole_runs(two_runs):
    client, runs = two_runs
    ids = ",".join(str(run_id) for run_id, _ in runs)
    page = await (await client.get(f"/compare?ids={ids}")).text()
    assert requests_row(page) == [fmt_int(sum(s.completed for s in snaps)) for _, snaps in runs]
    assert 'id="compare-window"' not in page
    assert page_data(page)["window"] is None


@pytest.mark.parametrize("query, field", [
    ("from=0", "from"), ("from=x", "from"), ("to=-3", "to"), ("to=1.5", "to"),
    ("from=10&to=5", "to"), ("from=99999999999999", "from"), ("from=%D9%A1", "from")])
async def test_a_bad_window_is_a_400_naming_the_parameter(two_runs, query, field):
    client, runs = two_runs
    ids = ",".join(str(run_id) for run_id, _ in runs)
    for path in (f"/compare?ids={ids}&{query}", f"/runs/{runs[0][0]}?{query}"):
        response = await client.get(path)
        assert response.status == 400, path
        text = html.unescape(await response.text())
        assert f"{field}: " in text, (path, text)
        assert "<h1>" in text          # the site's error page, not aiohttp's text


async def test_the_run_page_embeds_the_window_of_its_url(two_runs):
    client, runs = two_runs
    run_id = runs[0][0]
    data = page_data(await (await client.get(f"/runs/{run_id}?from=5&to=9")).text())
    assert data["window"] == {"from": 5, "to": 9}
    assert data["urls"]["window"] == f"/api/runs/{run_id}/window"
    assert page_data(await (await client.get(f"/runs/{run_id}")).text())["window"] is None
