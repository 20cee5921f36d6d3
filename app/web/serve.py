"""`python run.py [serve]`: the demo target in its own process, then the dashboard on uvloop.

Ctrl-C or SIGTERM: the dashboard stops accepting requests, the active run is stopped
(status `stopped`, every second kept), WebSocket clients get their `done`, the
database is closed and the target process is terminated; exit status 0.
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

from aiohttp import web

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
                    start_target=not args.no_target, target_port=args.target_port), generated


def serve(args: argparse.Namespace) -> int:
    settings, generated = settings_from_args(args)
    Path(settings.db_path).parent.mkdir(parents=True, exist_ok=True)
    import uvloop
    try:
        return uvloop.run(_main(settings, generated))
    except _StartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


class _StartError(Exception):
    pass


async def _main(settings: Settings, generated_token: bool) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    target = await _start_target(settings, stop) if settings.start_target else None
    try:
        runner = web.AppRunner(create_app(settings), handle_signals=False, access_log=None,
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


async def _start_target(settings: Settings, stop: asyncio.Event) -> subprocess.Popen:
    port = settings.target_port
    if await _accepts(port):
        raise _StartError(f"port {port} is already in use, so the demo target cannot start "
                          "there: use --target-port PORT or --no-target")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "target", "--host", "127.0.0.1",
         "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = asyncio.get_running_loop().time() + TARGET_START_TIMEOUT_S
    while not await _accepts(port):
        if process.poll() is not None:
            raise _StartError(f"the demo target exited with status {process.returncode} "
                              "(see above); use --target-port PORT or --no-target")
        if stop.is_set() or asyncio.get_running_loop().time() > deadline:
            await _stop_target(process)
            if stop.is_set():
                raise _StartError("interrupted while starting")
            raise _StartError(f"the demo target did not listen on port {port} within "
                              f"{TARGET_START_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.05)
    return process


async def _accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 0.5)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    return True


async def _stop_target(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
    deadline = asyncio.get_running_loop().time() + TARGET_STOP_TIMEOUT_S
    while process.poll() is None:
        if asyncio.get_running_loop().time() > deadline:
            process.kill()
            process.wait()
            break
        await asyncio.sleep(0.05)


def _announce(settings: Settings, generated_token: bool, target: bool) -> None:
    host = settings.host
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    url = f"http://{shown}:{settings.port}/"
    lines = [f"Stampede dashboard on {url}", f"  database {settings.db_path}"]
    if target:
        lines.append(f"  demo target on {settings.target_url}")
    if settings.token:
        lines.append(f"  open {url}?token={settings.token}")
        if generated_token:
            lines.append("  (a random token, because --host is not a loopback address: "
                         "pass --token to choose it)")
    lines.append("Ctrl-C to stop")
    print("\n".join(lines), flush=True)
