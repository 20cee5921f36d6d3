"""A run's series as a report carries it (pure): its step, compact columns, and the bench's
in-memory series built as the seconds come.

A report has no server to ask for a finer step when a chart is zoomed, so it carries more
points than a page opens with: up to REPORT_MAX_POINTS (a run of up to an hour at one
point a second), at a step a stored span serves (1 s, a minute, an hour), so that every
point is one stored row to decode, an exact merge of its seconds (histograms added, never
averaged), as the series API's. A coarser step is taken when the file would be too big
(many endpoints): see app/report/build.py.

Points travel as columns (one array per figure) of the numbers the charts draw, not as
the API's sample objects: a third of the bytes.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

from app.engine.series import SPANS, Rollups, buckets
from app.engine.snapshot import Snapshot

REPORT_MAX_POINTS = 3600
# numbers a series may hold and still fit a report (6.5 bytes each in its JSON, measured
# over an hour of 5 endpoints, and ~110 KB of code beside them in MAX_BYTES' 2 MB): past it,
# the bench drops that step as the run goes, so its memory stays bounded (200 endpoints
# would keep 3.6 million numbers at 1 s), and the dashboard does not read a step for it
MAX_VALUES = 290_000
LATENCY = ("p50", "p90", "p99", "max")
ENDPOINT_FIGURES = ("rps", *LATENCY)


def report_step(lo: int, hi: int) -> int:
    """The finest stored span that keeps seconds lo..hi within REPORT_MAX_POINTS points
    (whole hours past that), as engine/series.default_step with the report's budget."""
    wanted = (hi - lo + 1) / REPORT_MAX_POINTS
    for step in SPANS:
        if step >= wanted:
            return step
    return math.ceil(wanted / SPANS[-1]) * SPANS[-1]


def steps_from(step: int) -> list[int]:
    """This step, then the coarser stored spans to fall back to when a report is too big."""
    return [step, *(s for s in SPANS if s > step)]


def values_of(points: int, codes: Iterable, classes: Iterable, endpoints: Iterable) -> int:
    """The numbers `points` points hold with these status codes, error classes and
    endpoints (Columns' figures)."""
    per_point = (5 + len(LATENCY) + len(list(codes)) + len(list(classes))
                 + len(ENDPOINT_FIGURES) * len(list(endpoints)))
    return per_point * points


def predicted_values(lo: int, hi: int, step: int, summary: dict | None) -> int:
    """What values_of a series of seconds lo..hi at `step` will be, from the summary of
    those seconds (before reading them: an hour of seconds takes seconds to read)."""
    summary = summary or {}
    return values_of(len(buckets(lo, hi, step)), summary.get("status_codes") or (),
                     summary.get("error_classes") or (), summary.get("endpoints") or ())


def _ms(value: Any) -> float | None:
    return None if value is None else round(value, 3)


class Columns:
    """Points (Snapshot.to_view() dicts, in order) kept as one list per figure. A status
    code, error class or endpoint first seen at point k gets 0 (or no latency: None) for
    the points before it, and wherever a point lacks it."""

    def __init__(self, step: int):
        self.step = step
        self.second: list[int] = []
        self.elapsed: list[float] = []
        self.rps: list[float] = []
        self.started: list[int] = []
        self.completed: list[int] = []
        self.latency: dict[str, list] = {k: [] for k in LATENCY}
        self.status: dict[str, list[int]] = {}
        self.errors: dict[str, list[int]] = {}
        self.endpoints: dict[str, dict[str, list]] = {}

    def __len__(self) -> int:
        return len(self.second)

    @property
    def values(self) -> int:
        """How many numbers it holds (what its JSON's size follows)."""
        return values_of(len(self), self.status, self.errors, self.endpoints)

    def add(self, view: dict[str, Any]) -> None:
        n = len(self)
        self.second.append(view["second"])
        self.elapsed.append(view["elapsed_s"])
        self.rps.append(view["rps"])
        self.started.append(view["started"])
        self.completed.append(view["completed"])
        for key in LATENCY:
            self.latency[key].append(_ms(view["latency_ms"].get(key)))
        _add_counts(self.status, view.get("status_codes") or {}, n)
        _add_counts(self.errors, view.get("error_classes") or {}, n)
        seen = view.get("endpoints") or {}
        for name in seen:
            if name not in self.endpoints:
                self.endpoints[name] = {"rps": [0] * n, **{k: [None] * n for k in LATENCY}}
        for name, figures in self.endpoints.items():
            point = seen.get(name)
            figures["rps"].append(point["rps"] if point else 0)
            for key in LATENCY:
                figures[key].append(_ms(point["latency_ms"].get(key)) if point else None)

    def extend(self, views: Iterable[dict[str, Any]]) -> Columns:
        for view in views:
            self.add(view)
        return self

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "second": self.second, "elapsed": self.elapsed,
                "rps": self.rps, "started": self.started, "completed": self.completed,
                "latency": self.latency, "status": self.status, "errors": self.errors,
                "endpoints": self.endpoints}


def _add_counts(columns: dict[str, list[int]], counts: dict[str, int], n: int) -> None:
    for key in counts:
        if key not in columns:
            columns[key] = [0] * n
    for key, values in columns.items():
        values.append(counts.get(key, 0))


class Ladder:
    """A run's report series at every stored span at once, built from its seconds as they
    come (the bench, whose run may not be stored): the same rollups the store keeps, each
    row turned into its point at once, so memory holds numbers, never histograms. A step
    is dropped once it has more points than a report carries or more numbers than fit
    one; the hour step is always kept (a point an hour)."""

    def __init__(self) -> None:
        self._rollups = Rollups()
        self._levels: dict[int, Columns] = {span: Columns(span) for span in SPANS}
        self.last = 0

    def add(self, snap: Snapshot) -> None:
        self.last = max(self.last, snap.second)
        self._put(self._rollups.add(snap))

    def close(self) -> None:
        """The run has ended: its last, partial minute and hour become points."""
        self._put(self._rollups.close())

    def _put(self, rows: list[tuple[tuple[int, int], Snapshot]]) -> None:
        for (span, _), snap in rows:
            level = self._levels.get(span)
            if level is None:
                continue
            level.add(snap.to_view())
            if span != SPANS[-1] and (len(level) > REPORT_MAX_POINTS
                                      or level.values > MAX_VALUES):
                del self._levels[span]

    def candidates(self) -> Iterator[Columns]:
        """The series to try, finest first: from the report step on (as the store's)."""
        steps = [s for s in steps_from(report_step(1, max(self.last, 1))) if s in self._levels]
        for step in steps or [SPANS[-1]]:          # past 3,600 hours: hours all the same
            yield self._levels[step]
