"""Workloads through the JSON API: per-endpoint summaries, the data kept with the run,
and bad targets or data refused with the line named and nothing stored."""
from __future__ import annotations

import csv
import io

import pytest

from app.store import runs as store
from app.web.keys import DB
from tests.conftest import wait_for_status

FINAL = {"finished", "stopped", "failed"}


async def total_runs(client) -> int:
    return (await (await client.get("/api/runs")).json())["total"]


async def test_a_workload_runs_with_endpoints_and_keeps_its_data(client, target_url):
    targets_text = (f"GET {target_url}users/{{user}}?delay=0-0.01\n\n"
                    f"POST {target_url}login?delay=0.01-0.02\n"
                    "Content-Type: application/json\n")
    response = await client.post("/api/runs", json={
        "targets_text": targets_text, "data_csv": "user\nann\nbob\ncy\n",
        "requests": 60, "concurrency": 6, "engine": "fast", "name": "mixed"})
    assert response.status == 201, await response.text()
    run = await response.json()
    assert run["url"] == f"{target_url}users/{{user}}?delay=0-0.01"
    assert run["spec"]["data"] == {"rows": 3, "columns": ["user"]}
    assert "data_csv" not in run["spec"]
    done = await wait_for_status(client, run["id"], FINAL)
    assert done["status"] == "finished", done["error_message"]
    endpoints = done["summary"]["endpoints"]
    assert set(endpoints) == {"GET /users/{user}", "POST /login"}
    assert [e["requests"] for e in endpoints.values()] == [30, 30]
    assert all(e["latency_ms"]["p99"] is not None for e in endpoints.values())
    series = await (await client.get(f"/api/runs/{run['id']}/series")).json()
    per_second = [s["endpoints"] for s in series["samples"]]
    assert sum(e["POST /login"]["requests"] for e in per_second if "POST /login" in e) == 30
    assert await store.get_run_data(client.app[DB], run["id"]) == "user\nann\nbob\ncy\n"
    table = await (await client.get(f"/api/runs/{run['id']}/endpoints")).json()
    assert table["endpoints"] == endpoints
    response = await client.get(f"/api/runs/{run['id']}/endpoints?format=csv")
    assert response.headers["Content-Disposition"].endswith(
        f'filename="stampede-run-{run["id"]}-endpoints.csv"')
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][:6] == ["name", "requests", "ok", "failed", "errors", "rps"]
    assert "status_200" in rows[0]
    assert sorted((r[0], r[1]) for r in rows[1:]) == [("GET /users/{user}", "30"),
                                                      ("POST /login", "30")]
    bad = await client.get(f"/api/runs/{run['id']}/endpoints?format=xml")
    assert bad.status == 400 and "format" in (await bad.json())["errors"]


@pytest.mark.parametrize("fields, field, words", [
    ({"targets_text": "GET http://127.0.0.1:9/a\nNoColon\n"}, "targets_text", "line 2"),
    ({"targets_text": "GET http://127.0.0.1:9/{nope}\n"}, "targets",
     "unknown placeholder {nope}"),
    ({"targets_text": "GET http://127.0.0.1:9/{user}\n", "data_csv": "user,x\nann\n"},
     "data_csv", "line 2"),
    ({"targets_text": "{}", "targets_format": "har"}, "targets_text", "entries"),
    ({"targets_text": "GET http://127.0.0.1:9/\n", "targets_format": "yaml"},
     "targets_format", "vegeta"),
    ({"targets": [{"url": "ftp://x/"}]}, "targets", "targets[0]"),
    ({"targets": [{"url": "http://127.0.0.1:9/a"}], "url": "http://127.0.0.1:9/b"}, "url",
     "not both"),
    ({"targets": [{"url": "http://127.0.0.1:9/a"}], "order": "shuffled"}, "order", "weighted"),
    ({"url": "http://127.0.0.1:9/", "data_csv": "\x00\x01binary"}, "data_csv", ""),
])
async def test_bad_targets_or_data_are_a_400_naming_the_field(client, fields, field, words):
    before = await total_runs(client)
    response = await client.post("/api/runs", json={"requests": 1, **fields})
    assert response.status == 400, await response.text()
    errors = (await response.json())["errors"]
    assert field in errors and words in errors[field], errors
    assert await total_runs(client) == before
