"""The hot-path statistics of one worker.

Engines call `sent`, `response` and `error` once per request; these only append
integers and bump counters. Once a second `snapshot` swaps the buffers out and
bins them into histograms in one numpy call, so per-request cost stays at a few
hundred ns whatever the rate.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from .errors import classify, describe
from .histogram import Histogram
from .snapshot import EndpointStats, Health, Snapshot


class Recorder:
    __slots__ = ("_latency", "_service", "_status", "_errors", "_samples", "started",
                 "completed", "bytes_received", "late_starts", "_in_flight", "_peak")

    def __init__(self) -> None:
        self._in_flight = 0
        self._reset()

    def _reset(self) -> None:
        self._latency: list[int] = []
        self._service: list[int] = []
        self._status: dict[int, int] = {}
        self._errors: Counter[str] = Counter()
        self._samples: dict[str, str] = {}
        self.started = 0
        self.completed = 0
        self.bytes_received = 0
        self.late_starts = 0
        # the peak of the next interval starts from the level carried into it
        self._peak = self._in_flight

    def sent(self) -> None:
        """A request leaves. The peak is taken here, at every send, since in flight only
        rises at a send: sampling it once a second misses bursts (a 1,000-request burst
        read as 714, a short run as 0)."""
        self.started += 1
        self._in_flight += 1
        if self._in_flight > self._peak:
            self._peak = self._in_flight

    def response(self, status: int, nbytes: int, due_ns: int, sent_ns: int, end_ns: int,
                 name_id: int = 0) -> None:
        """A response arrived. Latency counts from when the request was due, so a
        request that had to wait for a free slot is charged for the wait (the
        coordinated-omission correction); service time counts from the send."""
        self._in_flight -= 1
        self.completed += 1
        self.bytes_received += nbytes
        latency = end_ns - due_ns
        self._latency.append(latency)
        self._service.append(latency if sent_ns == due_ns else end_ns - sent_ns)
        try:
            self._status[status] += 1
        except KeyError:
            self._status[status] = 1

    def response_then_sent(self, status: int, nbytes: int, due_ns: int, sent_ns: int,
                           end_ns: int, name_id: int = 0) -> None:
        """`response(...)` then `sent()` in one call: in the closed model the next request
        leaves as the response arrives, so in flight does not change. A deliberate copy of
        response()'s body: calling it would add a Python frame to the fast engine's hottest
        path (callgrind: ~13 % of its instructions per request went with these frames)."""
        self.started += 1
        self.completed += 1
        self.bytes_received += nbytes
        latency = end_ns - due_ns
        self._latency.append(latency)
        self._service.append(latency if sent_ns == due_ns else end_ns - sent_ns)
        try:
            self._status[status] += 1
        except KeyError:
            self._status[status] = 1

    def error(self, exc: BaseException, name_id: int = 0) -> None:
        """A transport error: no response, so no latency recorded (as wrk does). `name_id`
        (which target) matters to the EndpointRecorder only."""
        self._in_flight -= 1
        self.completed += 1
        cls = classify(exc).value
        self._errors[cls] += 1
        if cls not in self._samples:
            self._samples[cls] = describe(exc)

    def snapshot(self, second: int, elapsed_s: float, health: Health) -> Snapshot:
        return self._snapshot(second, elapsed_s, health,
                              np.asarray(self._latency, dtype=np.int64))

    def _snapshot(self, second: int, elapsed_s: float, health: Health,
                  latencies: np.ndarray) -> Snapshot:
        latency, service = Histogram(), Histogram()
        latency.record_ns(latencies)
        service.record_ns(self._service)
        status = Counter(self._status)
        ok = sum(n for code, n in status.items() if code < 400)
        failed = sum(n for code, n in status.items() if code >= 400)
        snap = Snapshot(
            second=second, elapsed_s=elapsed_s, started=self.started, completed=self.completed,
            ok=ok, failed=failed, errors=sum(self._errors.values()),
            bytes_received=self.bytes_received, in_flight=max(self._in_flight, 0),
            max_in_flight=self._peak,
            late_starts=self.late_starts, status_codes=status,
            error_classes=self._errors, error_samples=self._samples,
            latency=latency, service=service, health=health)
        self._reset()
        return snap


STATUS_SPAN = 1000          # status codes are < 1000: (name id, status) keys as one int


class EndpointRecorder(Recorder):
    """A Recorder that also remembers which named target each request was: one more
    append per response, of (name id, status) as one int, binned once a second. Only
    runs with several names use it; a single-target run keeps the plain Recorder's hot
    path. Its response methods are copies of the Recorder's bodies for the reason
    response_then_sent gives (a frame per request measured ~0.15 µs here)."""
    __slots__ = ("names", "_named", "_named_errors")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        super().__init__()

    def _reset(self) -> None:
        super()._reset()
        self._named: list[int] = []               # name_id * STATUS_SPAN + status
        self._named_errors: Counter[tuple[int, str]] = Counter()

    def response(self, status: int, nbytes: int, due_ns: int, sent_ns: int, end_ns: int,
                 name_id: int = 0) -> None:
        self._in_flight -= 1
        self.completed += 1
        self.bytes_received += nbytes
        latency = end_ns - due_ns
        self._latency.append(latency)
        self._service.append(latency if sent_ns == due_ns else end_ns - sent_ns)
        try:
            self._status[status] += 1
        except KeyError:
            self._status[status] = 1
        self._named.append(name_id * STATUS_SPAN + status)

    def response_then_sent(self, status: int, nbytes: int, due_ns: int, sent_ns: int,
                           end_ns: int, name_id: int = 0) -> None:
        self.started += 1
        self.completed += 1
        self.bytes_received += nbytes
        latency = end_ns - due_ns
        self._latency.append(latency)
        self._service.append(latency if sent_ns == due_ns else end_ns - sent_ns)
        try:
            self._status[status] += 1
        except KeyError:
            self._status[status] = 1
        self._named.append(name_id * STATUS_SPAN + status)

    def error(self, exc: BaseException, name_id: int = 0) -> None:
        cls = classify(exc).value
        self._in_flight -= 1
        self.completed += 1
        self._errors[cls] += 1
        if cls not in self._samples:
            self._samples[cls] = describe(exc)
        self._named_errors[(name_id, cls)] += 1

    def snapshot(self, second: int, elapsed_s: float, health: Health) -> Snapshot:
        latencies = np.asarray(self._latency, dtype=np.int64)
        named = np.asarray(self._named, dtype=np.int64)
        name_ids = named // STATUS_SPAN
        per_key = np.bincount(named)
        keys = np.nonzero(per_key)[0]
        named_status = dict(zip(keys.tolist(), per_key[keys].tolist()))
        named_errors = self._named_errors
        snap = self._snapshot(second, elapsed_s, health, latencies)
        endpoints: dict[str, EndpointStats] = {}

        def stats(name_id: int) -> EndpointStats:
            name = self.names[name_id]
            if name not in endpoints:
                endpoints[name] = EndpointStats()
            return endpoints[name]

        for key, n in named_status.items():
            s = stats(key // STATUS_SPAN)
            code = key % STATUS_SPAN
            s.status_codes[code] += n
            if code < 400:
                s.ok += n
            else:
                s.failed += n
        for (name_id, cls), n in named_errors.items():
            s = stats(name_id)
            s.errors += n
            s.error_classes[cls] += n
        for name_id, histogram in Histogram.by_group(latencies, name_ids).items():
            stats(name_id).latency = histogram
        snap.endpoints = endpoints
        return snap
