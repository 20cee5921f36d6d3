"""`python run.py` as a user starts it: its own target process, SIGTERM mid-run."""
from __future__ import annotations

import argparse
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psutil
import pytest

from app.cli import build_parser
from app.target import leftover
from app.web.serve import is_loopback, settings_from_args
from tests.conftest import ROOT, free_port, start_process, stop_process, wait_for_port


def http(method: str, url: str, body: dict | None = None) -> tuple[int, dict | bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status, raw, kind = response.status, response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        status, raw, kind = exc.code, exc.read(), exc.headers.get_content_type()
    return status, json.loads(raw) if kind == "application/json" else raw


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(what)


def stored_run(db_path, run_id: int) -> tuple[str, int]:
    with sqlite3.connect(db_path) as conn:
        status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        samples = conn.execute("SELECT COUNT(*) FROM series WHERE run_id = ? AND span = 1",
                               (run_id,)).fetchone()[0]
    return status, samples


def test_serve_with_its_target_then_sigterm_stops_the_active_run(tmp_path):
    port, target_port = free_port(), free_port()
    db_path = tmp_path / "nested" / "stampede.sqlite"      # the folder is created
    process = start_process("--port", str(port), "--target-port", str(target_port),
                            "--db", str(db_path), stdout=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout=20, process=process)
        assert http("GET", base + "/healthz") == (200, {"ok": True, "active_run": None})
        assert http("GET", base + "/api/runs") == (200, {"runs": [], "total": 0})
        with urllib.request.urlopen(f"http://127.0.0.1:{target_port}/1?delay=0", timeout=5) as r:
            assert r.status == 200                        # the demo target answers
        targets = [c for c in psutil.Process(process.pid).children()
                   if "target" in c.cmdline()]
        assert len(targets) == 1

        status, run = http("POST", base + "/api/runs", {
            "url": f"http://127.0.0.1:{target_port}/{{i}}?delay=0-0.05", "duration": "60s",
            "concurrency": 5})
        assert status == 201, run
        wait_until(lambda: stored_run(db_path, run["id"])[1] >= 1, 20, "no second stored")

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        status, samples = stored_run(db_path, run["id"])
        assert status == "stopped" and samples >= 1
        with sqlite3.connect(db_path) as conn:
            summary = json.loads(conn.execute("SELECT summary_json FROM runs").fetchone()[0])
        assert summary["requests"] > 0
        wait_until(lambda: not targets[0].is_running() or
                   targets[0].status() == psutil.STATUS_ZOMBIE, 10, "target still running")
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", target_port), timeout=1).close()
        output = process.stdout.read()
        assert f"http://127.0.0.1:{port}/" in output
    finally:
        stop_process(process)


def test_a_busy_target_port_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        target_port = busy.getsockname()[1]
        process = start_process("--port", str(free_port()), "--target-port", str(target_port),
                                "--db", str(tmp_path / "db.sqlite"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _, err = process.communicate(timeout=20)
        finally:
            stop_process(process)
    assert process.returncode == 1
    assert "--target-port" in err and str(target_port) in err


def test_no_target_flag_starts_no_target(tmp_path):
    port, target_port = free_port(), free_port()
    process = start_process("--port", str(port), "--target-port", str(target_port),
                            "--no-target", "--db", str(tmp_path / "db.sqlite"),
                            stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=20, process=process)
        assert psutil.Process(process.pid).children() == []
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        stop_process(process)


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_settings_from_the_command_line():
    settings, generated = settings_from_args(parse())
    assert (settings.host, settings.port, settings.db_path) == ("127.0.0.1", 8080,
                                                                 "data/stampede.sqlite")
    assert settings.token is None and not generated
    assert settings.start_target and settings.target_url == "http://127.0.0.1:8081/"

    settings, _ = settings_from_args(parse("--target-port", "9001", "--no-target"))
    assert settings.target_url == "http://127.0.0.1:9001/" and not settings.start_target


def test_a_non_loopback_host_always_gets_a_token():
    settings, generated = settings_from_args(parse("--host", "0.0.0.0"))
    assert generated and settings.token and len(settings.token) >= 24
    other, _ = settings_from_args(parse("--host", "0.0.0.0"))
    assert other.token != settings.token
    settings, generated = settings_from_args(parse("--host", "192.168.1.5", "--token", "t0k"))
    assert settings.token == "t0k" and not generated
    settings, _ = settings_from_args(parse("--token", "t0k"))     # also honoured on loopback
    assert settings.token == "t0k"


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True),
                                            ("::1", True), ("127.0.0.2", True),
                                            ("0.0.0.0", False), ("::", False),
                                            ("10.0.0.1", False), ("example.com", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


# --- a dashboard that dies takes its target along; a leftover target is handled at start ---


def target_of(dashboard: subprocess.Popen) -> psutil.Process:
    return wait_until(lambda: next((c for c in psutil.Process(dashboard.pid).children()
                                    if "target" in c.cmdline()), None), 10, "no target")


def released(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def exited(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE     # its reaper may be slow
    except psutil.NoSuchProcess:
        return True


def start_dashboard(port: int, target_port: int, db_path, **kwargs) -> subprocess.Popen:
    return start_process("--port", str(port), "--target-port", str(target_port),
                         "--db", str(db_path), **kwargs)


def test_a_killed_dashboard_takes_its_target_along_and_can_start_again(tmp_path):
    port, target_port = free_port(), free_port()
    db_path = tmp_path / "stampede.sqlite"
    first = start_dashboard(port, target_port, db_path, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=20, process=first)
        wait_for_port(target_port, timeout=10)
        target = target_of(first)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        wait_until(lambda: released(target_port), 10, f"target port {target_port} still open")
        wait_until(lambda: exited(target), 10, "target still running")
    finally:
        stop_process(first)
    second = start_dashboard(port, target_port, db_path, stdout=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, timeout=20, process=second)
        with urllib.request.urlopen(f"http://127.0.0.1:{target_port}/1?delay=0", timeout=5) as r:
            assert r.status == 200
        assert (tmp_path / f"target-{target_port}.pid").exists()
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
        assert not (tmp_path / f"target-{target_port}.pid").exists()    # a clean stop forgets it
    finally:
        stop_process(second)


def orphan_target(target_port: int) -> psutil.Process:
    """A target whose starter has exited, as a crashed dashboard of an older version leaves one."""
    starter = sys.executable
    launch = ("import subprocess, sys; print(subprocess.Popen(sys.argv[1:], stdin=subprocess."
              "DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)")
    out = subprocess.run([starter, "-c", launch, starter, "run.py", "target", "--port",
                          str(target_port)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                         timeout=10, check=True).stdout
    wait_for_port(target_port, timeout=10)
    return psutil.Process(int(out))


def test_a_leftover_target_named_by_the_pid_file_is_stopped_at_start(tmp_path):
    port, target_port = free_port(), free_port()
    orphan = orphan_target(target_port)
    try:
        leftover.record(tmp_path / f"target-{target_port}.pid", orphan, target_port)
        dashboard = start_dashboard(port, target_port, tmp_path / "db.sqlite",
                                    stdout=subprocess.PIPE, text=True)
        try:
            wait_for_port(port, timeout=30, process=dashboard)
            assert exited(orphan)
            assert target_of(dashboard).pid != orphan.pid
            dashboard.send_signal(signal.SIGTERM)
            assert dashboard.wait(timeout=30) == 0
            assert f"pid {orphan.pid}" in dashboard.stdout.read()
        finally:
            stop_process(dashboard)
    finally:
        if not exited(orphan):
            orphan.kill()


def test_a_leftover_target_without_pid_file_is_named_not_killed(tmp_path):
    target_port = free_port()
    orphan = orphan_target(target_port)
    try:
        dashboard = start_dashboard(free_port(), target_port, tmp_path / "db.sqlite",
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, err = dashboard.communicate(timeout=30)
        assert dashboard.returncode == 1
        assert f"pid {orphan.pid}" in err and f"kill {orphan.pid}" in err
        assert not exited(orphan)
    finally:
        orphan.kill()


def test_a_pid_file_naming_another_process_is_never_acted_on(tmp_path):
    port, target_port = free_port(), free_port()
    other = subprocess.Popen(["sleep", "60"])
    try:
        pid_path = tmp_path / f"target-{target_port}.pid"
        pid_path.write_text(json.dumps({"pid": other.pid, "created": psutil.Process(other.pid)
                                        .create_time(), "owner_pid": 1, "port": target_port}))
        dashboard = start_dashboard(port, target_port, tmp_path / "db.sqlite",
                                    stdout=subprocess.DEVNULL)
        try:
            wait_for_port(port, timeout=30, process=dashboard)
            assert other.poll() is None                # not a target: left alone
            assert target_of(dashboard).is_running()
        finally:
            stop_process(dashboard)
    finally:
        other.kill()
        other.wait()
