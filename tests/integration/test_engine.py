"""The engine against real servers on loopback: counts, classes, pacing, merging."""
import asyncio
import socket
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web

from app.engine import Outcome, start
from app.spec import parse_spec

ROOT = Path(__file__).resolve().parents[2]
ENGINES = ["aiohttp", "fast", "sync"]


async def run_to_end(spec_data):
    run = await start(parse_spec(spec_data))
    snaps = [snap async for snap in run]
    return run, snaps


@pytest.fixture
async def recorder_server(aiohttp_server):
    """Answers every path; remembers which; `?status=` chooses the status."""
    seen = Counter()

    async def handler(request):
        seen[request.path] += 1
        return web.Response(text="x" * 100, status=int(request.query.get("status", 200)))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = await aiohttp_server(app)
    server.seen = seen
    return server


@pytest.mark.parametrize("engine", ENGINES)
async def test_exact_counts_and_index_reaches_the_server(recorder_server, engine):
    url = str(recorder_server.make_url("/item/{i}"))
    run, snaps = await run_to_end({"url": url, "requests": 120, "concurrency": 7, "engine": engine})
    summary = run.summary.to_dict()
    assert run.outcome is Outcome.FINISHED
    assert summary["requests"] == 120 and summary["ok"] == 120 and summary["errors"] == 0
    assert summary["status_codes"] == {"200": 120}
    assert summary["bytes"] == 120 * 100
    assert recorder_server.seen == Counter({f"/item/{i}": 1 for i in range(120)})
    assert sum(s.completed for s in snaps) == 120
    assert [s.second for s in snaps] == list(range(1, len(snaps) + 1))


async def test_failed_responses_are_counted_apart_from_errors(recorder_server):
    url = str(recorder_server.make_url("/?status=503"))
    run, _ = await run_to_end({"url": url, "requests": 30, "concurrency": 3})
    s = run.summary.to_dict()
    assert s["failed"] == 30 and s["ok"] == 0 and s["errors"] == 0
    assert s["status_codes"] == {"503": 30} and s["error_rate"] == 1.0


async def test_multi_worker_totals_merge_exactly(recorder_server):
    url = str(recorder_server.make_url("/w/{i}"))
    run, snaps = await run_to_end({"url": url, "requests": 301, "concurrency": 9, "workers": 3})
    s = run.summary.to_dict()
    assert s["requests"] == 301 and s["status_codes"] == {"200": 301}
    assert recorder_server.seen == Counter({f"/w/{i}": 1 for i in range(301)})
    # the merged histogram holds every response of every worker
    assert run.summary.total.latency.total == 301


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_host_name_that_cannot_be_encoded_is_a_dns_failure_per_request(engine):
    # IDNA refuses the empty label while encoding: no query leaves the machine
    run, _ = await run_to_end({"url": "http://a..b/", "requests": 3, "concurrency": 1,
                               "engine": engine})
    s = run.summary.to_dict()
    assert s["error_classes"] == {"dns_failure": 3} and s["requests"] == 3


async def test_connection_refused():
    run, _ = await run_to_end({"url": f"http://127.0.0.1:{free_port()}/", "requests": 5})
    s = run.summary.to_dict()
    assert s["errors"] == 5 and s["error_classes"] == {"connection_refused": 5}
    assert "127.0.0.1" in s["error_samples"]["connection_refused"]


async def raw_server(handle):
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize("engine", ENGINES)
async def test_server_that_hangs_up_is_disconnected(engine):
    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server, port = await raw_server(handle)
    async with server:
        run, _ = await run_to_end({"url": f"http://127.0.0.1:{port}/", "requests": 4,
                                   "concurrency": 2, "engine": engine})
    assert run.summary.to_dict()["error_classes"] == {"disconnected": 4}


@pytest.mark.parametrize("engine", ENGINES)
async def test_stall_past_the_timeout_is_a_request_timeout(engine):
    async def handle(reader, writer):
        await asyncio.sleep(30)

    server, port = await raw_server(handle)
    async with server:
        run, _ = await run_to_end({"url": f"http://127.0.0.1:{port}/", "requests": 2,
                                   "concurrency": 2, "timeout": "0.5s", "engine": engine})
    assert run.summary.to_dict()["error_classes"] == {"request_timeout": 2}


async def test_garbage_is_invalid_http():
    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SPDY/9 banana\r\n\r\n")
        await writer.drain()
        writer.close()

    server, port = await raw_server(handle)
    async with server:
        run, _ = await run_to_end({"url": f"http://127.0.0.1:{port}/", "requests": 3,
                                   "concurrency": 1})
    assert run.summary.to_dict()["error_classes"] == {"invalid_http": 3}


async def test_tls_to_a_plain_server_is_a_tls_failure(recorder_server):
    url = str(recorder_server.make_url("/")).replace("http://", "https://")
    run, _ = await run_to_end({"url": url, "requests": 2, "concurrency": 1, "verify_tls": False})
    assert run.summary.to_dict()["error_classes"] == {"tls_failure": 2}


async def test_connect_timeout_when_the_backlog_is_full():
    # a listening socket that never accepts: once its backlog is full the kernel
    # drops further SYNs, so the connect itself times out
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        await asyncio.sleep(0.2)
        run, _ = await run_to_end({"url": f"http://127.0.0.1:{port}/", "requests": 2,
                                   "concurrency": 2, "connect_timeout": "0.5s", "timeout": "5s"})
    finally:
        for s in fillers:
            s.close()
        listener.close()
    summary = run.summary.to_dict()
    assert summary["error_classes"] == {"connect_timeout": 2}
    # the sample names the limit that ran out, with the spec's value
    assert summary["error_samples"] == {
        "connect_timeout": "connect timeout: no connection within 0.5 s"}


def test_too_many_open_files_when_descriptors_run_out(tmp_path):
    """Lower RLIMIT_NOFILE in a subprocess, use nearly all of it, then run the
    real aiohttp engine in that process: the connects fail with EMFILE."""
    script = textwrap.dedent("""
        import asyncio, json, os, resource, sys, time
        from aiohttp import web
        from app.engine import aiohttp_client
        from app.engine.plan import WorkerPlan
        from app.engine.recorder import Recorder
        from app.engine.snapshot import Health
        from app.spec import RunSpec

        async def main():
            app = web.Application()
            app.router.add_get("/", lambda r: web.Response(text="ok"))
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
            hog = []
            try:
                while True:
                    hog.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                pass
            for fd in hog[-6:]:      # a few free descriptors, far fewer than 40 connections
                os.close(fd)
            spec = RunSpec(url=f"http://127.0.0.1:{port}/", requests=40, concurrency=40, timeout=5)
            rec = Recorder()
            await aiohttp_client.run(WorkerPlan(spec, 0, 1, time.monotonic_ns()), rec, asyncio.Event())
            snap = rec.snapshot(1, 1.0, Health())
            print(json.dumps(snap.to_view()))
            await runner.cleanup()

        asyncio.run(main())
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    snap = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    assert snap["completed"] == 40
    assert snap["error_classes"].get("too_many_open_files", 0) > 0, snap
    assert "Too many open files" in snap["error_samples"]["too_many_open_files"]


@pytest.mark.parametrize("engine", ENGINES)
async def test_open_model_rate_is_kept(recorder_server, engine):
    url = str(recorder_server.make_url("/"))
    run, snaps = await run_to_end({"url": url, "rate": 200, "duration": "3s", "concurrency": 20,
                                   "engine": engine})
    s = run.summary.to_dict()
    assert 570 <= s["started"] <= 630, s["started"]
    # a loaded machine may wake a timer late now and then; never a systematic lag
    assert s["late_starts"] < 0.05 * s["started"]
    assert s["duration_s"] == pytest.approx(3.0, abs=0.3)


@pytest.mark.parametrize("engine", ENGINES)
async def test_coordinated_omission_is_corrected(aiohttp_server, engine):
    """At 100/s with one slot, a 1 s stall delays the ~100 requests due behind it:
    their latency from the due time shows it, service time does not."""
    async def handler(request):
        if request.match_info["i"] == "50":
            await asyncio.sleep(1.0)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{i}", handler)
    server = await aiohttp_server(app)
    run, _ = await run_to_end({"url": str(server.make_url("/{i}")), "rate": 100,
                               "requests": 250, "concurrency": 1, "engine": engine})
    s = run.summary.to_dict()
    assert s["requests"] == 250
    assert s["late_starts"] >= 80
    assert s["latency_ms"]["p90"] > 300          # corrected: the stall shows
    assert s["service_ms"]["p90"] < 100          # service time alone hides it
    assert s["latency_ms"]["p99"] > 800


async def test_duration_stop_and_snapshots_each_second(recorder_server):
    url = str(recorder_server.make_url("/"))
    run, snaps = await run_to_end({"url": url, "duration": "2s", "concurrency": 2})
    assert run.outcome is Outcome.FINISHED
    assert 2 <= len(snaps) <= 3
    assert snaps[0].elapsed_s == pytest.approx(1.0, abs=0.2) and snaps[0].completed > 0
    assert run.summary.to_dict()["duration_s"] == pytest.approx(2.0, abs=0.3)


async def test_stop_ends_the_run_as_stopped(recorder_server):
    url = str(recorder_server.make_url("/"))
    run = await start(parse_spec({"url": url, "duration": "60s", "concurrency": 2}))
    seen = 0
    async for _ in run:
        seen += 1
        if seen == 1:
            run.stop()
    assert run.outcome is Outcome.STOPPED
    assert run.summary.to_dict()["requests"] > 0
    assert run.summary.duration_s < 10
