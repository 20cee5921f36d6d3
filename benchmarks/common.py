"""Shared helpers for the benchmark scripts: free ports, pinned processes, targets."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(core: int | None, argv: list[str]) -> list[str]:
    """Prefix argv with taskset when asked and available: target and client on
    different cores, so neither steals the other's CPU."""
    if core is None or not shutil.which("taskset"):
        return argv
    return ["taskset", "-c", str(core), *argv]


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port}")


@contextlib.contextmanager
def _serving(argv: list[str], port: int) -> Iterator[str]:
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(10)


def builtin_target(delay: str = "0-0", core: int | None = 0, workers: int = 1):
    port = free_port()
    return _serving(pinned(core, [PYTHON, "run.py", "target", "--port", str(port),
                                  "--delay", delay, "--workers", str(workers)]), port)


@contextlib.contextmanager
def nginx_target(core: int | None = 0) -> Iterator[str]:
    """nginx-light answering 1,000 bytes from memory: a target far faster than any client here."""
    nginx = nginx_path()
    if nginx is None:
        raise RuntimeError("nginx is not installed (apt-get install -y nginx-light)")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp, "nginx.conf")
        conf.write_text(f"""
worker_processes 1; daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 20000; }}
http {{ access_log off; keepalive_requests 100000000;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "{"x" * 1000}"; }} }} }}
""")
        with _serving(pinned(core, [nginx, "-c", str(conf), "-p", tmp]), port) as url:
            yield url


def nginx_path() -> str | None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return nginx if os.path.exists(nginx) else None


@contextlib.contextmanager
def fastest_target(core: int | None = 0) -> Iterator[tuple[str, str]]:
    """(url, name): nginx when installed, else the built-in target with no delay."""
    if nginx_path():
        with nginx_target(core) as url:
            yield url, "nginx (1 worker)"
    else:
        with builtin_target("0-0", core) as url:
            yield url, "built-in target, delay 0"


def bench_json(url: str, *args: str, core: int | None = 1) -> tuple[dict, float]:
    """Run `run.py bench --json`; return its result and the wall time of the command."""
    t0 = time.monotonic()
    out = subprocess.run(pinned(core, [PYTHON, "run.py", "bench", url, "--json", *args]),
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout), time.monotonic() - t0
