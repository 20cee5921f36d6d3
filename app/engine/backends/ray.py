"""Workers as Ray actors, spread over a cluster's nodes (issue #9).

Each worker is an async actor that runs the same loop as a local worker process
(worker_main.serve_worker) on a thread of its own under uvloop: Ray runs an async
actor's methods on an asyncio loop of its own (not uvloop, and shared with Ray's
calls), so the hot loop gets its own, and the actor's loop only relays. Commands
(the start instant, stop) are actor calls; frames come back through a streaming
generator, one object a message (a second's snapshot, pickled as on the pipe).

Time: the owner picks one start instant on the wall clock, and each actor turns it
into its own host's monotonic clock; hosts are assumed NTP-synced (a few ms apart).
Each worker's skew is measured at start (the best of a few round trips, as NTP does)
and kept in the summary (`clock_skew_ms`).

Faults: an actor whose node or process dies ends its generator with an ActorDiedError:
the worker is reported lost and the run goes on. Actors are not detached: they belong
to the process that made them, and Ray ends them when it exits, however it exits.

Ray is imported here only: without --ray nothing needs it (requirements-cluster.txt).
"""
from __future__ import annotations

import asyncio
import contextlib
import pickle
import socket
import threading
import time
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError, RayTaskError

from ..nodes import Place
from ..plan import now_ns
from . import ClusterError

CONNECT_TIMEOUT_S = 5.0          # an unreachable cluster is an error this soon, not a hang
INIT_TIMEOUT_S = 60.0
CLOCK_ROUNDS = 5
START_MARGIN_NS = 250_000_000    # the start instant is this far ahead, plus round trips
BACKPRESSURE_FRAMES = 30         # unread frames an actor may have in flight (30 s of seconds)

_APP = Path(__file__).resolve().parents[2]      # the `app` package, shipped to the cluster


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast on an address nothing listens on: ray.init would retry for minutes."""
    if address == "auto":
        return                  # ray.init finds the local cluster, or says at once there is none
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise ClusterError(f"--ray {address}: give auto, HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host, port), timeout_s):
            pass
    except OSError as exc:
        raise ClusterError(f"--ray {address}: no Ray cluster answers there "
                           f"({exc.strerror or exc}); is `ray start --head` running?") from None


def connect(address: str) -> None:
    """Join the cluster as a driver (blocking; once per process)."""
    check_reachable(address)
    if ray.is_initialized():
        return
    try:
        ray.init(address=address, runtime_env={"py_modules": [str(_APP)]},
                 log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"--ray {address}: {exc}") from None


class RayCluster:
    """A Ray cluster this process has joined as a driver."""
    name = "ray"

    DESCRIBE_TTL_S = 5.0        # a hung head must not pile up one thread a page view

    def __init__(self, address: str):
        self.address = address
        self._described: tuple[float, dict[str, Any]] | None = None
        self._describing = threading.Lock()

    @classmethod
    def open(cls, address: str) -> RayCluster:
        connect(address)
        return cls(address)

    def backend(self) -> RayBackend:
        return RayBackend(self.cpus())

    def cpus(self) -> int | None:
        """The live nodes' CPUs, from the cached description: a spec is parsed on every
        form preview, and each asked the cluster before."""
        return sum(n["cpus"] for n in self.describe()["nodes"] if n["alive"])

    def describe(self) -> dict[str, Any]:
        """Asked at most once every DESCRIBE_TTL_S, by one thread at a time: the others
        wait for its answer."""
        with self._describing:
            if self._described and time.monotonic() - self._described[0] < self.DESCRIBE_TTL_S:
                return self._described[1]
            view = {**cluster_view(), "address": self.address}
            self._described = (time.monotonic(), view)
            return view

    def close(self) -> None:
        ray.shutdown()


def cluster_view() -> dict[str, Any]:
    """`GET /api/cluster`'s answer: every node Ray knows, alive or not."""
    nodes = [{"id": n["NodeID"], "host": n.get("NodeManagerHostname") or n["NodeManagerAddress"],
              "address": n["NodeManagerAddress"], "cpus": int(n["Resources"].get("CPU", 0)),
              "alive": bool(n["Alive"])} for n in ray.nodes()]
    return {"backend": "ray", "nodes": nodes}


def cluster_cpus() -> int:
    return int(ray.cluster_resources().get("CPU", 0))


@ray.remote(max_restarts=0, max_task_retries=0)
class WorkerActor:
    """One worker: the loop runs on its own thread; these methods only relay."""

    def __init__(self) -> None:
        from ..limits import raise_nofile_limit
        raise_nofile_limit()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._control = None

    def where(self) -> tuple[str, str]:
        return ray.get_runtime_context().get_node_id(), socket.gethostname()

    def clock(self) -> int:
        return time.time_ns()

    # an owner that falls behind (Ray's receive costs it ~0.3 ms a frame: benchmarks/cluster.py)
    # makes the actor wait after this many unread frames, so they wait in the actors'
    # memory, spread over the cluster, not all in the owner's
    @ray.method(num_returns="streaming", _generator_backpressure_num_objects=BACKPRESSURE_FRAMES)
    async def run(self, plan_json: str):
        """The worker's messages, pickled, one object each; it ends after done/failed."""
        from ..worker_main import Control, serve_worker
        import json
        relay = asyncio.get_running_loop()
        out: asyncio.Queue = asyncio.Queue()
        ready = threading.Event()

        def send(msg: tuple[Any, ...]) -> None:
            relay.call_soon_threadsafe(out.put_nowait, pickle.dumps(msg, pickle.HIGHEST_PROTOCOL))

        async def main() -> None:
            self._loop, self._control = asyncio.get_running_loop(), Control()
            ready.set()
            await serve_worker(json.loads(plan_json), self._control, send)

        def thread() -> None:
            import uvloop
            try:
                uvloop.run(main())
                send(("done", None))
            except BaseException as exc:    # report, then end: the owner fails the run
                tail = traceback.format_exc().strip().splitlines()[-3:]
                send(("failed", f"{type(exc).__name__}: {exc} ({' | '.join(tail)})"))
            finally:
                ready.set()
                relay.call_soon_threadsafe(out.put_nowait, None)

        threading.Thread(target=thread, name="stampede-worker", daemon=True).start()
        await relay.run_in_executor(None, ready.wait)   # commands find a Control from now on
        while (item := await out.get()) is not None:
            yield item

    def command(self, line: str) -> None:
        loop, control = self._loop, self._control
        if loop is None or control is None or loop.is_closed():
            return
        if line == "stop":
            loop.call_soon_threadsafe(control.stop)
            return
        import json
        wall = json.loads(line)["wall"]
        # the owner's wall-clock instant on this host's monotonic clock
        loop.call_soon_threadsafe(control.start_at, now_ns() + (wall - time.time_ns()))


class RayWorker:
    def __init__(self, index: int, actor, plan_json: str):
        self.index = index
        self.actor = actor
        self.place = Place("?", "?")
        self.skew_ms: float | None = None
        self.start_margin_ns = START_MARGIN_NS
        self._messages = actor.run.remote(plan_json)
        self._ended = asyncio.Event()
        self._detail = ""

    async def _measure(self) -> None:
        """Where it runs, and its clock against ours: the round trip with the least
        delay bounds the error best (its half)."""
        node, host = await self.actor.where.remote()
        self.place = Place(node, host)
        best = None
        for _ in range(CLOCK_ROUNDS):
            sent = time.time_ns()
            theirs = await self.actor.clock.remote()
            back = time.time_ns()
            if best is None or back - sent < best[0]:
                best = (back - sent, theirs - (sent + back) // 2)
        assert best is not None
        self.skew_ms = round(best[1] / 1e6, 3)
        self.start_margin_ns = START_MARGIN_NS + 4 * best[0]

    def send(self, line: str) -> None:
        with contextlib.suppress(Exception):     # a dead actor: its generator says so
            self.actor.command.remote(line)

    async def receive(self) -> tuple[Any, ...] | None:
        try:
            ref = await self._messages.__anext__()
            msg = pickle.loads(await ref)
        except StopAsyncIteration:
            msg = None
        except (ActorDiedError, ActorUnavailableError, RayActorError) as exc:
            msg = ("lost", _first_line(exc))
        except RayTaskError as exc:
            msg = ("failed", _first_line(exc))
        if msg is not None and msg[0] == "ready" and self.skew_ms is None:
            await self._measure()
        if msg is None or msg[0] in ("done", "failed", "lost"):
            self._ended.set()
        return msg

    def failure_detail(self) -> str:
        return self._detail

    async def close(self, grace_s: float) -> None:
        if not self._ended.is_set():
            self.send("stop")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._ended.wait(), grace_s)
        self.kill()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            ray.kill(self.actor, no_restart=True)


class RayBackend:
    name = "ray"

    def __init__(self, cpus: int | None = None):
        self._cpus = cpus              # the cluster's, asked once a run if not given

    async def start_worker(self, plan_json: str, index: int, workers: int) -> RayWorker:
        # one CPU an actor while they fit, so Ray spreads them one a core; more workers
        # than CPUs share them rather than wait for CPUs that never come
        if self._cpus is None:
            self._cpus = cluster_cpus()
        cpus_each = min(1.0, max(1, self._cpus) / max(1, workers))
        actor = WorkerActor.options(num_cpus=cpus_each, scheduling_strategy="SPREAD").remote()
        return RayWorker(index, actor, plan_json)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
