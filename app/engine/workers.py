"""Worker processes and the pipe protocol between them and the run's owner.

A worker is `python -m app.engine.workers`. Its stdin carries JSON lines from
the owner: the plan, then `{"go": start_ns}`, later `stop` (EOF means stop too,
so a dead owner never leaves a worker running). Its stdout carries frames: a
4-byte length and a pickled message — ("ready",), ("snapshot", Snapshot),
("done", None) or ("failed", message). Anything a library prints goes to stderr.
"""
from __future__ import annotations

import asyncio
import json
import os
import pickle
import signal
import struct
import sys
import traceback
from typing import Any, BinaryIO

from app.spec import Engine, RunSpec, parse_spec

from .health import HealthProbe
from .limits import raise_nofile_limit
from .plan import WorkerPlan, now_ns
from .recorder import Recorder

_HEADER = struct.Struct("!I")


def encode_frame(message: tuple[Any, ...]) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[Any, ...] | None:
    try:
        header = await reader.readexactly(_HEADER.size)
        return pickle.loads(await reader.readexactly(_HEADER.unpack(header)[0]))
    except asyncio.IncompleteReadError:
        return None


def engine_for(spec: RunSpec):
    if spec.engine is Engine.FAST:
        from . import fast_client as module
    elif spec.engine is Engine.SYNC:
        from . import sync_client as module
    else:
        from . import aiohttp_client as module
    return module.run


async def _read_commands(stdin: asyncio.StreamReader, go: asyncio.Future, stopping: asyncio.Event) -> None:
    while line := await stdin.readline():
        if line.strip() == b"stop":
            break
        if not go.done():
            go.set_result(json.loads(line)["go"])
    stopping.set()
    if not go.done():
        go.set_result(None)


async def serve_worker(plan_msg: dict[str, Any], out: BinaryIO) -> None:
    loop = asyncio.get_running_loop()
    spec = parse_spec(plan_msg["spec"])
    run_engine = engine_for(spec)
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    stopping = asyncio.Event()
    go: asyncio.Future = loop.create_future()
    commands = asyncio.create_task(_read_commands(stdin, go, stopping))
    out.write(encode_frame(("ready",)))
    start_ns = await go
    if start_ns is None:
        return
    plan = WorkerPlan(spec, plan_msg["worker"], plan_msg["workers"], start_ns)
    recorder, probe = Recorder(), HealthProbe()
    second = 0
    last_tick = start_ns

    async def tick() -> None:
        # a busy loop may run a tick late: the snapshot then covers the real interval,
        # so rates and CPU stay right and the seconds still add up to the run's length;
        # and a late tick is not followed by an instant catch-up one (a 1 ms "second")
        nonlocal second, last_tick
        while True:
            due = max(start_ns + (second + 1) * 1_000_000_000, last_tick + 500_000_000)
            await asyncio.sleep(max(0.0, (due - now_ns()) / 1e9))
            now = now_ns()
            second += 1
            elapsed, last_tick = (now - last_tick) / 1e9, now
            out.write(encode_frame(("snapshot", recorder.snapshot(second, elapsed, probe.sample()))))

    background = [asyncio.create_task(tick()), asyncio.create_task(probe.watch_loop_lag())]
    try:
        await run_engine(plan, recorder, stopping)
    finally:
        for task in background:
            task.cancel()
        commands.cancel()
    elapsed = (now_ns() - last_tick) / 1e9
    if elapsed > 0.001 or recorder.completed:
        out.write(encode_frame(("snapshot", recorder.snapshot(second + 1, max(elapsed, 0.001),
                                                             probe.sample()))))


def main() -> None:
    # fd 1 becomes the frame channel; stray prints must not corrupt it
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    # the owner decides when to stop: a Ctrl-C or a SIGTERM sent to the whole process
    # group must reach it, not kill the workers and turn a clean stop into a failure
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise_nofile_limit()
    try:
        plan_msg = json.loads(sys.stdin.buffer.readline())
        import uvloop
        uvloop.run(serve_worker(plan_msg, out))
        out.write(encode_frame(("done", None)))
    except BrokenPipeError:
        pass
    except BaseException as exc:  # report, then die: the owner marks the run failed
        traceback.print_exc()
        try:
            out.write(encode_frame(("failed", f"{type(exc).__name__}: {exc}")))
        except OSError:
            pass
        sys.exit(1)


if __name__ == "__main__":
    main()
