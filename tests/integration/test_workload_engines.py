"""A workload on every engine: exact counts per target, headers and bodies byte for byte,
the right Host per origin, and per-endpoint statistics. Real sockets, a recording server."""
from __future__ import annotations

import base64
from collections import Counter

import pytest
from aiohttp import web

from app.engine import Outcome, start
from app.spec import SpecError, parse_spec

ENGINES = ["aiohttp", "fast", "sync"]
BINARY = bytes(range(256)) * 3


@pytest.fixture
async def recorder(aiohttp_server):
    """Answers any method on any path and remembers what arrived, as it arrived."""
    async def make():
        seen: list[dict] = []

        async def handler(request: web.Request) -> web.Response:
            seen.append({"method": request.method, "path": request.path_qs,
                         "host": request.headers.get("Host"), "body": await request.read(),
                         "length": request.headers.get("Content-Length"),
                         "user": request.headers.get("X-User")})
            status = 500 if request.path.startswith("/fail") else 200
            return web.Response(body=b"ok", status=status)

        app = web.Application(client_max_size=2**20)
        app.router.add_route("*", "/{tail:.*}", handler)
        server = await aiohttp_server(app)
        server.seen = seen
        return server
    return make


async def run_to_end(data: dict) -> dict:
    run = await start(parse_spec(data))
    async for _ in run:
        pass
    assert run.outcome is Outcome.FINISHED, run.error
    return run.summary.to_dict()


@pytest.mark.parametrize("engine", ENGINES)
async def test_every_target_is_sent_exactly_as_described(recorder, engine):
    server = await recorder()
    base = str(server.make_url("")).rstrip("/")
    targets = [
        {"name": "list", "method": "GET", "url": base + "/items/{i}?page={rand:1-3}"},
        {"method": "POST", "url": base + "/users/{user}",
         "headers": [["Content-Type", "application/json"], ["X-User", "{user}"]],
         "body": '{{"id": {i}, "user": "{user}"}}'},
        {"method": "PUT", "url": base + "/blob", "body_b64": base64.b64encode(BINARY).decode()},
        {"method": "DELETE", "url": base + "/fail/{i}"},
    ]
    summary = await run_to_end({"targets": targets, "requests": 40, "concurrency": 4,
                                "engine": engine, "data_csv": "user\nann\nbob smith\n"})
    seen = server.seen
    assert len(seen) == 40 and summary["requests"] == 40
    assert Counter(s["method"] for s in seen) == {"GET": 10, "POST": 10, "PUT": 10, "DELETE": 10}
    for s in seen:
        if s["method"] == "POST":
            i = int(s["body"].split(b'"id": ')[1].split(b",")[0])
            user = ["ann", "bob smith"][i % 2]
            assert i % 4 == 1
            assert s["body"] == f'{{"id": {i}, "user": "{user}"}}'.encode()
            assert s["user"] == user and s["length"] == str(len(s["body"]))
            assert s["path"] == "/users/" + user.replace(" ", "%20")
        elif s["method"] == "PUT":
            assert s["body"] == BINARY and s["length"] == str(len(BINARY))
        elif s["method"] == "GET":
            index, page = s["path"].removeprefix("/items/").split("?page=")
            assert int(index) % 4 == 0 and 1 <= int(page) <= 3
        assert s["host"] == f"{server.host}:{server.port}"
    endpoints = summary["endpoints"]
    assert set(endpoints) == {"list", "POST /users/{user}", "PUT /blob", "DELETE /fail/{i}"}
    assert all(e["requests"] == 10 for e in endpoints.values())
    assert endpoints["DELETE /fail/{i}"]["failed"] == 10 and endpoints["list"]["ok"] == 10
    assert endpoints["list"]["latency_ms"]["p50"] is not None


@pytest.mark.parametrize("engine", ["aiohttp", "sync"])
async def test_targets_on_two_origins_each_get_their_host(recorder, engine):
    one, two = await recorder(), await recorder()
    targets = [{"url": f"http://{one.host}:{one.port}/one/{{i}}"},
               {"url": f"http://{two.host}:{two.port}/two/{{i}}"}]
    summary = await run_to_end({"targets": targets, "requests": 20, "concurrency": 2,
                                "engine": engine})
    assert summary["ok"] == 20
    assert {s["host"] for s in one.seen} == {f"{one.host}:{one.port}"} and len(one.seen) == 10
    assert {s["host"] for s in two.seen} == {f"{two.host}:{two.port}"} and len(two.seen) == 10


def test_the_fast_engine_refuses_several_origins_up_front():
    with pytest.raises(SpecError) as info:
        parse_spec({"targets": [{"url": "http://127.0.0.1:1/a"}, {"url": "http://127.0.0.1:2/b"}],
                    "requests": 2, "engine": "fast"})
    assert "one origin" in info.value.errors["engine"]


async def test_weighted_order_is_the_same_for_one_seed(recorder):
    server = await recorder()
    targets = [{"url": str(server.make_url("/light")), "weight": 1},
               {"url": str(server.make_url("/heavy")), "weight": 3}]
    counts = []
    for seed in (7, 7, 8):
        server.seen.clear()
        await run_to_end({"targets": targets, "order": "weighted", "seed": seed,
                          "requests": 400, "concurrency": 4, "engine": "fast"})
        counts.append(Counter(s["path"] for s in server.seen))
    assert counts[0] == counts[1] and counts[0] != counts[2]
    assert 0.65 < counts[0]["/heavy"] / 400 < 0.85
