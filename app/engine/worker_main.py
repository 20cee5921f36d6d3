"""A worker's main loop: `python -m app.engine.worker_main`.

`serve_worker` runs one worker's share of the requests with the spec's engine and sends a
snapshot each second, whatever carries its commands and frames. As a local process
(`main`), it reads its plan and commands from stdin and writes its frames to stdout
(protocol.py), and anything a library prints goes to stderr; in a Ray actor
(backends/ray.py), actor calls and a streaming generator carry them.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

from app.spec import Engine, RunSpec, parse_spec

from .health import HealthProbe
from .limits import raise_nofile_limit
from .plan import WorkerPlan, now_ns, sleep_until
from .protocol import encode_frame
from .recorder import EndpointRecorder, Recorder
from .snapshot import Snapshot

FOLD_NS = 500_000_000     # a last interval shorter than this is folded into the second before


def engine_for(spec: RunSpec):
    if spec.engine is Engine.FAST:
        from . import fast_client as module
    elif spec.engine is Engine.SYNC:
        from . import sync_client as module
    else:
        from . import aiohttp_client as module
    return module.run


class Control:
    """What the owner tells a worker, whatever carries it (a pipe, a Ray actor call): when
    to start (`go`, on this host's monotonic clock; None: never) and when to stop."""

    def __init__(self) -> None:
        self.go: asyncio.Future = asyncio.get_running_loop().create_future()
        self.stopping = asyncio.Event()

    def start_at(self, start_ns: int | None) -> None:
        if not self.go.done():
            self.go.set_result(start_ns)

    def stop(self) -> None:
        self.stopping.set()
        self.start_at(None)


async def _read_commands(stdin: asyncio.StreamReader, control: Control) -> None:
    while line := await stdin.readline():
        if line.strip() == b"stop":
            break
        control.start_at(json.loads(line)["go"])
    control.stop()


async def serve_worker(plan_msg: dict[str, Any], control: Control,
                       send: Callable[[tuple[Any, ...]], None]) -> None:
    """Run one worker's share: says ("ready",) once its plan is parsed, waits for the go,
    then sends ("snapshot", Snapshot) once a second until its engine is done."""
    spec = parse_spec(plan_msg["spec"])
    plan_msg["spec"].pop("data_csv", None)   # parsed: the text copy of a big file can go
    run_engine = engine_for(spec)
    send(("ready",))
    start_ns = await control.go
    if start_ns is None:
        return
    plan = WorkerPlan(spec, plan_msg["worker"], plan_msg["workers"], start_ns)
    names = plan.workload.names
    # per-endpoint statistics cost an append per request: only where there is more than one
    recorder = EndpointRecorder(names) if len(names) > 1 else Recorder()
    probe = HealthProbe()
    ticks = _Ticks(start_ns, recorder, probe, send)
    background = [asyncio.create_task(ticks.run()), asyncio.create_task(probe.watch_loop_lag())]
    try:
        await run_engine(plan, recorder, control.stopping)
    finally:
        for task in background:
            task.cancel()
    ticks.finish()


async def _serve_pipe(plan_msg: dict[str, Any], out: BinaryIO) -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    control = Control()
    commands = asyncio.create_task(_read_commands(stdin, control))
    try:
        await serve_worker(plan_msg, control, lambda msg: out.write(encode_frame(msg)))
    finally:
        commands.cancel()


class _Ticks:
    """Once a second, the recorder's snapshot of the second just ended goes to the owner.

    Each one is held back for FOLD_NS before it is sent: a run that ends within that
    time has its last, short interval folded into it (counts and histograms add up
    exactly), so no sample's rate or CPU % is taken over a few milliseconds. A run
    shorter than FOLD_NS is one short sample: there is nothing to fold it into.
    """

    def __init__(self, start_ns: int, recorder: Recorder, probe: HealthProbe,
                 send: Callable[[tuple[Any, ...]], None]):
        self.start_ns, self.recorder, self.probe, self.send = start_ns, recorder, probe, send
        self.second = 0
        self.last_tick = start_ns
        self.held: Snapshot | None = None

    def _take(self) -> Snapshot:
        now = now_ns()
        self.second += 1
        elapsed, self.last_tick = (now - self.last_tick) / 1e9, now
        return self.recorder.snapshot(self.second, elapsed, self.probe.sample())

    def _send(self, snap: Snapshot) -> None:
        self.send(("snapshot", snap))

    async def run(self) -> None:
        while True:
            # a busy loop may run a tick late: the snapshot then covers the real interval,
            # so rates and CPU stay right and the seconds still add up to the run's length;
            # and a late tick is not followed by an instant catch-up one
            due = max(self.start_ns + (self.second + 1) * 1_000_000_000,
                      self.last_tick + FOLD_NS)
            await sleep_until(due)
            self.held = self._take()
            await sleep_until(self.last_tick + FOLD_NS)
            held, self.held = self.held, None
            self._send(held)

    def finish(self) -> None:
        """The engine is done: send what is held, with the tail folded in, or the tail."""
        tail = self._take()
        if self.held is not None:
            self.held.extend(tail)
            self._send(self.held)
        elif tail.elapsed_s > 0.001 or tail.completed or tail.started:
            self._send(tail)

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
        uvloop.run(_serve_pipe(plan_msg, out))
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
