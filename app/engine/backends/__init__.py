"""Where a run's workers live, behind one small interface (the owner sees only this).

A backend starts workers; a worker handle takes commands (protocol.py's JSON lines),
yields the worker's messages (its frames, decoded) until it ends, describes how it
failed, and is closed (or killed) by the owner. Local processes are the backend today
and the default; a cluster backend (Ray actors, issue #9) implements the same.
"""
from __future__ import annotations

from typing import Any, Protocol

from ..nodes import Place


class ClusterError(RuntimeError):
    """The cluster cannot be reached or used: the message says which address and why."""


class WorkerHandle(Protocol):
    index: int
    place: Place                # the node it runs on
    skew_ms: float | None       # its host's clock minus the owner's, measured at start
    start_margin_ns: int        # how far ahead the common start must be for it to make it

    def send(self, line: str) -> None:
        """A command, as one JSON line (or `stop`); never blocks, never raises."""

    async def receive(self) -> tuple[Any, ...] | None:
        """The worker's next message; None once it has ended without saying so, or
        ("lost", why) when its host or process went away (the run goes on without it)."""

    def failure_detail(self) -> str:
        """What the worker said on its way down (its last lines of stderr), or ""."""

    async def close(self, grace_s: float) -> None:
        """End the worker: it is told to stop, waited for, killed after grace_s."""

    def kill(self) -> None:
        """End it now (a start that failed)."""


class Backend(Protocol):
    name: str                   # "local" or "ray"

    async def start_worker(self, plan_json: str, index: int, workers: int) -> WorkerHandle:
        """Worker `index` of `workers`, given its plan (`{"spec", "worker", "workers"}`),
        not started yet."""


class Cluster(Protocol):
    """Where a dashboard's or a bench's runs go: this machine, or a Ray cluster."""
    name: str

    def backend(self) -> Backend:
        """What starts a run's workers there."""

    def cpus(self) -> int | None:
        """The CPUs there, for `workers: auto` (None: this machine's)."""

    def describe(self) -> dict[str, Any]:
        """`GET /api/cluster`: {"backend", "nodes": [{"id", "host", "cpus", "alive"}]}
        (may block on the cluster: call it off the event loop)."""

    def close(self) -> None:
        """Leave it (a Ray driver disconnects; actors it made end with it)."""


def open_cluster(address: str | None) -> Cluster:
    """This machine (address None), or the Ray cluster at `address` (blocking: joins it,
    or raises ClusterError within seconds when nothing answers there)."""
    if address is None:
        from .local import ThisMachine
        return ThisMachine()
    try:
        from .ray import RayCluster
    except ImportError as exc:
        raise ClusterError(f"--ray needs Ray: pip install -r requirements-cluster.txt ({exc})") \
            from None
    return RayCluster.open(address)
