"""Durability (issue #8): a database that fills up or turns read-only mid-run.

The run ends `failed` with a message saying what happened to which file, its engine stops
(workers reaped), earlier runs and the pages stay served, and once the database takes writes
again the run's end is stored and a new run starts.

Real SQLite files, a real demo target, real runs. In the dashboard the database fills through
SQLite's own size limit, `PRAGMA max_page_count` (SQLITE_FULL, "database or disk is full", the
error a full disk gives), and turns read-only with `PRAGMA query_only` (SQLITE_READONLY,
"attempt to write a readonly database", as a read-only file or mount gives): both are
per-connection settings, so they are set on the dashboard's own connection. The CLI fills a
real disk: a 128 KiB tmpfs mounted in a user and mount namespace of its own.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys

import psutil
import pytest

from app.web.app import create_app
from app.web.keys import DB, MANAGER
from app.web.settings import Settings
from tests.conftest import ROOT, wait_for_status

FINAL = {"finished", "stopped", "failed"}
NO_LIMIT = 1073741823         # SQLite's largest max_page_count


def spec(target_url: str, **fields) -> dict:
    return {"url": target_url + "{i}", "concurrency": 5, **fields}


def engine_workers() -> list[psutil.Process]:
    """This test process's engine workers (the demo target's processes are not)."""
    found = []
    for child in psutil.Process(os.getpid()).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
            if "app.engine.worker_main" in " ".join(child.cmdline()):
                found.append(child)
    return found


async def until(predicate, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"{what} after {timeout} s"
        await asyncio.sleep(0.05)


async def finished_run(client, target_url: str) -> tuple[dict, list]:
    """A run that ended before the trouble, and its stored series."""
    run = await (await client.post("/api/runs", json=spec(
        target_url, requests=30, name="before"))).json()
    done = await wait_for_status(client, run["id"], FINAL)
    assert done["status"] == "finished", done["error_message"]
    series = await (await client.get(f"/api/runs/{run['id']}/series")).json()
    assert sum(s["completed"] for s in series["samples"]) == 30
    return done, series["samples"]


async def a_long_run_under_way(client, target_url: str) -> int:
    """A 30 s run, two seconds in (the first is stored by then: the writer is idle at once).
    50 in flight over 200 endpoint names: a second's record (a histogram per name) is
    past what a 64 KiB page holds inline, so every second needs a new page."""
    targets = [{"url": f"{target_url}e{k}/{{i}}", "name": f"e{k}"} for k in range(200)]
    response = await client.post("/api/runs", json={
        "targets": targets, "duration": "30s", "concurrency": 50, "name": "during"})
    assert response.status == 201
    run_id = (await response.json())["id"]
    manager = client.server.app[MANAGER]
    await until(lambda: len(manager.live_state(run_id).recent) >= 2, 10, "not two seconds in")
    assert engine_workers()
    return run_id


async def let_go(client, run_id: int) -> None:
    """The dashboard has let go of the run: nothing active, its workers reaped."""
    manager = client.server.app[MANAGER]
    await until(lambda: manager.active_id is None and manager.live_state(run_id) is None,
                8, "the run is still active")
    assert engine_workers() == []
    assert (await (await client.get("/healthz")).json())["active_run"] is None


async def still_served(client, earlier: dict, samples: list) -> None:
    """The earlier run reads as it did, and the pages answer."""
    run = await client.get(f"/api/runs/{earlier['id']}")
    assert run.status == 200 and await run.json() == earlier
    series = await client.get(f"/api/runs/{earlier['id']}/series")
    assert series.status == 200 and (await series.json())["samples"] == samples
    for page in ("/", "/runs", f"/runs/{earlier['id']}"):
        assert (await client.get(page)).status == 200, page
    listed = await (await client.get("/api/runs")).json()
    assert earlier["id"] in [r["id"] for r in listed["runs"]]


async def stored_seconds(client, run_id: int) -> list[int]:
    samples = (await (await client.get(f"/api/runs/{run_id}/series")).json())["samples"]
    return [s["second"] for s in samples]


async def a_new_run_finishes(client, target_url: str) -> None:
    response = await client.post("/api/runs", json=spec(target_url, requests=20, name="after"))
    assert response.status == 201, await response.text()
    done = await wait_for_status(client, (await response.json())["id"], FINAL, timeout=15)
    assert done["status"] == "finished", done["error_message"]
    assert done["summary"]["requests"] == 20


# -- the dashboard -------------------------------------------------------------------------

async def test_a_full_database_fails_the_run_with_a_clear_message_and_keeps_serving(
        client, target_url, settings):
    earlier, samples = await finished_run(client, target_url)
    run_id = await a_long_run_under_way(client, target_url)
    db = client.server.app[DB]
    pages = (await db.execute_fetchall("PRAGMA page_count"))[0][0]
    await db.execute(f"PRAGMA max_page_count = {pages}")       # not one page more

    await let_go(client, run_id)
    await still_served(client, earlier, samples)

    await db.execute(f"PRAGMA max_page_count = {NO_LIMIT}")   # room again
    # stored at once if the runs table's page had room for it, else on the retry
    failed = await wait_for_status(client, run_id, FINAL, timeout=5)
    assert failed["status"] == "failed"
    message = failed["error_message"]
    assert message.startswith("the database is full: second "), message
    assert f"could not be stored in {settings.db_path} " in message
    assert "free disk space" in message and "start a new run" in message
    assert failed["summary"]["requests"] > 0          # the engine's whole count
    seconds = await stored_seconds(client, run_id)
    assert seconds and seconds == list(range(1, len(seconds) + 1))
    await a_new_run_finishes(client, target_url)


async def test_a_read_only_database_fails_the_run_and_its_end_is_stored_once_writable(
        client, target_url, settings):
    earlier, samples = await finished_run(client, target_url)
    run_id = await a_long_run_under_way(client, target_url)
    db = client.server.app[DB]
    await db.execute("PRAGMA query_only = ON")

    # not even the end can be stored: the dashboard lets the run go all the same
    await let_go(client, run_id)
    await still_served(client, earlier, samples)
    refused = await client.post("/api/runs", json={"url": target_url, "requests": 5})
    assert refused.status == 503                  # the server's disk, not the client's input
    assert "read-only" in (await refused.json())["error"]
    form = await client.post("/runs", data={"url": target_url, "requests": "5",
                                            "mode": "one", "model": "closed"},
                             allow_redirects=False)
    assert form.status == 503 and "read-only" in await form.text()     # the form's page too

    await db.execute("PRAGMA query_only = OFF")
    failed = await wait_for_status(client, run_id, FINAL, timeout=5)   # retried every 2 s
    assert failed["status"] == "failed" and failed["summary"]["requests"] > 0
    message = failed["error_message"]
    assert message.startswith("the database is read-only: second "), message
    assert f"could not be stored in {settings.db_path} " in message and "writable" in message
    await a_new_run_finishes(client, target_url)


async def test_a_run_whose_end_never_got_stored_reads_interrupted_after_a_restart(
        aiohttp_client, settings, target_url):
    client = await aiohttp_client(create_app(settings))
    earlier, samples = await finished_run(client, target_url)
    run_id = await a_long_run_under_way(client, target_url)
    await client.server.app[DB].execute("PRAGMA query_only = ON")
    await let_go(client, run_id)
    await client.close()         # the dashboard stops before the database is writable again

    client = await aiohttp_client(create_app(settings))
    run = await (await client.get(f"/api/runs/{run_id}")).json()
    assert run["status"] == "interrupted"
    seconds = await stored_seconds(client, run_id)
    assert seconds and seconds == list(range(1, len(seconds) + 1))
    assert run["summary"]["requests"] > 0                     # from the seconds stored
    await still_served(client, earlier, samples)
    await a_new_run_finishes(client, target_url)


# -- the CLI -------------------------------------------------------------------------------

def _tmpfs_shell() -> list[str] | None:
    """A command that runs `sh -c SCRIPT` in a mount namespace of its own (unprivileged, as
    root of a user namespace), where the script may mount a tmpfs; None if this system
    cannot."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    command = [unshare, "--user", "--map-root-user", "--mount", "sh", "-c"]
    probe = subprocess.run([*command, "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, timeout=10)
    return command if probe.returncode == 0 else None


async def test_bench_on_a_full_disk_stops_and_exits_1_with_the_message_not_a_traceback(
        aiohttp_client, tmp_path, target_url):
    shell = _tmpfs_shell()
    if shell is None:
        pytest.skip("no unshare with user and mount namespaces to mount a small tmpfs")
    disk, kept = tmp_path / "disk", tmp_path / "kept"
    disk.mkdir()
    kept.mkdir()
    # the database (64 KiB pages), its WAL index and the WAL share 3 MiB: some seconds fit
    script = ('mount -t tmpfs -o size=3m tmpfs "$1" || exit 99\n'
              '"$3" run.py bench --targets "$4" -z 30s -c 5 --save --db "$1/runs.sqlite" --json\n'
              'code=$?\ncp "$1"/runs.sqlite* "$2"/\nexit $code')
    # 200 endpoint names: a second's record (a histogram each) takes pages of its own
    targets = tmp_path / "targets.jsonl"
    targets.write_text("".join(json.dumps({"url": f"{target_url}e{k}/{{i}}", "name": f"e{k}"})
                               + "\n" for k in range(200)))
    proc = await asyncio.create_subprocess_exec(
        *shell, script, "sh", str(disk), str(kept), sys.executable, str(targets), cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 45)     # the run was stopped early
    out, err = out.decode(), err.decode()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    message = err.strip().splitlines()[-1]
    assert message.startswith("error: the database is full: second "), err
    assert f"could not be stored in {disk}/runs.sqlite " in message and "free disk space" in message
    result = json.loads(out)
    assert result["outcome"] == "failed" and result["error"] == message.removeprefix("error: ")
    assert result["duration_s"] < 27                  # of 30

    # the run's row is honest: failed with the message or, if the end found no room either,
    # left running, which a dashboard's start turns into interrupted (as the message says)
    client = await aiohttp_client(create_app(Settings(
        db_path=str(kept / "runs.sqlite"), target_url=target_url, start_target=False)))
    run = await (await client.get(f"/api/runs/{result['run_id']}")).json()
    if run["status"] == "interrupted":
        assert "the dashboard marks it interrupted" in message
    else:
        assert run["status"] == "failed" and run["error_message"] == result["error"]
    seconds = await stored_seconds(client, run["id"])
    assert seconds and seconds == list(range(1, len(seconds) + 1))
