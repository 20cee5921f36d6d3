"""The target dies with its parent, and its SO_REUSEPORT workers with it: real processes.

Each mechanism of app/target/lifeline.py on its own where it can be isolated: the pipe (the parent
closes its end and lives on, so no death signal is involved), and SIGKILL of the target's main
process (its workers must go too). Waits are polls with a bound, never timings.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from app.target.lifeline import Lifeline
from tests.conftest import ROOT, free_port, start_process, wait_for_port

pytestmark = pytest.mark.timeout(60)

BOUND_S = 10.0


def port_released(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE  # exited; its reaper may be slow
    except psutil.NoSuchProcess:
        return True


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + BOUND_S
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {BOUND_S:g} s")
        time.sleep(0.05)


def kill_all(processes: list[psutil.Process]) -> None:
    for process in processes:
        try:
            process.kill()  # psutil checks that the pid is still this process
        except psutil.NoSuchProcess:
            pass


@pytest.mark.parametrize("workers", [1, 2])
def test_target_stops_cleanly_when_its_parent_cuts_the_lifeline(workers: int) -> None:
    port = free_port()
    lifeline = Lifeline.open()
    env = dict(os.environ, PYTHONPATH=str(ROOT), **lifeline.child_env())
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "target", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT, env=env, pass_fds=(lifeline.read_fd,), stdout=subprocess.DEVNULL,
    )
    lifeline.close_read_end()
    try:
        wait_for_port(port, process=process)
        # the port answers once the first worker listens (SO_REUSEPORT): the others may
        # still be starting on a busy machine
        expected = workers if workers > 1 else 0
        wait_until(lambda: len(psutil.Process(process.pid).children()) >= expected,
                   "the target's workers not all started")
        workers_of = psutil.Process(process.pid).children()
        assert len(workers_of) == expected
        lifeline.cut()  # as the kernel does when the parent dies; we live on, so no death signal
        assert process.wait(BOUND_S) == 0  # a clean stop, as on SIGTERM
        wait_until(lambda: all(gone(worker) for worker in workers_of), "workers still running")
        assert port_released(port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_killing_the_target_takes_its_workers_along() -> None:
    port = free_port()
    process = start_process("target", "--port", str(port), "--workers", "2", stdout=subprocess.DEVNULL)
    workers: list[psutil.Process] = []
    try:
        wait_for_port(port, process=process)
        workers = psutil.Process(process.pid).children()
        assert len(workers) == 2
        process.send_signal(signal.SIGKILL)
        process.wait()
        wait_until(lambda: all(gone(worker) for worker in workers), "workers outlived the target")
        wait_until(lambda: port_released(port), f"port {port} still open")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        kill_all(workers)

