"""The JSON API against the real app: temp-file SQLite, real demo target, real engine."""
from __future__ import annotations

import asyncio
import csv
import io
import re
import socket

import pytest

from app.spec import parse_spec
from app.status import RunStatus
from app.store import db as store_db
from app.store import runs as store
from app.web.api import CSV_COLUMNS, csv_header, csv_lines, csv_row
from app.web.app import create_app
from app.web.keys import DB, MANAGER
from tests.conftest import wait_for_status

FINAL = {"finished", "stopped", "failed"}


def spec(target_url: str, **fields) -> dict:
    return {"url": target_url + "{i}", "requests": 50, "concurrency": 5, **fields}


async def total_runs(client) -> int:
    return (await (await client.get("/api/runs")).json())["total"]


async def wait_for_samples(client, run_id: int, count: int, timeout: float = 20.0) -> list:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        samples = (await (await client.get(f"/api/runs/{run_id}/series")).json())["samples"]
        if len(samples) >= count:
            return samples
        assert asyncio.get_running_loop().time() < deadline, f"only {len(samples)} samples"
        await asyncio.sleep(0.05)


# -- creating and finishing a run -----------------------------------------------------------

async def test_valid_run_is_created_and_finishes_with_exact_counts(client, target_url):
    response = await client.post("/api/runs", json=spec(target_url, name="fifty"))
    assert response.status == 201
    run = await response.json()
    assert run["status"] == "running" and run["name"] == "fifty"
    assert run["spec"]["requests"] == 50 and run["summary"] is None
    assert response.headers["Location"] == f"/api/runs/{run['id']}"

    done = await wait_for_status(client, run["id"], FINAL)
    assert done["status"] == "finished", done["error_message"]
    summary = done["summary"]
    assert summary["requests"] == 50 and summary["ok"] == 50
    assert summary["status_codes"] == {"200": 50}
    assert summary["errors"] == 0 and summary["failed"] == 0
    assert done["finished_at"] >= done["started_at"] >= done["created_at"]

    series = await (await client.get(f"/api/runs/{run['id']}/series")).json()
    assert series["run"]["id"] == run["id"]
    assert [s["second"] for s in series["samples"]] == list(range(1, len(series["samples"]) + 1))
    assert sum(s["completed"] for s in series["samples"]) == 50

    # the list shows it, with the summary's numbers
    listed = await (await client.get("/api/runs")).json()
    assert listed["total"] == 1 and listed["runs"][0]["summary"]["requests"] == 50


CSV_BASE = [name for name, _, _ in CSV_COLUMNS]


async def test_series_as_csv(client, target_url):
    run = await (await client.post("/api/runs", json=spec(target_url, requests=30))).json()
    await wait_for_status(client, run["id"], FINAL)
    response = await client.get(f"/api/runs/{run['id']}/series", params={"format": "csv"})
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="stampede-run-{run["id"]}.csv"'
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == CSV_BASE + ["status_200"]          # no error columns: there were none
    body = [dict(zip(rows[0], row)) for row in rows[1:]]
    assert [int(r["second"]) for r in body] == list(range(1, len(body) + 1))
    assert sum(int(r["completed"]) for r in body) == 30
    assert sum(int(r["started"]) for r in body) == 30
    assert sum(int(r["status_200"]) for r in body) == 30
    for r in body:
        if int(r["completed"]):
            assert float(r["p99_ms"]) >= float(r["p50_ms"]) > 0
            assert re.fullmatch(r"\d+\.\d{3}", r["p50_ms"]), r["p50_ms"]   # ms: 3 decimals

    bad = await client.get(f"/api/runs/{run['id']}/series", params={"format": "xml"})
    assert bad.status == 400 and "format" in (await bad.json())["errors"]


async def test_csv_has_a_column_per_status_code_and_error_class(client, target_url):
    run = await (await client.post("/api/runs", json=spec(
        target_url + "?status=500&x=", requests=20))).json()
    await wait_for_status(client, run["id"], FINAL)
    text = await (await client.get(f"/api/runs/{run['id']}/series?format=csv")).text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sum(int(r["status_500"]) for r in rows) == sum(int(r["failed"]) for r in rows) == 20
    assert "status_200" not in rows[0] and "errors" in rows[0]


def series_csv(samples: list[dict]) -> str:
    """The export's lines for these views, its columns as the handler picks them."""
    codes = sorted({c for s in samples for c in s["status_codes"]}, key=int)
    classes = sorted({c for s in samples for c in s["error_classes"]})
    return csv_lines([csv_header(codes, classes),
                      *(csv_row(s, codes, classes) for s in samples)]).decode()


def test_csv_cells_fixed_precision_and_empty_for_no_value():
    def second(n, **fields):
        base = {"second": n, "elapsed_s": 1.0, "started": 3, "completed": 3, "ok": 1,
                "failed": 1, "errors": 1, "rps": 3.0, "in_flight": 0, "late_starts": 0,
                "bytes": 10, "status_codes": {"200": 1, "500": 1},
                "error_classes": {"request_timeout": 1},
                "latency_ms": {"mean": 390.655999, "p50": 1.0, "p90": 2.0, "p99": 3.0,
                               "p999": 3.0, "max": 3.0},
                "service_ms": {"p50": 1.0, "p99": 3.0, "max": 3.0},
                "health": {"cpu_percent": 12.34, "rss_mb": 50.0, "loop_lag_ms": 0.5}}
        return {**base, **fields}
    quiet = second(2, completed=1, ok=0, failed=0, status_codes={},
                   error_classes={"connection_refused": 1},
                   latency_ms=dict.fromkeys(("mean", "p50", "p90", "p99", "p999", "max")),
                   service_ms={"p50": None, "p99": None, "max": None})
    rows = list(csv.DictReader(io.StringIO(series_csv([second(1), quiet]))))
    assert list(rows[0])[len(CSV_BASE):] == ["status_200", "status_500",
                                             "error_connection_refused", "error_request_timeout"]
    first, empty = rows
    assert (first["mean_ms"], first["p50_ms"], first["rps"], first["cpu_percent"]) == \
        ("390.656", "1.000", "3.00", "12.3")
    assert (first["status_500"], first["error_request_timeout"],
            first["error_connection_refused"]) == ("1", "1", "0")
    assert all(empty[f"{k}_ms"] == "" for k in ("mean", "p50", "p99", "max", "service_p50"))
    assert (empty["status_200"], empty["error_connection_refused"]) == ("0", "1")


# -- bad input: 400 naming the field, nothing created ----------------------------------------

@pytest.mark.parametrize("fields, bad", [
    ({"url": None}, "url"),
    ({"url": "ftp://example.com/"}, "url"),
    ({"url": "http://"}, "url"),
    ({"url": 12}, "url"),
    ({"method": "FETCH"}, "method"),
    ({"headers": "no colon here"}, "headers"),
    ({"headers": 5}, "headers"),
    ({"requests": 0}, "requests"),
    ({"requests": "many"}, "requests"),
    ({"requests": 2.5}, "requests"),
    ({"requests": None, "duration": None}, "requests"),
    ({"duration": "soon"}, "duration"),
    ({"duration": -1}, "duration"),
    ({"concurrency": -3}, "concurrency"),
    ({"concurrency": True}, "concurrency"),
    ({"rate": 0}, "rate"),
    ({"rate": "fast"}, "rate"),
    ({"stages": "1s"}, "stages"),
    ({"stages": [[1]]}, "stages"),
    ({"engine": "curl"}, "engine"),
    ({"workers": 1000}, "workers"),
    ({"workers": 8, "concurrency": 2}, "workers"),
    ({"timeout": 0}, "timeout"),
    ({"keepalive": "maybe"}, "keepalive"),
    ({"name": "x" * 201}, "name"),
    ({"concurency": 5}, "concurency"),            # a typo is named, not ignored
])
async def test_each_invalid_field_is_named_and_nothing_is_created(client, target_url, fields, bad):
    body = {k: v for k, v in spec(target_url, **fields).items() if v is not None}
    response = await client.post("/api/runs", json=body)
    assert response.status == 400
    errors = (await response.json())["errors"]
    assert bad in errors and isinstance(errors[bad], str) and errors[bad]
    assert await total_runs(client) == 0
    assert client.server.app[MANAGER].active_id is None


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"url"', b"", b"\xff\xfe"])
async def test_a_body_that_is_not_a_json_object_is_named(client, raw):
    response = await client.post("/api/runs", data=raw,
                                 headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert "body" in (await response.json())["errors"]
    assert await total_runs(client) == 0


async def test_unknown_runs_and_routes_answer_json_404(client):
    for method, path in (("GET", "/api/runs/999"), ("DELETE", "/api/runs/999"),
                         ("GET", "/api/runs/999/series"), ("POST", "/api/runs/999/stop"),
                         ("GET", "/api/runs/999/ws"), ("GET", "/api/nothing")):
        response = await client.request(method, path)
        assert response.status == 404, path
        assert "error" in await response.json()
    response = await client.put("/api/runs")
    assert response.status == 405 and "error" in await response.json()


# -- one run at a time: 409, stop, delete -----------------------------------------------------

async def test_active_run_refuses_another_and_deletion_then_stops_keeping_samples(client,
                                                                                  target_url):
    first = await client.post("/api/runs", json=spec(target_url, requests=None, duration="30s"))
    run = await first.json()
    await wait_for_samples(client, run["id"], 1)

    second = await client.post("/api/runs", json=spec(target_url))
    assert second.status == 409
    assert (await second.json()) == {"error": f"run #{run['id']} is active"}
    refused = await client.delete(f"/api/runs/{run['id']}")
    assert refused.status == 409 and "error" in await refused.json()
    assert await total_runs(client) == 1

    stop = await client.post(f"/api/runs/{run['id']}/stop")
    assert stop.status == 202
    stopped = await wait_for_status(client, run["id"], FINAL)
    assert stopped["status"] == "stopped"
    series = (await (await client.get(f"/api/runs/{run['id']}/series")).json())["samples"]
    assert len(series) >= 1
    assert stopped["summary"]["requests"] == sum(s["completed"] for s in series) > 0
    again = await client.post(f"/api/runs/{run['id']}/stop")
    assert again.status == 409

    # now another run may start, and the stopped one may be deleted with its samples
    assert (await client.post("/api/runs", json=spec(target_url, requests=5))).status == 201
    deleted = await client.delete(f"/api/runs/{run['id']}")
    assert deleted.status == 204
    assert (await client.get(f"/api/runs/{run['id']}")).status == 404
    assert await store.last_second(client.server.app[DB], run["id"]) == 0


async def test_queued_runs_start_one_after_another_and_a_queued_one_can_be_stopped(client,
                                                                                   target_url):
    manager = client.server.app[MANAGER]
    specs = [parse_spec(spec(target_url, requests=20, name=f"run {n}")) for n in range(3)]
    records = await manager.submit_many(specs)
    assert [r.status for r in records] == [RunStatus.RUNNING, RunStatus.QUEUED, RunStatus.QUEUED]
    assert (await client.post("/api/runs", json=spec(target_url))).status == 409

    stop = await client.post(f"/api/runs/{records[2].id}/stop")
    assert stop.status == 202
    assert (await stop.json())["status"] == "stopped"
    for record in records[:2]:
        done = await wait_for_status(client, record.id, FINAL)
        assert done["status"] == "finished" and done["summary"]["requests"] == 20
    first, second = [await (await client.get(f"/api/runs/{r.id}")).json() for r in records[:2]]
    assert second["started_at"] >= first["finished_at"]
    third = await (await client.get(f"/api/runs/{records[2].id}")).json()
    assert third["started_at"] is None and third["summary"] is None
    assert manager.active_id is None


async def test_stop_all_stops_the_running_run_and_drops_the_ones_queued_behind_it(client,
                                                                                 target_url):
    manager = client.server.app[MANAGER]
    specs = [parse_spec(spec(target_url, requests=None, duration="30s", name="long")),
             parse_spec(spec(target_url, requests=20, name="next")),
             parse_spec(spec(target_url, requests=20, name="last"))]
    first, second, third = await manager.submit_many(specs)
    await wait_for_samples(client, first.id, 1)
    assert manager.queued_after(first.id) == [second.id, third.id]
    assert manager.queued_after(second.id) == [third.id]

    bad = await client.post(f"/api/runs/{first.id}/stop?queued=yes")
    assert bad.status == 400 and "queued" in (await bad.json())["errors"]
    stop = await client.post(f"/api/runs/{first.id}/stop?queued=1")
    assert stop.status == 202 and (await stop.json())["id"] == first.id
    # the queued ones are stopped when the answer comes; the running one ends soon after
    for record in (second, third):
        run = await (await client.get(f"/api/runs/{record.id}")).json()
        assert run["status"] == "stopped"
    done = await wait_for_status(client, first.id, FINAL)
    assert done["status"] == "stopped" and done["summary"]["requests"] > 0
    for record in (second, third):
        run = await (await client.get(f"/api/runs/{record.id}")).json()
        assert (run["status"], run["started_at"], run["summary"]) == ("stopped", None, None)
    assert manager.active_id is None
    assert (await client.post(f"/api/runs/{second.id}/stop?queued=1")).status == 409


async def test_stop_all_from_a_queued_run_leaves_the_runs_before_it(client, target_url):
    manager = client.server.app[MANAGER]
    first, second, third = await manager.submit_many(
        [parse_spec(spec(target_url, requests=30, name=n)) for n in ("a", "b", "c")])
    stop = await client.post(f"/api/runs/{second.id}/stop?queued=1")
    assert stop.status == 202
    done = await wait_for_status(client, first.id, FINAL)
    assert done["status"] == "finished" and done["summary"]["requests"] == 30
    for record in (second, third):
        run = await wait_for_status(client, record.id, FINAL)
        assert (run["status"], run["started_at"]) == ("stopped", None)


async def test_a_plain_stop_of_the_first_run_starts_the_next(client, target_url):
    manager = client.server.app[MANAGER]
    first, second = await manager.submit_many(
        [parse_spec(spec(target_url, requests=None, duration="30s")),
         parse_spec(spec(target_url, requests=10))])
    await wait_for_samples(client, first.id, 1)
    assert (await client.post(f"/api/runs/{first.id}/stop")).status == 202
    assert (await wait_for_status(client, first.id, FINAL))["status"] == "stopped"
    assert (await wait_for_status(client, second.id, FINAL))["status"] == "finished"


# -- the run page's following runs and the preset form ----------------------------------------

async def test_the_run_page_announces_only_following_runs_that_exist(client, target_url):
    ids = []
    for name in ("one", "two"):
        run = await (await client.post("/api/runs", json=spec(target_url, requests=5,
                                                              name=name))).json()
        await wait_for_status(client, run["id"], FINAL)
        ids.append(run["id"])
    first, second = ids
    alone = await (await client.get(f"/runs/{first}?then=999")).text()
    assert 'id="then"' not in alone and "/runs/999" not in alone
    page = await (await client.get(f"/runs/{first}?then=999,{second}")).text()
    assert 'id="then"' in page and "/runs/999" not in page and '"id": 999' not in page
    assert f'<li data-run-id="{second}"><a href="/runs/{second}">two</a>' in page
    assert f'compare?ids={first},{second}"' in page
    assert 'badge status-finished">finished</span>' in page.split('id="then"')[1]


async def test_a_preset_refused_while_a_run_is_active_fills_the_form_with_its_first_run(
        client, target_url):
    busy = await (await client.post("/api/runs", json=spec(
        target_url, requests=None, duration="30s"))).json()
    response = await client.post("/presets/sync-vs-async", data={})
    assert response.status == 409
    html = await response.text()
    assert 'value="article: sync, 100 requests"' in html
    assert '<option value="sync" selected' in html
    assert 'value="100"' in html and "delay=0-3" in html
    assert await total_runs(client) == 1
    await client.post(f"/api/runs/{busy['id']}/stop")
    await wait_for_status(client, busy["id"], FINAL)


# -- secrets: masked wherever a run is shown or exported, kept for Run again -----------------

# aiohttp refuses an Authorization header together with credentials in the URL: two runs
@pytest.mark.parametrize("userinfo, headers, query, secrets, shown_headers, shown_url", [
    ("", ["Authorization: Bearer s3cret-bearer", "X-API-Key: k3y-value", "Accept: text/plain"],
     "?token=t0ken-in-query&delay=0", ("s3cret-bearer", "k3y-value", "t0ken-in-query"),
     ["Authorization: Bearer ••••••", "X-API-Key: ••••••", "Accept: text/plain"],
     "http://{host}{{i}}?token=••••••&delay=0"),
    ("user:pa55word@", ["Cookie: sid=c00kie", "X-Auth-Token: t0k"], "?delay=0",
     ("pa55word", "c00kie", "t0k"), ["Cookie: ••••••", "X-Auth-Token: ••••••"],
     "http://user:••••••@{host}{{i}}?delay=0"),
])
async def test_secrets_are_masked_in_the_api_and_exports_but_kept_for_run_again(
        client, target_url, userinfo, headers, query, secrets, shown_headers, shown_url):
    host = target_url.removeprefix("http://")
    body = spec(f"http://{userinfo}{host}", requests=5, headers=headers)
    body["url"] += query
    created = await client.post("/api/runs", json=body)
    assert created.status == 201
    run = await created.json()
    done = await wait_for_status(client, run["id"], FINAL)
    assert done["status"] == "finished" and done["summary"]["ok"] == 5   # the secrets were sent

    shown = {
        "created": await created.text(),
        "get": await (await client.get(f"/api/runs/{run['id']}")).text(),
        "list": await (await client.get("/api/runs")).text(),
        "json export": await (await client.get(f"/api/runs/{run['id']}/series")).text(),
        "stop": await (await client.post(f"/api/runs/{run['id']}/stop")).text(),
        "run page": await (await client.get(f"/runs/{run['id']}")).text(),
    }
    for where, text in shown.items():
        for secret in secrets:
            assert secret not in text, (where, secret)
    assert done["spec"]["headers"] == shown_headers
    assert done["url"] == done["spec"]["url"] == shown_url.format(host=host)
    assert shown_headers[0] in shown["run page"]

    # Run again refills the form from the stored spec: the secrets are there to be sent again
    again = await (await client.get(f"/?from={run['id']}")).text()
    for secret in secrets:
        assert secret in again, secret


async def test_an_error_sample_quoting_the_url_does_not_show_its_secret(client):
    with socket.socket() as s:          # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = await (await client.post("/api/runs", json={
        "url": f"http://127.0.0.1:{port}/{{i}}?token=s4mple-secret", "requests": 2,
        "concurrency": 1, "engine": "sync"})).json()
    done = await wait_for_status(client, run["id"], FINAL)
    samples = done["summary"]["error_samples"]
    assert set(samples) == {"connection_refused"}
    assert "token=••••••" in samples["connection_refused"]      # requests quotes the URL
    for path in (f"/api/runs/{run['id']}", f"/api/runs/{run['id']}/series",
                 f"/api/runs/{run['id']}/series?format=csv", f"/runs/{run['id']}"):
        assert "s4mple-secret" not in await (await client.get(path)).text(), path


# -- the list: filters, sort, pagination --------------------------------------------------------

@pytest.fixture
async def history(client):
    """Seven finished runs stored directly (the API only lists them)."""
    db = client.server.app[DB]
    ids = []
    for n, (name, status, rps) in enumerate([
            ("alpha", "finished", 10.0), ("beta", "failed", 30.0), ("gamma 50%", "finished", 20.0),
            ("delta", "stopped", 50.0), ("epsilon", "finished", 40.0), ("zeta", "finished", 60.0),
            ("eta", "finished", 70.0)]):
        record = await store.create_run(db, parse_spec({
            "url": f"http://127.0.0.1:1/{n}", "requests": 1, "name": name}).to_dict())
        await store.finish_run(db, record.id, RunStatus(status),
                               {"requests": 1, "rps": rps, "latency_ms": {"p50": 1, "p99": 2},
                                "error_rate": 0.0, "duration_s": 1.0})
        ids.append(record.id)
    return ids


async def list_names(client, **params) -> tuple[list[str], int]:
    response = await client.get("/api/runs", params=params)
    assert response.status == 200, await response.text()
    data = await response.json()
    return [r["name"] for r in data["runs"]], data["total"]


async def test_list_filters_sorts_and_pages(client, history):
    assert await list_names(client) == (
        ["eta", "zeta", "epsilon", "delta", "gamma 50%", "beta", "alpha"], 7)
    assert await list_names(client, status="finished", sort="rps", order="asc") == (
        ["alpha", "gamma 50%", "epsilon", "zeta", "eta"], 5)
    assert await list_names(client, q="ETA") == (["eta", "zeta", "beta"], 3)
    assert await list_names(client, q="50%") == (["gamma 50%"], 1)     # % is literal
    assert await list_names(client, sort="name", order="asc", limit="3", offset="2") == (
        ["delta", "epsilon", "eta"], 7)
    assert await list_names(client, offset="100") == ([], 7)


@pytest.mark.parametrize("params, bad", [
    ({"status": "done"}, "status"), ({"sort": "id; DROP TABLE runs"}, "sort"),
    ({"order": "up"}, "order"), ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"),
    ({"limit": "ten"}, "limit"), ({"limit": "-1"}, "limit"), ({"offset": "-5"}, "offset"),
    ({"offset": "1.5"}, "offset"), ({"q": "x" * 201}, "q"),
])
async def test_bad_list_parameters_are_named(client, history, params, bad):
    response = await client.get("/api/runs", params=params)
    assert response.status == 400
    assert bad in (await response.json())["errors"]


async def test_several_bad_parameters_are_all_named(client):
    response = await client.get("/api/runs", params={"sort": "x", "order": "x", "limit": "x"})
    assert set((await response.json())["errors"]) == {"sort", "order", "limit"}


# -- presets and health ----------------------------------------------------------------------

async def test_presets_point_at_the_demo_target(client, target_url):
    presets = (await (await client.get("/api/presets")).json())["presets"]
    assert presets and all(p["key"] and p["title"] and p["runs"] for p in presets)
    for preset in presets:
        for run in preset["runs"]:
            assert run["url"].startswith(target_url.rstrip("/") + "/")
            parse_spec(run)      # every preset is a valid spec
    health = await (await client.get("/healthz")).json()
    assert health == {"ok": True, "active_run": None}


# -- crash recovery --------------------------------------------------------------------------

async def test_runs_left_running_become_interrupted_with_samples_and_summary(
        aiohttp_client, settings):
    from tests.integration.test_store import snapshot_sample
    db = await store_db.open_db(settings.db_path)
    running = await store.create_run(db, parse_spec(
        {"url": "http://127.0.0.1:1/", "duration": "1m", "name": "crashed"}).to_dict(),
        status=RunStatus.RUNNING)
    queued = await store.create_run(db, parse_spec(
        {"url": "http://127.0.0.1:1/", "requests": 5}).to_dict())
    latencies = [[1.0, 2.0, 3.0], [4.0, 5.0], [6.0, 7.0, 8.0, 9.0]]
    await store.append_rows(db, running.id, [snapshot_sample(n + 1, ms)[1]
                                             for n, ms in enumerate(latencies)])
    await db.close()      # the "crash": nothing finished these runs

    client = await aiohttp_client(create_app(settings))
    run = await (await client.get(f"/api/runs/{running.id}")).json()
    assert run["status"] == "interrupted" and run["error_message"]
    assert run["finished_at"] is not None
    summary = run["summary"]
    assert summary["requests"] == 9 and summary["status_codes"] == {"200": 9}
    assert summary["latency_ms"]["min"] == pytest.approx(1.0, rel=1e-3)
    assert summary["latency_ms"]["max"] == pytest.approx(9.0, rel=1e-3)
    samples = (await (await client.get(f"/api/runs/{running.id}/series")).json())["samples"]
    assert [s["completed"] for s in samples] == [3, 2, 4]
    # sortable like a finished run
    names, _ = await list_names(client, sort="requests", status="interrupted")
    assert names[0] == "crashed"
    waiting = await (await client.get(f"/api/runs/{queued.id}")).json()
    assert waiting["status"] == "interrupted" and waiting["summary"] is None
    assert client.server.app[MANAGER].active_id is None


async def test_a_worker_that_dies_fails_the_run_with_its_message_and_keeps_samples(client,
                                                                                   target_url):
    import os
    import signal

    import psutil
    run = await (await client.post("/api/runs", json=spec(
        target_url, requests=None, duration="30s"))).json()
    await wait_for_samples(client, run["id"], 1)
    workers = [p for p in psutil.Process(os.getpid()).children()
               if "app.engine.worker_main" in " ".join(p.cmdline())]
    assert len(workers) == 1
    os.kill(workers[0].pid, signal.SIGKILL)
    failed = await wait_for_status(client, run["id"], FINAL)
    assert failed["status"] == "failed"
    assert "worker 0 failed" in failed["error_message"]
    assert failed["summary"]["requests"] > 0
    samples = (await (await client.get(f"/api/runs/{run['id']}/series")).json())["samples"]
    assert failed["summary"]["requests"] == sum(s["completed"] for s in samples)
    # the next run starts normally
    assert (await client.post("/api/runs", json=spec(target_url, requests=5))).status == 201


async def test_a_form_post_that_is_not_utf8_is_a_400_and_creates_nothing(client):
    response = await client.post("/runs", data=b"\xff\xfe=\xff",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 400
    assert "UTF-8" in await response.text()
    assert await total_runs(client) == 0


async def test_a_page_url_matching_no_route_gets_the_html_error_page(client):
    response = await client.get("/runs/abc")
    assert response.status == 404
    assert response.content_type == "text/html"
    assert "There is no page at /runs/abc" in await response.text()


@pytest.mark.parametrize("query, field", [("page=abc", "page"), ("page=0", "page"),
                                          ("sort=zzz", "sort"), ("order=up", "order"),
                                          ("status=bogus", "status")])
async def test_history_page_names_a_bad_query_parameter(client, query, field):
    response = await client.get(f"/runs?{query}")
    assert response.status == 400
    assert f"{field}: " in await response.text()


async def test_history_page_accepts_the_empty_filter_form(client):
    response = await client.get("/runs?q=&status=&sort=&order=")
    assert response.status == 200
