"""Pass/fail criteria of a run: `p99 < 200ms`, `error_rate < 1%`, `rps >= 1000`,
`p99{GET /search} < 300ms` (pure: parse, then evaluate on an exact Summary).

    EXPR     := METRIC [ "{" ENDPOINT "}" ] OP VALUE
    METRIC   := pN (any percentile: p50, p90, p99, p99.9, p100) | mean | min | max
              | error_rate | rps | requests
    OP       := < | <= | > | >=
    VALUE    := a number; for latency with a unit (us, ms, s; none means ms); for
                error_rate a percentage (1%) or a fraction (0.01)

Latency is the run's latency (from due time in the open model: coordinated omission
corrected), from the merged histogram, never averaged. error_rate is (status >= 400 +
transport errors) / requests; rps is responses per second of the run. A latency
threshold over no response at all fails: there is nothing to show it holds.
"""
from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

MAX_THRESHOLDS = 50
MAX_EXPR_CHARS = 300

_EXPR = re.compile(r"""^\s*(?P<metric>[a-z_]+|p\d+(?:\.\d+)?)\s*
                       (?:\{(?P<endpoint>[^{}]*)\}\s*)?
                       (?P<op><=|>=|<|>)\s*
                       (?P<value>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>%|us|µs|ms|s)?\s*$""", re.X)
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_LATENCY_UNIT_MS = {None: 1.0, "us": 0.001, "µs": 0.001, "ms": 1.0, "s": 1000.0}


class Metric(str, Enum):
    PERCENTILE = "percentile"
    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    ERROR_RATE = "error_rate"
    RPS = "rps"
    REQUESTS = "requests"

    @property
    def is_latency(self) -> bool:
        return self in (Metric.PERCENTILE, Metric.MEAN, Metric.MIN, Metric.MAX)


@dataclass(frozen=True)
class Threshold:
    expr: str                     # as written, trimmed: what results and reports show
    metric: Metric
    op: str
    limit: float                  # in ms for latency, a fraction for error_rate
    percentile: float | None = None
    endpoint: str | None = None

    def holds(self, value: float | None) -> bool:
        return value is not None and _OPS[self.op](value, self.limit)


@dataclass(frozen=True)
class Result:
    threshold: Threshold
    value: float | None           # what the run measured (None: nothing to measure)

    @property
    def passed(self) -> bool:
        return self.threshold.holds(self.value)

    def to_dict(self) -> dict:
        value = None if self.value is None else round(self.value, 6)
        return {"expr": self.threshold.expr, "value": value, "pass": self.passed,
                "unit": unit_of(self.threshold.metric)}


class ThresholdError(ValueError):
    """Says which expression (1-based line) and why."""


def unit_of(metric: Metric) -> str:
    return "ms" if metric.is_latency else {"error_rate": "fraction", "rps": "/s"}.get(
        metric.value, "")


def parse(expr: str) -> Threshold:
    text = expr.strip()
    if len(text) > MAX_EXPR_CHARS:
        raise ThresholdError(f"at most {MAX_EXPR_CHARS} characters")
    m = _EXPR.match(text)
    if not m:
        raise ThresholdError(f"{text!r} is not a threshold (e.g. p99 < 200ms, "
                             "error_rate < 1%, rps >= 1000, p99{GET /search} < 300ms)")
    name, unit, value = m["metric"], m["unit"], float(m["value"])
    endpoint = m["endpoint"].strip() if m["endpoint"] is not None else None
    if endpoint == "":
        raise ThresholdError("an endpoint name between { } is empty")
    percentile = None
    if name.startswith("p") and name[1:2].isdigit():
        metric, percentile = Metric.PERCENTILE, float(name[1:])
        if not 0 <= percentile <= 100:
            raise ThresholdError(f"{name}: a percentile is from p0 to p100")
    else:
        try:
            metric = Metric(name)
        except ValueError:
            raise ThresholdError(f"unknown metric {name!r}: use pN (p50, p99, p99.9), mean, "
                                 "min, max, error_rate, rps or requests") from None
        if metric is Metric.PERCENTILE:
            raise ThresholdError("write a percentile as pN, e.g. p99")
    if metric.is_latency:
        if unit == "%":
            raise ThresholdError(f"{name} is a time: give ms or s, not %")
        limit = value * _LATENCY_UNIT_MS[unit]
    elif metric is Metric.ERROR_RATE:
        if unit not in (None, "%"):
            raise ThresholdError("error_rate is a percentage (1%) or a fraction (0.01)")
        limit = value / 100.0 if unit == "%" else value
        if limit > 1:
            raise ThresholdError("error_rate is at most 100% (a fraction at most 1)")
    else:
        if unit is not None:
            raise ThresholdError(f"{name} is a number: no unit")
        limit = value
    if not math.isfinite(limit):
        raise ThresholdError(f"{m['value']} is not a finite number")
    return Threshold(text, metric, m["op"], limit, percentile, endpoint)


def parse_all(exprs: Iterable[str], endpoints: Sequence[str] | None = ()) -> tuple[Threshold, ...]:
    """Every expression, or ThresholdError naming the first bad one by its line. An
    endpoint must be one of the run's (`endpoints`: its names; a run of one target has no
    per-endpoint figures; None: not checked yet)."""
    out = []
    for line, expr in enumerate(exprs, 1):
        if not expr.strip():
            continue
        if len(out) == MAX_THRESHOLDS:
            raise ThresholdError(f"at most {MAX_THRESHOLDS} thresholds")
        try:
            threshold = parse(expr)
            if threshold.endpoint is not None and endpoints is not None and (
                    len(endpoints) < 2 or threshold.endpoint not in endpoints):
                known = ", ".join(endpoints[:10]) if len(endpoints) > 1 else ""
                raise ThresholdError(
                    f"no endpoint {threshold.endpoint!r} in this run"
                    + (f" (it has {known}{', …' if len(endpoints) > 10 else ''})" if known
                       else ": per-endpoint thresholds need a run of several named targets"))
        except ThresholdError as exc:
            raise ThresholdError(f"line {line}: {exc}") from None
        out.append(threshold)
    return tuple(out)


def evaluate(thresholds: Sequence[Threshold], summary) -> list[Result]:
    """Each threshold on `summary` (engine.snapshot.Summary: exact histograms), so the
    figures are the exact ones, not the rounded view."""
    return [Result(t, _measure(t, summary)) for t in thresholds]


def _measure(t: Threshold, summary) -> float | None:
    total = summary.total
    duration = summary.duration_s
    if t.endpoint is not None:
        stats = total.endpoints.get(t.endpoint)
        if stats is None:
            return 0.0 if t.metric in (Metric.REQUESTS, Metric.RPS) else None
        hist, requests = stats.latency, stats.requests
        bad, responses = stats.failed + stats.errors, stats.ok + stats.failed
    else:
        hist, requests = total.latency, total.completed
        bad, responses = total.failed + total.errors, total.ok + total.failed
    if t.metric is Metric.REQUESTS:
        return float(requests)
    if t.metric is Metric.RPS:
        return responses / duration if duration > 0 else 0.0
    if t.metric is Metric.ERROR_RATE:
        return bad / requests if requests else None
    if hist.total == 0:
        return None
    if t.metric is Metric.PERCENTILE:
        assert t.percentile is not None
        return hist.percentile_ms(t.percentile)
    if t.metric is Metric.MEAN:
        return hist.mean_ms()
    return (hist.min_ns if t.metric is Metric.MIN else hist.max_ns) / 1e6
