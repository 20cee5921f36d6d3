"""Where a run's workers live, behind one small interface (the owner sees only this).

A backend starts workers; a worker handle takes commands (protocol.py's JSON lines),
yields the worker's messages (its frames, decoded) until it ends, describes how it
failed, and is closed (or killed) by the owner. Local processes are the backend today
and the default; a cluster backend (Ray actors, issue #9) implements the same.
"""
from __future__ import annotations

from typing import Any, Protocol


class WorkerHandle(Protocol):
    index: int

    def send(self, line: str) -> None:
        """A command, as one JSON line (or `stop`); never blocks, never raises."""

    async def receive(self) -> tuple[Any, ...] | None:
        """The worker's next message; None once it has ended without saying so."""

    def failure_detail(self) -> str:
        """What the worker said on its way down (its last lines of stderr), or ""."""

    async def close(self, grace_s: float) -> None:
        """End the worker: it is told to stop, waited for, killed after grace_s."""

    def kill(self) -> None:
        """End it now (a start that failed)."""


class Backend(Protocol):
    async def start_worker(self, plan_json: str, index: int) -> WorkerHandle:
        """A worker given its plan (`{"spec", "worker", "workers"}`), not started yet."""
