"""The hot-path statistics of one worker.

Engines call `sent`, `response` and `error` once per request; these only append
integers and bump counters. Once a second `snapshot` swaps the buffers out and
bins them into histograms in one numpy call, so per-request cost stays at a few
hundred ns whatever the rate.
"""
from __future__ import annotations

from collections import Counter

from .errors import classify, describe
from .histogram import Histogram
from .snapshot import Health, Snapshot


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

    def response(self, status: int, nbytes: int, due_ns: int, sent_ns: int, end_ns: int) -> None:
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
                           end_ns: int) -> None:
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

    def error(self, exc: BaseException) -> None:
        """A transport error: no response, so no latency recorded (as wrk does)."""
        self._in_flight -= 1
        self.completed += 1
        cls = classify(exc).value
        self._errors[cls] += 1
        if cls not in self._samples:
            self._samples[cls] = describe(exc)

    def snapshot(self, second: int, elapsed_s: float, health: Health) -> Snapshot:
        latency, service = Histogram(), Histogram()
        latency.record_ns(self._latency)
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
