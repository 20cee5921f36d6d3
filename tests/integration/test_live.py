"""The live WebSocket: replay on connect, live seconds, done; slow clients are dropped."""
from __future__ import annotations

import asyncio
import dataclasses
import json

import aiohttp
import pytest

from app.web.app import create_app
from app.web.hub import status_message
from app.web.keys import DB, HUB, MANAGER
from tests.conftest import wait_for_status

FINAL = {"finished", "stopped", "failed"}


async def read_all(ws: aiohttp.ClientWebSocketResponse, timeout: float = 30.0) -> list[dict]:
    """Every message until the server closes the connection."""
    messages = []
    async with asyncio.timeout(timeout):
        async for message in ws:
            assert message.type == aiohttp.WSMsgType.TEXT, message
            messages.append(json.loads(message.data))
    assert ws.close_code == 1000
    return messages


def samples_of(messages: list[dict]) -> list[dict]:
    """The history's points, then every snapshot's second, in the order sent."""
    return [*(s for m in messages if m["type"] == "history" for s in m["samples"]),
            *(m["sample"] for m in messages if m["type"] == "snapshot")]


def check_stream(messages: list[dict], run_id: int) -> list[int]:
    """history, snapshots…, status, snapshots…, done: every second once, in order (a
    short run's history is a point per second). Returns the seconds sent before the
    status message (the replay)."""
    assert all(m["run_id"] == run_id for m in messages)
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "history" and kinds.count("history") == 1
    assert kinds.count("status") >= 1 and kinds[-1] == "done" and kinds.count("done") == 1
    seconds = [s["second"] for s in samples_of(messages)]
    assert seconds == list(range(1, len(seconds) + 1))
    return [s["second"] for s in samples_of(messages[:kinds.index("status")])]


async def start_run(client, target_url: str, **fields) -> dict:
    body = {"url": target_url + "{i}", "concurrency": 5, **fields}
    response = await client.post("/api/runs", json=body)
    assert response.status == 201, await response.text()
    return await response.json()


async def wait_live_seconds(client, run_id: int, count: int, timeout: float = 20.0) -> None:
    manager = client.server.app[MANAGER]
    async with asyncio.timeout(timeout):
        while manager.pending(run_id).last < count:
            await asyncio.sleep(0.02)


async def test_joining_mid_run_replays_earlier_seconds_then_goes_live(client, target_url):
    run = await start_run(client, target_url, duration="4s")
    await wait_live_seconds(client, run["id"], 2)
    async with client.ws_connect(f"/api/runs/{run['id']}/ws") as ws:
        messages = await read_all(ws)

    replayed = check_stream(messages, run["id"])
    assert len(replayed) >= 2                           # the earlier seconds came first
    at = [m["type"] for m in messages].index("status")
    assert messages[at] == {"type": "status", "run_id": run["id"], "status": "running"}
    live = [m for m in messages[at + 1:] if m["type"] == "snapshot"]
    assert live, "no live second after the replay"
    done = messages[-1]
    assert done["status"] == "finished" and done["error"] is None

    stored = await (await client.get(f"/api/runs/{run['id']}")).json()
    series = (await (await client.get(f"/api/runs/{run['id']}/series")).json())["samples"]
    assert samples_of(messages) == series               # the same seconds as the store
    last_totals = [m for m in messages if m["type"] == "snapshot"][-1]["totals"]
    assert done["summary"] == stored["summary"] == last_totals
    assert done["summary"]["requests"] == sum(s["completed"] for s in series) > 0
    assert client.server.app[HUB].clients(run["id"]) == 0


async def test_a_finished_run_is_replayed_then_done(client, target_url):
    run = await start_run(client, target_url, requests=40)
    finished = await wait_for_status(client, run["id"], FINAL)
    async with client.ws_connect(f"/api/runs/{run['id']}/ws") as ws:
        messages = await read_all(ws, timeout=5)
    replayed = check_stream(messages, run["id"])
    assert len(messages) == 3 and len(replayed) >= 1
    assert messages[-2] == {"type": "status", "run_id": run["id"], "status": "finished"}
    assert messages[-1]["summary"] == finished["summary"]
    assert messages[0]["totals"] == finished["summary"]
    assert sum(s["completed"] for s in samples_of(messages)) == 40
    # its whole series was kept when it ended (or by the replay above): pages read it once
    from app.store import runs as store
    async with asyncio.timeout(10):
        while await store.get_overview(client.server.app[DB], run["id"]) is None:
            await asyncio.sleep(0.05)


async def test_a_late_joiner_gets_the_older_seconds_from_the_store(client, target_url,
                                                                   monkeypatch):
    """The dashboard holds only the recent seconds of a live run (flat memory): a client
    joining later gets the older ones as the history, from the store (or from the rows
    not stored yet), each second once."""
    monkeypatch.setattr("app.web.runs.RECENT_SECONDS", 2)
    run = await start_run(client, target_url, duration="5s")
    await wait_live_seconds(client, run["id"], 3)
    assert len(client.server.app[MANAGER].live_state(run["id"]).recent) == 2
    async with client.ws_connect(f"/api/runs/{run['id']}/ws") as ws:
        messages = await read_all(ws)
    replayed = check_stream(messages, run["id"])
    assert len(messages[0]["samples"]) >= 1 and len(replayed) >= 3
    series = (await (await client.get(f"/api/runs/{run['id']}/series")).json())["samples"]
    assert samples_of(messages) == series


async def test_a_client_that_leaves_is_unregistered(client, target_url):
    run = await start_run(client, target_url, duration="3s")
    hub = client.server.app[HUB]
    ws = await client.ws_connect(f"/api/runs/{run['id']}/ws")
    await ws.receive(timeout=10)
    assert hub.clients(run["id"]) == 1
    await ws.close()
    async with asyncio.timeout(5):
        while hub.clients(run["id"]):
            await asyncio.sleep(0.02)
    done = await wait_for_status(client, run["id"], FINAL)
    assert done["status"] == "finished"


async def test_stopping_a_watched_run_ends_its_stream(client, target_url):
    run = await start_run(client, target_url, duration="30s")
    await wait_live_seconds(client, run["id"], 1)
    async with client.ws_connect(f"/api/runs/{run['id']}/ws") as ws:
        assert (await client.post(f"/api/runs/{run['id']}/stop")).status == 202
        messages = await read_all(ws, timeout=15)
    check_stream(messages, run["id"])
    assert messages[-1]["status"] == "stopped"


@pytest.fixture
async def tiny_queue_client(aiohttp_client, settings):
    return await aiohttp_client(create_app(dataclasses.replace(settings, ws_queue_size=2)))


async def test_a_stuck_client_is_dropped_without_slowing_the_run_or_the_others(
        tiny_queue_client, target_url):
    """One client never reads; with a queue of 2 it is dropped as soon as its socket is
    full, while a reading client still gets every message and the run finishes on time.

    A run sends about 2 kB a second, which would take hours to fill a socket's buffers;
    so the test also publishes bulky messages on the run's channel to fill them fast."""
    client = tiny_queue_client
    hub = client.server.app[HUB]
    run = await start_run(client, target_url, duration="4s")
    run_id = run["id"]
    url = f"/api/runs/{run_id}/ws"
    stuck = await client.ws_connect(url)        # never read until the end of the test
    reader = await client.ws_connect(url)
    got: list[dict] = []

    async def receive_until(predicate) -> None:
        while True:
            message = await reader.receive(timeout=10)
            assert message.type == aiohttp.WSMsgType.TEXT, message
            got.append(json.loads(message.data))
            if predicate(got[-1]):
                return

    await receive_until(lambda m: m["type"] == "status")
    bulk = "x" * 256 * 1024
    sent = 0
    async with asyncio.timeout(20):
        while hub.dropped_total == 0:
            sent += 1
            # one at a time, so the reading client's queue of 2 never overflows
            hub.publish(run_id, json.dumps({"type": "bulk", "run_id": run_id, "n": sent,
                                            "pad": bulk}))
            await receive_until(lambda m, n=sent: m["type"] == "bulk" and m["n"] == n)
    assert hub.clients(run_id) == 1                 # the reader is still subscribed

    async with asyncio.timeout(30):
        await receive_until(lambda m: m["type"] == "done")
    assert got[-1]["status"] == "finished"
    snapshots = [m["sample"]["second"] for m in got if m["type"] == "snapshot"]
    assert snapshots == list(range(1, len(snapshots) + 1)) and snapshots
    assert [m["n"] for m in got if m["type"] == "bulk"] == list(range(1, sent + 1))
    stored = await wait_for_status(client, run_id, FINAL)
    assert stored["status"] == "finished"
    assert stored["summary"]["duration_s"] == pytest.approx(4.0, abs=0.5)

    # the stuck client, once it reads, finds its backlog cut short: no `done`, a closed socket
    kinds = []
    async with asyncio.timeout(20):
        async for message in stuck:
            kinds.append(json.loads(message.data)["type"])
    assert "done" not in kinds
    assert stuck.closed
    assert stuck.close_code in (1008, 1006, None)
    await reader.close()


async def test_websocket_to_an_unknown_run_is_refused(client):
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/api/runs/12345/ws")
    assert info.value.status == 404


def test_status_message_shape():
    assert json.loads(status_message(3, "running")) == {"type": "status", "run_id": 3,
                                                        "status": "running"}
