"""`python run.py [serve]`: the demo target in its own process, then the dashboard on uvloop.

Ctrl-C or SIGTERM: the dashboard stops accepting requests, the active run is stopped
(status `stopped`, every second kept), WebSocket clients get their `done`, the
database is closed and the target process is terminated; exit status 0.

Killed outright (SIGKILL, a crash), the dashboard still takes its target along: the target holds
a lifeline to it (app/target/lifeline.py). A target that outlived a dashboard anyway is stopped
at the next start if the pid file in the data directory names it (app/target/leftover.py);
anything else on the target port is named in the error, never signalled.
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil
from aiohttp import web

from app.engine.backends import Cluster, ClusterError, open_cluster
from app.target import leftover
from app.target.lifeline import Lifeline

from .app import create_app
from .settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TARGET_START_TIMEOUT_S = 10.0
TARGET_STOP_TIMEOUT_S = 5.0
SHUTDOWN_TIMEOUT_S = 5.0     # for requests still in progress once the run has stopped


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings_from_args(args: argparse.Namespace) -> tuple[Settings, bool]:
    """Settings from the command line, and whether the token was generated here.

    A non-loopback --host without --token gets a random token (printed at start):
    the dashboard starts load tests, so it is never open to the network unguarded.
    """
    token = args.token or None
    generated = False
    if token is None and not is_loopback(args.host):
        token, generated = secrets.token_urlsafe(24), True
    return Settings(host=args.host, port=args.port, db_path=args.db, token=token,
                    target_url=f"http://127.0.0.1:{args.target_port}/",
                    start_target=not args.no_target, target_port=args.target_port,
                    keep_days=args.keep_days, keep_runs=args.keep_runs,
                    ray=getattr(args, "ray", None)), generated


def serve(args: argparse.Namespace) -> int:
    settings, generated = settings_from_args(args)
    Path(settings.db_path).parent.mkdir(parents=True, exist_ok=True)
    try:
        cluster = open_cluster(settings.ray)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import uvloop
    try:
        return uvloop.run(_main(settings, generated, cluster))
    except _StartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        cluster.close()


class _StartError(Exception):
    pass


async def _main(settings: Settings, generated_token: bool, cluster: Cluster) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    target = await _start_target(settings, stop) if settings.start_target else None
    try:
        runner = web.AppRunner(create_app(settings, cluster), handle_signals=False, access_log=None,
                               shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await runner.setup()          # opens the database (cleanup contexts)
        try:
            site = web.TCPSite(runner, settings.host, settings.port)
            try:
                await site.start()
            except OSError as exc:
                raise _StartError(f"cannot listen on {settings.host}:{settings.port}: "
                                  f"{exc.strerror or exc} (try --port)") from None
            _announce(settings, generated_token, target is not None)
            await stop.wait()
            print("stopping…", flush=True)
        finally:
            await runner.cleanup()   # stops the active run (marked stopped), closes the db
    finally:
        if target is not None:
            await _stop_target(target)
    return 0


@dataclass
class _TargetProcess:
    process: subprocess.Popen
    lifeline: Lifeline                        # cut when we stop it; the kernel cuts it if we die
    pid_path: Path
    entry: leftover.TargetRecord | None       # what the pid file says, once written


async def _start_target(settings: Settings, stop: asyncio.Event) -> _TargetProcess:
    port = settings.target_port
    pid_path = leftover.pid_file(Path(settings.db_path).parent, port)
    await _stop_leftover(pid_path)
    if await _accepts(port):
        raise _StartError(_port_taken(port))
    lifeline = Lifeline.open()
    try:
        # Started from the event loop, i.e. the main thread: the target's death signal follows
        # the thread that forked it, and this one lives as long as the dashboard.
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "target", "--host", "127.0.0.1",
             "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
            env={**os.environ, **lifeline.child_env()}, pass_fds=(lifeline.read_fd,))
    except BaseException:
        lifeline.cut()
        raise
    finally:
        lifeline.close_read_end()
    target = _TargetProcess(process, lifeline, pid_path, None)
    try:
        target.entry = _record(pid_path, process, port)
        await _wait_listening(process, port, stop)
    except BaseException:
        await _stop_target(target)
        raise
    return target


def _record(pid_path: Path, process: subprocess.Popen, port: int) -> leftover.TargetRecord | None:
    try:
        return leftover.record(pid_path, psutil.Process(process.pid), port)
    except (OSError, psutil.Error):
        return None   # exited already (reported next), or an unwritable data directory


async def _wait_listening(process: subprocess.Popen, port: int, stop: asyncio.Event) -> None:
    deadline = asyncio.get_running_loop().time() + TARGET_START_TIMEOUT_S
    while not await _accepts(port):
        if process.poll() is not None:
            raise _StartError(f"the demo target exited with status {process.returncode} "
                              "(see above); use --target-port PORT or --no-target")
        if stop.is_set():
            raise _StartError("interrupted while starting")
        if asyncio.get_running_loop().time() > deadline:
            raise _StartError(f"the demo target did not listen on port {port} within "
                              f"{TARGET_START_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.05)


async def _stop_leftover(pid_path: Path) -> None:
    """Stop the target a dead dashboard left running, if the pid file names it (and only it)."""
    entry = leftover.read(pid_path)
    if entry is None:
        return
    process = leftover.recorded_target(entry)
    if process is not None:
        if not leftover.is_orphaned(process, entry):
            return   # a live dashboard's target: not ours to stop, and its pid file stays
        print(f"stopping the demo target a previous dashboard left on port {entry.port} "
              f"(pid {process.pid})", flush=True)
        await asyncio.to_thread(leftover.stop, process)
    pid_path.unlink(missing_ok=True)


def _port_taken(port: int) -> str:
    advice = "use --target-port PORT or --no-target"
    holder = leftover.holder_of(port)
    if holder is None:
        return f"port {port} is already in use, so the demo target cannot start there: {advice}"
    if holder.is_target:
        return (f"port {port} is held by a Stampede demo target left running (pid {holder.pid}: "
                f"{holder.command}); stop it with `kill {holder.pid}`, or {advice}")
    return (f"port {port} is already in use by pid {holder.pid} ({holder.command}), so the "
            f"demo target cannot start there: {advice}")


async def _accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 0.5)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    return True


async def _stop_target(target: _TargetProcess) -> None:
    process = target.process
    if process.poll() is None:
        process.terminate()
    deadline = asyncio.get_running_loop().time() + TARGET_STOP_TIMEOUT_S
    while process.poll() is None:
        if asyncio.get_running_loop().time() > deadline:
            process.kill()
            process.wait()
            break
        await asyncio.sleep(0.05)
    target.lifeline.cut()
    if target.entry is not None:
        leftover.forget(target.pid_path, target.entry)


def _announce(settings: Settings, generated_token: bool, target: bool) -> None:
    host = settings.host
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    url = f"http://{shown}:{settings.port}/"
    lines = [f"Stampede dashboard on {url}", f"  database {settings.db_path}"]
    if target:
        lines.append(f"  demo target on {settings.target_url}")
    if settings.ray:
        lines.append(f"  runs go to the Ray cluster at {settings.ray}")
    if settings.token:
        lines.append(f"  open {url}?token={settings.token}")
        if generated_token:
            lines.append("  (a random token, because --host is not a loopback address: "
                         "pass --token to choose it)")
    lines.append("Ctrl-C to stop")
    print("\n".join(lines), flush=True)
