"""The Ray backend on a real local cluster: three Ray nodes on this machine (one CPU each),
one cluster for the module. The bench and the dashboard join it as drivers of their own
(subprocesses, as a user runs them); the engine-level tests join it from this process.

Every Ray address is on loopback: RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 makes Ray take
127.0.0.1 as every node's address (set before Ray is imported, and passed on).
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

import pytest  # noqa: E402
import ray  # noqa: E402
import requests  # noqa: E402
from aiohttp import web  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from app.engine import Outcome, start  # noqa: E402
from app.engine.backends import ray as ray_backend  # noqa: E402
from app.engine.plan import now_ns  # noqa: E402
from app.spec import parse_spec  # noqa: E402
from tests.conftest import (ROOT, alone, free_port, start_process, stop_process,  # noqa: E402
                            wait_for_port)  # noqa: E402

NODES = 3
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with alone(tmp_path_factory, "heavy"):
        yield from _cluster()


def _cluster():
    # a lost node is noticed within ~2 s (the default takes ~15 s)
    config = {"health_check_period_ms": 500, "health_check_failure_threshold": 3,
              "health_check_initial_delay_ms": 0}
    c = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "include_dashboard": False, "_system_config": config})
    for _ in range(NODES - 1):
        c.add_node(num_cpus=1)
    c.wait_for_nodes()
    ray_backend.connect(c.address)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def alive_actors() -> list[dict]:
    return [a for a in ray._private.state.actors().values() if a["State"] != "DEAD"]


def wait_no_actors(timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while alive_actors():
        if time.monotonic() > deadline:
            raise AssertionError(f"actors left alive: {alive_actors()}")
        time.sleep(0.2)


def targets_file(tmp_path, target_url: str):
    """Three targets sent in sequence: each gets exactly a third of the requests."""
    path = tmp_path / "targets.jsonl"
    lines = [{"name": "ok", "url": target_url + "ok?delay=0"},
             {"name": "busy", "url": target_url + "busy?delay=0&status=503"},
             {"name": "gone", "url": target_url + "gone?delay=0&status=404"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "bench", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_bench_spreads_workers_over_the_nodes_and_counts_exactly(cluster, tmp_path, target_url):
    done = bench("--ray", cluster.address, "--targets",
                 str(targets_file(tmp_path, target_url)), "-n", "900", "-c", "6",
                 "--workers", "3", "--engine", "fast", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["outcome"] == "finished"
    assert result["requests"] == 900
    assert result["status_codes"] == {"200": 300, "503": 300, "404": 300}
    assert {name: e["requests"] for name, e in result["endpoints"].items()} == \
        {"ok": 300, "busy": 300, "gone": 300}
    assert result["backend"] == "ray" and result["lost_workers"] == []
    # one worker on each node (SPREAD), and the nodes' requests add up to the run's
    assert len(result["nodes"]) == NODES
    assert all(n["workers"] == 1 for n in result["nodes"].values())
    assert sum(n["requests"] for n in result["nodes"].values()) == 900
    assert set(result["clock_skew_ms"]) == {"0", "1", "2"}
    wait_no_actors()


def test_an_unreachable_cluster_is_a_clear_error(tmp_path, target_url):
    port = free_port()           # nothing listens there
    began = time.monotonic()
    done = bench(target_url, "-n", "1", "--ray", f"127.0.0.1:{port}", timeout=60)
    assert done.returncode == 2
    assert f"--ray 127.0.0.1:{port}: no Ray cluster answers there" in done.stderr
    assert time.monotonic() - began < 60
    serve = start_process("serve", "--ray", f"127.0.0.1:{port}", "--no-target", "--port",
                          str(free_port()), "--db", str(tmp_path / "d.sqlite"),
                          stderr=subprocess.PIPE, text=True)
    assert serve.wait(60) == 2
    assert "no Ray cluster answers there" in serve.stderr.read()


def _serve(cluster, tmp_path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = start_process("serve", "--ray", cluster.address, "--no-target", "--port",
                            str(port), "--db", str(tmp_path / "dash.sqlite"),
                            stdout=subprocess.DEVNULL)
    wait_for_port(port, timeout=60, process=process)
    return process, f"http://127.0.0.1:{port}"


def _wait(base: str, run_id: int, statuses: set[str], timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = requests.get(f"{base}/api/runs/{run_id}", timeout=10).json()
        if run["status"] in statuses:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
        time.sleep(0.2)


def test_dashboard_runs_on_the_cluster_and_stop_ends_every_actor(cluster, tmp_path, target_url):
    process, base = _serve(cluster, tmp_path)
    try:
        where = requests.get(f"{base}/api/cluster", timeout=10).json()
        assert where["backend"] == "ray"
        assert len(where["nodes"]) == NODES
        assert all(n["alive"] and n["cpus"] == 1 and n["host"] for n in where["nodes"])

        # workers: auto is one per CPU of the cluster
        created = requests.post(f"{base}/api/runs", timeout=30, json={
            "url": target_url + "?delay=0", "requests": 600, "concurrency": 6,
            "workers": "auto", "engine": "fast"}).json()
        assert created["spec"]["workers"] == NODES
        run = _wait(base, created["id"], {"finished", "failed", "stopped"})
        assert run["status"] == "finished", run.get("error")
        summary = run["summary"]
        assert summary["requests"] == 600 and summary["status_codes"] == {"200": 600}
        assert len(summary["nodes"]) == NODES
        series = requests.get(f"{base}/api/runs/{created['id']}/series?step=1", timeout=30).json()
        assert sum(s["completed"] for s in series["samples"]) == 600

        # a long run, stopped: it ends `stopped`, and no actor outlives it
        created = requests.post(f"{base}/api/runs", timeout=30, json={
            "url": target_url, "duration": "120s", "concurrency": 3, "workers": 3,
            "engine": "fast"}).json()
        _wait(base, created["id"], {"running"})
        deadline = time.monotonic() + 60
        while not requests.get(f"{base}/api/runs/{created['id']}/window",
                               timeout=10).json()["summary"]["requests"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        requests.post(f"{base}/api/runs/{created['id']}/stop", timeout=30)
        run = _wait(base, created["id"], {"finished", "failed", "stopped"})
        assert run["status"] == "stopped"
        wait_no_actors()
    finally:
        stop_process(process)


def test_a_dashboard_that_dies_leaves_no_actors(cluster, tmp_path, target_url):
    process, base = _serve(cluster, tmp_path)
    try:
        created = requests.post(f"{base}/api/runs", timeout=30, json={
            "url": target_url, "duration": "120s", "concurrency": 3, "workers": 3,
            "engine": "fast"}).json()
        _wait(base, created["id"], {"running"})
        deadline = time.monotonic() + 60
        while len(alive_actors()) < 3:
            assert time.monotonic() < deadline, "the run's actors never came up"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    wait_no_actors()


async def test_the_workers_start_together_at_the_agreed_instant(cluster):
    """One connection per worker: the first request on each connection is its worker's
    first. None comes before the instant the owner set, and all come in second 1, though
    the actors became ready one after the other."""
    firsts: dict[object, int] = {}

    async def handler(request: web.Request) -> web.Response:
        firsts.setdefault(request.transport, now_ns())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        spec = parse_spec({"url": f"http://127.0.0.1:{port}/", "requests": 300,
                           "concurrency": 3, "workers": 3, "engine": "fast"})
        run = await start(spec, ray_backend.RayBackend())
        async for _ in run:
            pass
        assert run.outcome is Outcome.FINISHED, run.error
        assert run.summary.total.completed == 300
        assert len(firsts) == 3
        assert all(run.start_ns <= t < run.start_ns + 1_000_000_000 for t in firsts.values())
    finally:
        await runner.cleanup()


async def test_a_node_lost_mid_run_is_reported_and_the_run_goes_on(cluster, target_url):
    spec = parse_spec({"url": target_url + "?delay=0", "duration": "8s", "concurrency": 6,
                       "workers": 3, "engine": "fast"})
    run = await start(spec, ray_backend.RayBackend())
    lost_live: list[dict] = []
    run.on_lost = lost_live.append
    places = {w.index: w.handle.place.node for w in run._workers}
    head = cluster.head_node.node_id
    victim_index, victim_node = next((i, n) for i, n in places.items() if n != head)
    node = next(n for n in cluster.list_all_nodes() if n.node_id == victim_node)
    seconds = []
    try:
        async for snap in run:
            seconds.append(snap)
            if snap.second == 2:
                await asyncio.to_thread(cluster.remove_node, node)
    finally:
        cluster.add_node(num_cpus=1)          # the next tests have their three nodes again
    assert run.outcome is Outcome.FINISHED, run.error
    result = run.result()
    assert [(e["worker"], e["node"]) for e in result["lost_workers"]] == \
        [(victim_index, victim_node)]
    assert lost_live == result["lost_workers"]
    assert result["lost_workers"][0]["second"] >= 2
    # the others went on to the end, and the totals are the stored seconds' exact sum
    assert seconds[-1].second >= 7
    assert sum(s.completed for s in seconds) == result["requests"]
    assert sum(Counter(s.status_codes)[200] for s in seconds) == result["status_codes"]["200"]
    wait_no_actors()


async def test_the_dashboard_shows_a_lost_node_live_and_keeps_it(cluster, tmp_path, target_url):
    import aiohttp
    process, base = _serve(cluster, tmp_path)
    head = cluster.head_node.node_id
    removed = None
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/api/runs", json={
                    "url": target_url + "?delay=0", "duration": "10s", "concurrency": 3,
                    "workers": 3, "engine": "fast"}) as response:
                run_id = (await response.json())["id"]
            events = []
            async with http.ws_connect(f"{base}/api/runs/{run_id}/ws") as ws:
                async for message in ws:
                    msg = json.loads(message.data)
                    if msg["type"] == "snapshot" and removed is None and msg["sample"]["second"] >= 2:
                        nodes = [n["id"] for n in msg["nodes"]]
                        assert len(nodes) == NODES
                        removed = next(n for n in cluster.list_all_nodes()
                                       if n.node_id in nodes and n.node_id != head)
                        await asyncio.to_thread(cluster.remove_node, removed)
                    elif msg["type"] == "event":
                        events.append(msg)
                    elif msg["type"] == "done":
                        done = msg
                        break
        assert [(e["kind"], e["event"]["node"]) for e in events] == \
            [("lost_worker", removed.node_id)]
        assert done["status"] == "finished"
        assert [w["node"] for w in done["summary"]["lost_workers"]] == [removed.node_id]
        stored = requests.get(f"{base}/api/runs/{run_id}", timeout=10).json()
        assert stored["summary"]["lost_workers"] == done["summary"]["lost_workers"]
    finally:
        stop_process(process)
        if removed is not None:
            cluster.add_node(num_cpus=1)
    wait_no_actors()


@pytest.mark.parametrize("engine, model", [("fast", "open"), ("aiohttp", "ramp"), ("fast", "closed")])
async def test_measurement_invariants_hold_across_the_nodes(cluster, engine, model):
    """test_invariants' checks on Ray workers, three of them on three nodes: nothing sent
    before it is due (the wall-clock start turned into each node's monotonic clock),
    latency >= service >= 0, the seconds adding up exactly to the summary, latency only with
    responses, real intervals, in-flight within the concurrency."""
    from tests.integration import test_invariants as inv
    target = inv._Target("mixed")
    server = await asyncio.get_running_loop().create_server(
        lambda: inv._Protocol(target), "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/{{i}}"
        spec = parse_spec({**inv._spec(engine, model, url), "workers": 3})
        run = await start(spec, ray_backend.RayBackend())
        snaps = [snap async for snap in run]
        assert run.outcome is Outcome.FINISHED, run.error
        assert len({w.handle.place.node for w in run._workers}) == NODES
        summary = run.summary.to_dict()
        inv._check_nothing_sent_early(spec, run.start_ns, target)
        inv._check_latency_covers_service(run.summary.total)
        for snap in snaps:
            inv._check_latency_covers_service(snap)
        inv._check_samples_add_up(snaps, run.summary.total, summary)
        inv._check_latency_only_with_responses(snaps, summary)
        inv._check_intervals(snaps, summary)
        inv._check_in_flight(snaps, summary, model, "mixed")
    finally:
        server.close()
    wait_no_actors()
