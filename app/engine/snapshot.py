"""Per-second snapshots and the run summary, with their exact merge (pure).

A Snapshot is what one worker saw during one second of a run; merging the
snapshots of several workers for the same second, or of all seconds of a run,
adds counters and histograms — nothing is averaged.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .histogram import Histogram

# points of the percentile curve, dense in the tail (plotted against 1/(1-p))
CURVE_PERCENTILES = (0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99,
                     99.999, 100.0)


@dataclass
class Health:
    """Generator health. Merged across workers: CPU and RSS add up, lag takes the worst.
    CPU % is not kept: it is derived from CPU seconds over the snapshot's own interval,
    so it can never be taken over an interval other than the sample's."""
    rss_bytes: int = 0
    loop_lag_ms: float = 0.0
    cpu_seconds: float = 0.0      # CPU time used in the interval: what totals add up

    def merge(self, other: Health) -> Health:
        return Health(self.rss_bytes + other.rss_bytes, max(self.loop_lag_ms, other.loop_lag_ms),
                      self.cpu_seconds + other.cpu_seconds)


@dataclass
class Snapshot:
    second: int                      # 1-based index of the second since the run started
    elapsed_s: float                 # length of the interval this covers (< 1 for the last one)
    started: int = 0                 # requests sent in this second
    completed: int = 0               # responses + transport errors
    ok: int = 0                      # responses with status < 400
    failed: int = 0                  # responses with status >= 400
    errors: int = 0                  # transport errors (no response)
    bytes_received: int = 0
    in_flight: int = 0               # at the end of the second
    max_in_flight: int = 0           # peak during the second (workers: sum of their peaks)
    late_starts: int = 0             # open model: requests that could not start when due
    status_codes: Counter[int] = field(default_factory=Counter)
    error_classes: Counter[str] = field(default_factory=Counter)
    error_samples: dict[str, str] = field(default_factory=dict)
    latency: Histogram = field(default_factory=Histogram)   # from due time (open) / send (closed)
    service: Histogram = field(default_factory=Histogram)   # from the actual send
    health: Health = field(default_factory=Health)
    # per named target, for runs with several (empty otherwise): they split the totals
    endpoints: dict[str, EndpointStats] = field(default_factory=dict)

    def merge(self, other: Snapshot) -> None:
        """Add another worker's snapshot of the same second into this one."""
        self.elapsed_s = max(self.elapsed_s, other.elapsed_s)
        self._add_counts(other)
        self.in_flight += other.in_flight
        # each worker's peak is exact; their sum bounds the simultaneous peak from above
        # and stays within the total concurrency, since each stays within its share
        self.max_in_flight += other.max_in_flight
        self.health = self.health.merge(other.health)

    def extend(self, later: Snapshot) -> None:
        """Append the interval right after this one (same worker or merged stream): how a
        run's last, short interval is folded into the second before it, so that no
        sample's rate or CPU % is taken over a few milliseconds; and how seconds merge
        into the minutes and hours of a long run's series (app/engine/series.py). RSS
        is the peak over the intervals, as a summary's is."""
        self._add_counts(later)
        self.elapsed_s += later.elapsed_s
        self.in_flight = later.in_flight                     # a level: the later one holds
        self.max_in_flight = max(self.max_in_flight, later.max_in_flight)
        self.health = Health(max(self.health.rss_bytes, later.health.rss_bytes),
                             max(self.health.loop_lag_ms, later.health.loop_lag_ms),
                             self.health.cpu_seconds + later.health.cpu_seconds)

    def _add_counts(self, other: Snapshot) -> None:
        self.started += other.started
        self.completed += other.completed
        self.ok += other.ok
        self.failed += other.failed
        self.errors += other.errors
        self.bytes_received += other.bytes_received
        self.late_starts += other.late_starts
        self.status_codes.update(other.status_codes)
        self.error_classes.update(other.error_classes)
        for cls, msg in other.error_samples.items():
            self.error_samples.setdefault(cls, msg)
        self.latency.add(other.latency)
        self.service.add(other.service)
        merge_endpoints(self.endpoints, other.endpoints)

    def to_view(self) -> dict[str, Any]:
        """JSON-ready view for the pages (histograms as rounded percentiles): for display,
        never to rebuild from (the exact record is app/engine/record.py's)."""
        return {
            "second": self.second, "elapsed_s": round(self.elapsed_s, 3),
            "started": self.started, "completed": self.completed, "ok": self.ok,
            "failed": self.failed, "errors": self.errors,
            "bytes": self.bytes_received, "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight, "late_starts": self.late_starts,
            "rps": _rate(self.responses, self.elapsed_s),
            "status_codes": {str(k): v for k, v in sorted(self.status_codes.items())},
            "error_classes": dict(self.error_classes),
            "error_samples": dict(self.error_samples),
            "latency_ms": latency_view(self.latency, ("mean", "p50", "p90", "p99", "p999", "max")),
            "service_ms": latency_view(self.service, ("p50", "p99", "max")),
            "endpoints": {name: e.second_view(self.elapsed_s)
                          for name, e in sorted(self.endpoints.items())},
            "health": {"cpu_percent": round(self.cpu_percent, 1),
                       "rss_mb": round(self.health.rss_bytes / 2**20, 1),
                       "loop_lag_ms": round(self.health.loop_lag_ms, 2),
                       "cpu_s": round(self.health.cpu_seconds, 4)},
        }

    @property
    def cpu_percent(self) -> float:
        """Of one core (200 means two cores busy), over this snapshot's interval."""
        return 100.0 * self.health.cpu_seconds / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def responses(self) -> int:
        """Requests answered with any status; transport errors are not responses."""
        return self.ok + self.failed

    @classmethod
    def from_stored(cls, data: dict[str, Any], latency: Histogram, service: Histogram) -> Snapshot:
        """Rebuild from `to_view()` output plus the stored histograms (how seconds were
        stored before migration 0005; kept for it)."""
        h = data.get("health", {})
        return cls(
            second=data["second"], elapsed_s=data["elapsed_s"], started=data["started"],
            completed=data["completed"], ok=data["ok"], failed=data["failed"],
            errors=data["errors"], bytes_received=data["bytes"], in_flight=data["in_flight"],
            max_in_flight=data.get("max_in_flight", data["in_flight"]),
            late_starts=data["late_starts"],
            status_codes=Counter({int(k): v for k, v in data["status_codes"].items()}),
            error_classes=Counter(data["error_classes"]),
            error_samples=dict(data["error_samples"]),
            latency=latency, service=service,
            # per endpoint, a stored second keeps counts, not histograms: a summary rebuilt
            # from stored seconds (an interrupted run) has exact counts and no latency
            endpoints={name: EndpointStats(ok=e["ok"], failed=e["failed"], errors=e["errors"])
                       for name, e in data.get("endpoints", {}).items()},
            health=Health(int(h.get("rss_mb", 0.0) * 2**20), h.get("loop_lag_ms", 0.0),
                          h.get("cpu_s", h.get("cpu_percent", 0.0) / 100.0 * data["elapsed_s"])),
        )


@dataclass
class Summary:
    """Whole-run totals, built by adding every second's snapshot."""
    duration_s: float = 0.0
    total: Snapshot = field(default_factory=lambda: Snapshot(second=0, elapsed_s=0.0))
    peak_rss_bytes: int = 0
    cpu_seconds: float = 0.0
    max_loop_lag_ms: float = 0.0
    max_in_flight: int = 0

    def add(self, snap: Snapshot) -> None:
        elapsed = snap.elapsed_s
        in_flight = snap.in_flight
        self.total.merge(snap)
        self.total.in_flight = in_flight   # a level, not a flow: keep the latest
        self.duration_s += elapsed
        self.peak_rss_bytes = max(self.peak_rss_bytes, snap.health.rss_bytes)
        self.cpu_seconds += snap.health.cpu_seconds
        self.max_loop_lag_ms = max(self.max_loop_lag_ms, snap.health.loop_lag_ms)
        self.max_in_flight = max(self.max_in_flight, snap.max_in_flight)

    @classmethod
    def of(cls, snapshots: Iterable[Snapshot]) -> Summary:
        """The exact summary of these seconds (in order): histograms added, never averaged."""
        summary = cls()
        for snap in snapshots:
            summary.add(snap)
        return summary

    def to_dict(self) -> dict[str, Any]:
        t = self.total
        duration = self.duration_s
        return {
            "requests": t.completed, "started": t.started, "ok": t.ok, "failed": t.failed,
            "errors": t.errors,
            "error_rate": round((t.errors + t.failed) / t.completed, 6) if t.completed else 0.0,
            "bytes": t.bytes_received, "duration_s": round(duration, 3),
            "rps": _rate(t.responses, duration),
            "latency_ms": latency_view(t.latency, _SUMMARY_STATS),
            "service_ms": latency_view(t.service, _SUMMARY_STATS[:1] + _SUMMARY_STATS[2:]),
            "status_codes": {str(k): v for k, v in sorted(t.status_codes.items())},
            "error_classes": dict(t.error_classes),
            "error_samples": dict(t.error_samples),
            "late_starts": t.late_starts,
            "peak_rss_mb": round(self.peak_rss_bytes / 2**20, 1),
            "cpu_percent": round(100.0 * self.cpu_seconds / duration, 1) if duration > 0 else 0.0,
            "max_loop_lag_ms": round(self.max_loop_lag_ms, 2),
            "max_in_flight": self.max_in_flight,
            "endpoints": {name: e.to_dict(duration) for name, e in sorted(t.endpoints.items())},
            "percentile_curve": [[p, v] for p, v in
                                 zip(CURVE_PERCENTILES, t.latency.percentiles_ms(CURVE_PERCENTILES))]
                                if t.latency.total else [],
        }


_SUMMARY_STATS = ("mean", "min", "p50", "p90", "p99", "p999", "max")
_PERCENTILE_OF = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}


def latency_view(hist: Histogram, stats: tuple[str, ...]) -> dict[str, float | None]:
    """The named statistics of a histogram in ms; all None when it holds no value: with
    no response there is no latency, and 0 would rank a run of errors the fastest."""
    if hist.total == 0:
        return dict.fromkeys(stats)
    wanted = [s for s in stats if s in _PERCENTILE_OF]
    values = dict(zip(wanted, hist.percentiles_ms([_PERCENTILE_OF[s] for s in wanted])))
    values.update(mean=round(hist.mean_ms(), 3), min=hist.min_ns / 1e6, max=hist.max_ns / 1e6)
    return {s: values[s] for s in stats}


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 2) if seconds > 0 else 0.0


@dataclass
class EndpointStats:
    ok: int = 0
    failed: int = 0
    errors: int = 0
    status_codes: Counter[int] = field(default_factory=Counter)
    error_classes: Counter[str] = field(default_factory=Counter)
    latency: Histogram = field(default_factory=Histogram)

    @property
    def requests(self) -> int:
        return self.ok + self.failed + self.errors

    def add(self, other: EndpointStats) -> None:
        self.ok += other.ok
        self.failed += other.failed
        self.errors += other.errors
        self.status_codes.update(other.status_codes)
        self.error_classes.update(other.error_classes)
        self.latency.add(other.latency)

    def second_view(self, seconds: float) -> dict[str, Any]:
        """What a per-second sample keeps of an endpoint: compact, since a long run stores
        one for every second and every name."""
        return {"requests": self.requests, "ok": self.ok, "failed": self.failed,
                "errors": self.errors, "rps": _rate(self.ok + self.failed, seconds),
                "latency_ms": latency_view(self.latency, ("p50", "p90", "p99", "max"))}

    def to_dict(self, seconds: float) -> dict[str, Any]:
        return {
            "requests": self.requests, "ok": self.ok, "failed": self.failed,
            "errors": self.errors,
            "rps": _rate(self.ok + self.failed, seconds),
            "latency_ms": latency_view(self.latency, ("mean", "p50", "p90", "p99", "p999", "max")),
            "status_codes": {str(k): v for k, v in sorted(self.status_codes.items())},
            "error_classes": dict(self.error_classes),
        }


def merge_endpoints(into: dict[str, EndpointStats], other: dict[str, EndpointStats]) -> None:
    for name, stats in other.items():
        if name in into:
            into[name].add(stats)
        else:
            copy = EndpointStats()
            copy.add(stats)
            into[name] = copy
