"""A demo target that outlived its dashboard: the pid file that names it, and who holds a port.

A target dies with its dashboard (lifeline.py). One that did not (a stuck one, or a version
without that) keeps the port, and the next dashboard could not start its own. The dashboard
records the target it starts in a pid file in the data directory; the next start stops the
process it names only if that process still is that target (same pid AND start time, so not a
reused pid, and a `run.py target` command line) and is orphaned (its parent is no longer the
dashboard that started it, so no live dashboard owns it). Anything else on the port, such as the
target of a version that wrote no pid file, is only named in the error, never signalled.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class TargetRecord:
    pid: int
    created: float  # psutil's create_time: a reused pid has another
    owner_pid: int  # the dashboard that started it
    port: int


def pid_file(data_dir: Path, port: int) -> Path:
    # one per port: dashboards sharing a data directory with other target ports do not collide
    return data_dir / f"target-{port}.pid"


def record(path: Path, process: psutil.Process, port: int) -> TargetRecord:
    entry = TargetRecord(process.pid, process.create_time(), os.getpid(), port)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(entry)) + "\n")
    temporary.replace(path)  # never a half-written file for the next start to misread
    return entry


def read(path: Path) -> TargetRecord | None:
    """The recorded target, or None when there is no file or it is not one of ours."""
    try:
        data = json.loads(path.read_text())
        return TargetRecord(int(data["pid"]), float(data["created"]), int(data["owner_pid"]), int(data["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget(path: Path, entry: TargetRecord) -> None:
    """Remove the pid file if it still names `entry` (another dashboard may have replaced it)."""
    if read(path) == entry:
        path.unlink(missing_ok=True)


def is_target_command(cmdline: list[str]) -> bool:
    """`python …/run.py target …`: how every version of the dashboard starts its target."""
    return any(Path(arg).name == "run.py" for arg in cmdline[:3]) and "target" in cmdline


def recorded_target(entry: TargetRecord) -> psutil.Process | None:
    """The recorded process if it still runs and still is that target (not a reused pid)."""
    try:
        process = psutil.Process(entry.pid)
        if (
            abs(process.create_time() - entry.created) < 0.01
            and is_target_command(process.cmdline())
            and process.status() != psutil.STATUS_ZOMBIE
        ):
            return process
    except psutil.Error:
        pass  # gone, or not ours to inspect
    return None


def is_orphaned(process: psutil.Process, entry: TargetRecord) -> bool:
    """No live dashboard owns it: its parent is no longer the one that started it."""
    try:
        return process.ppid() != entry.owner_pid
    except psutil.Error:
        return False


def stop(process: psutil.Process) -> None:
    """SIGTERM, as Ctrl-C would; SIGKILL if it does not exit in time. Only for a verified target."""
    try:
        process.terminate()  # psutil checks first that the pid still is this process
        if not _exited(process, STOP_TIMEOUT_S):
            process.kill()
            _exited(process, STOP_TIMEOUT_S)
    except psutil.NoSuchProcess:
        pass


def _exited(process: psutil.Process, timeout: float) -> bool:
    # Polled, not process.wait(): an orphan's reaper may leave it a zombie for a while, and a
    # zombie holds no port.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str
    is_target: bool  # a Stampede demo target (perhaps left by a crashed older dashboard)


def holder_of(port: int) -> Holder | None:
    """The process listening on `port`, when this user may see it (only for an error message)."""
    try:
        pids = [
            conn.pid
            for conn in psutil.net_connections(kind="tcp")
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid
        ]
        if not pids:
            return None
        process = psutil.Process(pids[0])
        is_target = is_target_command(process.cmdline())
        parent = process.parent()
        if is_target and parent is not None and is_target_command(parent.cmdline()):
            process = parent  # a forked worker: stopping the target's main process stops them all
        return Holder(process.pid, " ".join(process.cmdline()), is_target)
    except psutil.Error:
        return None
