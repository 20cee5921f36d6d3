"""Shared fixtures: a real demo target in its own process, a temp-file database, the app.

Everything talks over real loopback sockets; nothing is mocked.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.web.app import create_app
from app.web.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def alone(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[None]:
    """Held by one of xdist's processes at a time (a lock file in the folder their temporary
    folders share): the Ray cluster's module, whose nodes take both cores, and the real runs
    whose latencies a comparison must find `same`, never overlap (a p99 of two runs of one
    spec came out `better` when the cluster started beside the first)."""
    path = tmp_path_factory.getbasetemp().parent / f"stampede-{name}.lock"
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def start_process(*args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT, env=env,
                            **kwargs)


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def target_url() -> Iterator[str]:
    """The demo target (0-50 ms per request), one process for the whole session."""
    port = free_port()
    process = start_process("target", "--host", "127.0.0.1", "--port", str(port),
                            "--delay", "0-0.05", stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, process=process)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop_process(process)


@pytest.fixture
def settings(tmp_path, target_url) -> Settings:
    return Settings(db_path=str(tmp_path / "stampede.sqlite"), target_url=target_url,
                    start_target=False)


@pytest.fixture
async def client(aiohttp_client, settings):
    """The dashboard on a real loopback socket, with a fresh database."""
    return await aiohttp_client(create_app(settings))


async def wait_for_status(client, run_id: int, statuses: set[str], timeout: float = 30.0) -> dict:
    """Poll GET /api/runs/{id} until the run's status is one of `statuses`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await client.get(f"/api/runs/{run_id}")
        run = await response.json()
        if run["status"] in statuses:
            return run
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"run {run_id} still {run['status']} after {timeout} s")
        await asyncio.sleep(0.05)
