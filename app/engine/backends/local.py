"""Workers as local processes: `python -m app.engine.worker_main`, commands on its
stdin, frames on its stdout, its stderr kept for the failure message. EOF on stdin
stops a worker, so a dead owner never leaves one running."""
from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import socket
import sys
from pathlib import Path
from typing import Any

from ..nodes import Place
from ..protocol import read_frame

LOCAL = "local"

_ROOT = Path(__file__).resolve().parents[3]


class LocalWorker:
    skew_ms = None              # one host, one clock
    start_margin_ns = 0

    def __init__(self, index: int, process: asyncio.subprocess.Process):
        self.index = index
        self.place = Place(LOCAL, socket.gethostname())
        self.process = process
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._drain = asyncio.ensure_future(self._drain_stderr())

    async def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self._stderr_tail.append(line.decode(errors="replace").rstrip())

    def send(self, line: str) -> None:
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            with contextlib.suppress(ConnectionError, RuntimeError):
                stdin.write(line.encode() + b"\n")

    async def receive(self) -> tuple[Any, ...] | None:
        return await read_frame(self.process.stdout)

    def failure_detail(self) -> str:
        return " | ".join(list(self._stderr_tail)[-3:])

    async def close(self, grace_s: float) -> None:
        proc = self.process
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), grace_s)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await self._drain

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()


class LocalBackend:
    name = LOCAL

    async def start_worker(self, plan_json: str, index: int, workers: int) -> LocalWorker:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.engine.worker_main", cwd=str(_ROOT),
            env=dict(os.environ, PYTHONPATH=str(_ROOT)),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=2**24)
        worker = LocalWorker(index, process)
        worker.send(plan_json)
        return worker


class ThisMachine:
    """Runs go to local processes: the default, with nothing extra installed."""
    name = LOCAL

    def backend(self) -> LocalBackend:
        return LocalBackend()

    def cpus(self) -> int | None:
        return None

    def describe(self) -> dict:
        return {"backend": LOCAL, "nodes": [{"id": LOCAL, "host": socket.gethostname(),
                                             "cpus": os.cpu_count() or 1, "alive": True}]}

    def close(self) -> None:
        pass
