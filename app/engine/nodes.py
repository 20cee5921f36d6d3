"""Per-node generator figures of a run, from its workers' own snapshots (pure).

The merged second says what the run did; this says where the generator's effort went:
per node (a Ray node, or this machine), its workers, CPU, RSS, loop lag and rate in
the last second each worker sent, and over the run. The busiest node is named: when
it is saturated, it is the bottleneck, and its seconds understate the target.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .snapshot import Snapshot

LAG_LIMIT_MS = 50.0          # as the run page's health verdict: a loop this late is saturated
SATURATED = 0.9              # of its workers' cores, or of the lag limit


@dataclass(frozen=True)
class Place:
    """Where a worker runs."""
    node: str                # the node's id (Ray's), or "local"
    host: str


@dataclass
class _Latest:
    rps: float = 0.0
    cpu_percent: float = 0.0
    rss_bytes: int = 0
    loop_lag_ms: float = 0.0


@dataclass
class _Node:
    host: str
    workers: set[int] = field(default_factory=set)
    alive: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)          # ended normally (not lost)
    latest: dict[int, _Latest] = field(default_factory=dict)
    requests: int = 0
    cpu_seconds: float = 0.0
    seconds: dict[int, float] = field(default_factory=dict)    # worker: seconds it ran
    peak_rss_bytes: int = 0
    max_loop_lag_ms: float = 0.0
    rss_sum: int = 0                 # of the live workers' latest RSS

    def saturation(self) -> float:
        if not self.alive:
            return 0.0
        cpu = sum(self.latest[w].cpu_percent for w in self.alive if w in self.latest)
        lag = max((self.latest[w].loop_lag_ms for w in self.alive if w in self.latest),
                  default=0.0)
        return max(cpu / (100.0 * len(self.alive)), lag / LAG_LIMIT_MS)


class NodeBoard:
    def __init__(self, places: dict[int, Place]):
        self._place = places
        self._nodes: dict[str, _Node] = {}
        for worker, place in places.items():
            node = self._nodes.setdefault(place.node, _Node(place.host))
            node.workers.add(worker)
            node.alive.add(worker)

    def add(self, worker: int, snap: Snapshot) -> None:
        node = self._nodes[self._place[worker].node]
        elapsed = max(snap.elapsed_s, 1e-9)
        before = node.latest.get(worker)
        # a running sum of its live workers' latest RSS: a frame costs O(1), not O(workers
        # on the node) (113 ms a second at 1,000 workers on one node, measured)
        node.rss_sum += snap.health.rss_bytes - (before.rss_bytes if before else 0)
        node.latest[worker] = _Latest(
            rps=snap.completed / elapsed, cpu_percent=100.0 * snap.health.cpu_seconds / elapsed,
            rss_bytes=snap.health.rss_bytes, loop_lag_ms=snap.health.loop_lag_ms)
        node.requests += snap.completed
        node.cpu_seconds += snap.health.cpu_seconds
        node.max_loop_lag_ms = max(node.max_loop_lag_ms, snap.health.loop_lag_ms)
        node.seconds[worker] = node.seconds.get(worker, 0.0) + snap.elapsed_s
        node.peak_rss_bytes = max(node.peak_rss_bytes, node.rss_sum)

    def ended(self, worker: int, *, lost: bool = False) -> None:
        """The worker sends no more (done, or lost): it no longer counts as running."""
        node = self._nodes[self._place[worker].node]
        if worker in node.alive and worker in node.latest:
            node.rss_sum -= node.latest[worker].rss_bytes
        node.alive.discard(worker)
        if not lost:
            node.done.add(worker)

    def busiest(self) -> str | None:
        """The node whose workers are closest to saturation, among those running."""
        running = [(node.saturation(), nid) for nid, node in self._nodes.items() if node.alive]
        return max(running)[1] if running else None

    def view(self) -> list[dict]:
        """The live panel: per node, its last second and whether it is the bottleneck."""
        busiest = self.busiest()
        out = []
        for nid, node in sorted(self._nodes.items(), key=lambda item: item[1].host + item[0]):
            latest = [node.latest[w] for w in node.alive if w in node.latest]
            saturation = node.saturation()
            out.append({
                "id": nid, "host": node.host, "workers": len(node.workers),
                "alive": len(node.alive),
                "cpu_percent": round(sum(x.cpu_percent for x in latest), 1),
                "rss_mb": round(sum(x.rss_bytes for x in latest) / 2**20, 1),
                "loop_lag_ms": round(max((x.loop_lag_ms for x in latest), default=0.0), 2),
                "rps": round(sum(x.rps for x in latest), 1),
                "busiest": nid == busiest,
                "bottleneck": nid == busiest and saturation >= SATURATED})
        return out

    def summary(self) -> dict[str, dict]:
        """Per node over the run (`--json`'s "nodes"): CPU % is its CPU time over the time
        its workers ran, summed over them (200 % is two cores busy)."""
        out = {}
        for nid, node in sorted(self._nodes.items()):
            ran = max(node.seconds.values(), default=0.0)
            out[nid] = {"host": node.host, "workers": len(node.workers),
                        "requests": node.requests,
                        "cpu_percent": round(100.0 * node.cpu_seconds / ran, 1) if ran else 0.0,
                        "peak_rss_mb": round(node.peak_rss_bytes / 2**20, 1),
                        "max_loop_lag_ms": round(node.max_loop_lag_ms, 2),
                        "lost_workers": len(node.workers - node.alive - node.done)}
        return out
