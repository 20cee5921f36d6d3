"""Is run B better, worse or the same as run A, metric by metric, and how sure (pure).

A difference counts only when it is both *significant* and *large enough*:

1. Significant: the 95 % confidence interval of the difference B - A excludes 0. The
   interval is a bootstrap one (app/analysis/bootstrap.py): each run's units (its
   seconds; minutes from 30 minutes, hours from 30 hours) are resampled with
   replacement, in circular blocks of floor(U^(1/3)) consecutive units, 1,000 times,
   seeded (the same runs always give the same answer); each resample's statistic comes
   from its units merged exactly (histograms added, as every figure of Stampede), the
   two runs resampled independently; the interval is the 2.5th to 97.5th percentile of
   the resampled differences, centred on the exact difference of the two summaries.
2. Large enough: |B - A| is at least the metric's minimum effect, the larger of a share
   of A and a floor (METRICS): 5 % and 1 ms for latency, 2 % for req/s, 5 % and 0.05
   percentage points for the error rate. Two runs of one spec differ by more than their
   seconds' noise (the machine, the network, the target's state): below these, a
   difference is not worth a colour even when it is "significant".

Otherwise the verdict is `same`: no difference shown (not "proven equal"). A metric is
`untested`, with the reason, when no honest interval exists: fewer than 5 units in a
run ("too few seconds to tell"); a percentile with fewer than 10 responses beyond it in
a run (p99.9 of 5,000 responses rests on 5 values); the maximum, which is one request
(the tested tail is p99 and p99.9); a run without responses (no latency); a baseline
read from a summary without its samples.

Endpoints (the names every compared run has) get verdicts on ENDPOINT_KEYS (p50, p99,
req/s, the error rate) by the same method, minimum effects and untested rules, over each
endpoint's own units (the run's units, the same resamples: each unit's counts and
histogram of that endpoint alone). Only the MAX_ENDPOINTS with the most requests (over
all compared runs) are tested; the others are untested, saying so.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from .bootstrap import MIN_UNITS_OF_SPAN, Bootstrap, Samples

CONFIDENCE = 0.95
RESAMPLES = 1000
SEED = 1
MIN_UNITS = 5                  # fewer units in a run: "too few seconds to tell"
MIN_TAIL = 10                  # responses beyond a percentile, in each run, to test it
MIN_VALID = 0.95               # resamples with responses, to test a latency figure


class Verdict(str, Enum):
    BETTER = "better"
    WORSE = "worse"
    SAME = "same"
    UNTESTED = "untested"


@dataclass(frozen=True)
class Metric:
    key: str                   # in the API's answers
    label: str
    unit: str                  # "ms", "req/s" or "fraction"
    lower_is_better: bool
    relative: float            # minimum effect: this share of the baseline's value...
    absolute: float            # ...and at least this much (in `unit`)
    percentile: float | None = None
    untested: str = ""         # why it is never tested

    def min_effect(self, baseline: float) -> float:
        return max(self.relative * abs(baseline), self.absolute)


METRICS = (
    Metric("p50", "p50", "ms", True, 0.05, 1.0, 50.0),
    Metric("p90", "p90", "ms", True, 0.05, 1.0, 90.0),
    Metric("p99", "p99", "ms", True, 0.05, 1.0, 99.0),
    Metric("p999", "p99.9", "ms", True, 0.05, 1.0, 99.9),
    Metric("max", "max", "ms", True, 0.05, 1.0, untested=(
        "the maximum is a single request: no interval exists for it (p99 and p99.9 are "
        "the tested tail)")),
    Metric("mean", "mean", "ms", True, 0.05, 1.0),
    Metric("rps", "req/s", "req/s", False, 0.02, 0.0),
    Metric("error_rate", "error rate", "fraction", True, 0.05, 0.0005),
)
BY_KEY = {m.key: m for m in METRICS}
# what `bench --fail-on-regression` fails on
REGRESSION_KEYS = ("p50", "p99", "rps", "error_rate")
# what an endpoint is tested on, and how many endpoints at most (the most requests first)
ENDPOINT_KEYS = ("p50", "p99", "rps", "error_rate")
ENDPOINT_METRICS = tuple(BY_KEY[k] for k in ENDPOINT_KEYS)
MAX_ENDPOINTS = 20


def figures(summary: Mapping[str, Any] | None) -> dict[str, float | None]:
    """The exact value of each metric in a run's summary (Summary.to_dict()); None for
    latency when it had no response."""
    summary = summary or {}
    latency = summary.get("latency_ms") or {}
    out: dict[str, float | None] = {
        m.key: latency.get(m.key) for m in METRICS if m.unit == "ms"}
    out["rps"] = summary.get("rps")
    out["error_rate"] = summary.get("error_rate")
    return out


def endpoint_figures(stats: Mapping[str, Any] | None) -> dict[str, float | None]:
    """The exact value of each of ENDPOINT_KEYS in an endpoint's summary
    (EndpointStats.to_dict()): error rate (failed + errors) / requests, as the pages'."""
    stats = stats or {}
    latency = stats.get("latency_ms") or {}
    requests = stats.get("requests") or 0
    bad = (stats.get("failed") or 0) + (stats.get("errors") or 0)
    return {"p50": latency.get("p50"), "p99": latency.get("p99"),
            "rps": stats.get("rps") if stats else None,
            "error_rate": bad / requests if requests else None}


def endpoints_to_test(summaries: Sequence[Mapping[str, Any] | None]
                      ) -> tuple[list[str], list[str]]:
    """The endpoint names every run has (in the baseline's order): the MAX_ENDPOINTS with
    the most requests over all runs, to test, and the others."""
    named = [(s or {}).get("endpoints") or {} for s in summaries]
    shared = [n for n in named[0] if all(n in e for e in named[1:])]
    busiest = sorted(shared, key=lambda n: -sum((e[n] or {}).get("requests") or 0
                                                  for e in named))[:MAX_ENDPOINTS]
    return ([n for n in shared if n in busiest], [n for n in shared if n not in busiest])


@dataclass
class Side:
    """One run of a comparison: its exact figures and, when known, its samples; and the
    same of each of its endpoints that is compared (`endpoints`, by name)."""
    figures: dict[str, float | None]
    samples: Samples | None = None
    endpoints: dict[str, Side] | None = None


@dataclass(frozen=True)
class Result:
    metric: Metric
    verdict: Verdict
    baseline: float | None
    value: float | None
    reason: str
    difference: float | None = None
    interval: tuple[float, float] | None = None
    min_effect: float | None = None

    @property
    def relative(self) -> float | None:
        if self.difference is None or not self.baseline:
            return None
        return self.difference / abs(self.baseline)

    @property
    def difference_text(self) -> str:
        return "" if self.difference is None else _fmt(self.metric, self.difference)

    @property
    def interval_text(self) -> str:
        return "" if self.interval is None else (
            f"{_fmt(self.metric, self.interval[0])} to {_fmt(self.metric, self.interval[1])}")

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "baseline": self.baseline, "value": self.value,
                "difference": _round(self.difference), "relative": _round(self.relative),
                "interval": None if self.interval is None else [_round(v) for v in self.interval],
                "min_effect": _round(self.min_effect), "reason": self.reason}


def method() -> dict[str, Any]:
    """The parameters, as the API and bench report them."""
    return {
        "name": "circular block bootstrap of the difference, plus a minimum effect",
        "confidence": CONFIDENCE, "resamples": RESAMPLES, "seed": SEED,
        "unit": f"a second; a minute when the window holds {MIN_UNITS_OF_SPAN} minutes; an "
                f"hour when it holds {MIN_UNITS_OF_SPAN} hours",
        "block": "floor(units ** (1/3)) consecutive units, circular",
        "widening": "t(k-1)/z * sqrt(k/(k-1)) for k blocks (expanded percentile interval)",
        "min_units": MIN_UNITS, "min_tail": MIN_TAIL,
        "min_effect": {m.key: {"relative": m.relative, "absolute": m.absolute, "unit": m.unit}
                       for m in METRICS if not m.untested},
        "untested": {m.key: m.untested for m in METRICS if m.untested},
        "endpoints": {"metrics": list(ENDPOINT_KEYS), "max": MAX_ENDPOINTS,
                      "which": "the names every run has; the most requests over all runs "
                               "first, the others untested",
                      "unit": "the run's units, each with that endpoint's counts and "
                              "histogram; the run's resamples"},
    }


def effects_text() -> str:
    """The minimum effects in words, from METRICS: what the pages say."""
    seen: dict[str, str] = {}
    for m in METRICS:
        if m.untested:
            continue
        what = {"ms": "latency", "fraction": m.label}.get(m.unit, m.label)
        floor = f" and at least {_fmt(m, m.absolute, sign=False)}" if m.absolute else ""
        seen.setdefault(what, f"{m.relative:.0%}{floor} for {what}")
    return ", ".join(seen.values())


def compare(sides: Sequence[Side], *, resamples: int = RESAMPLES,
            seed: int = SEED) -> list[list[Result]]:
    """Each run after the first against the first: one Result per metric of METRICS."""
    stats = [_bootstrap(side, resamples, np.random.default_rng([seed, i]))
             for i, side in enumerate(sides)]
    return [[_judge(m, sides[0], side, stats[0], stat) for m in METRICS]
            for side, stat in zip(sides[1:], stats[1:])]


def compare_endpoints(sides: Sequence[Side], names: Sequence[str],
                      untested: Sequence[str] = (), *, resamples: int = RESAMPLES,
                      seed: int = SEED) -> list[dict[str, list[Result]]]:
    """Each run after the first against the first, per endpoint of `names` (each side's
    `endpoints` holds them): one Result per metric of ENDPOINT_METRICS; those of
    `untested` (past MAX_ENDPOINTS) untested, saying so. One endpoint's resamples at a
    time: memory holds one endpoint's arrays, never all of them."""
    out: list[dict[str, list[Result]]] = [{} for _ in sides[1:]]
    weights: list[np.ndarray | None] = [None] * len(sides)
    for name in names:
        stats = []
        for i, side in enumerate(sides):
            own = (side.endpoints or {}).get(name)
            if own is None:
                own = Side({})
            stat = _bootstrap(own, resamples, np.random.default_rng([seed, i]),
                              ENDPOINT_KEYS, weights[i])
            if isinstance(stat, dict):      # the run's resamples, drawn once
                weights[i] = stat.pop("_weights")
            stats.append((own, stat))
        (base, a), later = stats[0], stats[1:]
        for k, (own, b) in enumerate(later):
            out[k][name] = [_judge(m, base, own, a, b) for m in ENDPOINT_METRICS]
    for name in untested:
        reason = (f"not tested: only the {MAX_ENDPOINTS} endpoints with the most requests "
                  "are (time and memory stay bounded)")
        for k, side in enumerate(sides[1:]):
            va = endpoint_figures(None)
            base, own = ((s.endpoints or {}).get(name) for s in (sides[0], side))
            fa, fb = (base.figures if base else va), (own.figures if own else va)
            out[k][name] = [Result(m, Verdict.UNTESTED, fa.get(m.key), fb.get(m.key), reason,
                                   None if fa.get(m.key) is None or fb.get(m.key) is None
                                   else fb[m.key] - fa[m.key]) for m in ENDPOINT_METRICS]
    return out


def to_json(ids: Sequence[Any], sides: Sequence[Side],
            results: Sequence[Sequence[Result]],
            endpoints: Sequence[Mapping[str, Sequence[Result]]] | None = None
            ) -> dict[str, Any]:
    """A comparison as the API and bench --json give it: the method, each run's figures
    and units, each later run's verdicts against the first (and, given `endpoints`,
    compare_endpoints' answer, per endpoint name its metrics' verdicts)."""
    return {
        "method": method(),
        "runs": [{"id": i, "figures": side.figures,
                  "units": len(side.samples) if side.samples is not None else None,
                  "unit_s": side.samples.unit_s if side.samples is not None else None}
                 for i, side in zip(ids, sides)],
        "comparisons": [{"id": i, "baseline": ids[0],
                         "metrics": {r.metric.key: r.to_dict() for r in rs},
                         **({} if endpoints is None else {"endpoints": {
                             name: {r.metric.key: r.to_dict() for r in ers}
                             for name, ers in endpoints[k].items()}})}
                        for k, (i, rs) in enumerate(zip(ids[1:], results))],
    }


def side_of_result(result: Any) -> Side:
    """A run as `bench --json` printed it (a baseline file): its figures, and its samples
    when it carries them ("samples": Samples.to_json()). ValueError saying what is wrong."""
    if not isinstance(result, dict) or not isinstance(result.get("latency_ms"), dict) or not all(
            isinstance(result.get(k), (int, float)) for k in ("rps", "error_rate")):
        raise ValueError("it is not the output of bench --json (no latency_ms, rps and "
                         "error_rate)")
    if any(not isinstance(v, (int, float, type(None))) for v in result["latency_ms"].values()):
        raise ValueError("its latency_ms holds something other than numbers")
    samples = result.get("samples")
    return Side(figures(result), None if samples is None else Samples.from_json(samples))


def regressions(results: Sequence[Result]) -> list[str]:
    """The metrics of REGRESSION_KEYS that got significantly worse."""
    return [r.metric.key for r in results
            if r.metric.key in REGRESSION_KEYS and r.verdict is Verdict.WORSE]


def text(results: Sequence[Result], baseline: str) -> list[str]:
    """The comparison as bench prints it: a line a metric."""
    rows = [("metric", "baseline", "this run", "difference", f"{CONFIDENCE:.0%} interval")]
    for r in results:
        rows.append((r.metric.label, _plain(r.metric, r.baseline), _plain(r.metric, r.value),
                     r.difference_text, r.interval_text))
    widths = [max(len(row[k]) for row in rows) for k in range(5)]
    verdicts = ["verdict"] + [r.verdict.value + (f" ({r.reason})" if r.verdict is
                                                 Verdict.UNTESTED else "") for r in results]
    return [f"Compared with {baseline} (a verdict needs the bootstrap interval of the "
            "difference to exclude 0, and a minimum effect):"] + [
        "  " + row[0].ljust(widths[0]) + "".join(
            "  " + cell.rjust(w) for cell, w in zip(row[1:], widths[1:])) + "  " + verdict
        for row, verdict in zip(rows, verdicts)]


def _plain(m: Metric, value: float | None) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.2f} %" if m.unit == "fraction" else _fmt(m, value, sign=False)


# statistics of a run: per metric, each resample's deviation from the whole sample's
# value (widened for few blocks), and "responses"; or why there are none
_Stats = dict[str, np.ndarray | float] | str


def _bootstrap(side: Side, resamples: int, rng: np.random.Generator,
               keys: Sequence[str] | None = None, weights: np.ndarray | None = None
               ) -> _Stats:
    """`keys`: the metrics wanted (all of METRICS); `weights`: the resamples to take
    (another Bootstrap's of the same units), returned as "_weights" when keys is given."""
    samples = side.samples
    if samples is None:
        return "a summary without per-second samples: the difference is not tested"
    if len(samples) < MIN_UNITS:
        return (f"too few seconds to tell: {len(samples)} "
                f"{'unit' if samples.unit_s > 1 else 'second'}{'s' * (len(samples) != 1)} in a "
                f"run, {MIN_UNITS} needed")
    wanted = set(BY_KEY if keys is None else keys)
    if weights is not None and weights.shape[1] != len(samples):
        weights = None
    boot = Bootstrap(samples, resamples, rng, CONFIDENCE, weights)
    out = {m.key: boot.percentile(m.percentile) for m in METRICS
           if m.percentile and m.key in wanted}
    ratios = {"mean": ("sum_ns", "total", 1e-6), "rps": ("responses", "elapsed_s", 1.0),
              "error_rate": ("bad", "completed", 1.0)}
    out.update({key: boot.ratio(*args) for key, args in ratios.items() if key in wanted})
    deviations = {key: boot.deviations(stat) for key, stat in out.items()}
    deviations["responses"] = float(boot.named["total"].sum())
    if keys is not None:
        deviations["_weights"] = boot.weights
    return deviations


def _judge(m: Metric, base: Side, side: Side, a: _Stats, b: _Stats) -> Result:
    va, vb = base.figures.get(m.key), side.figures.get(m.key)

    def untested(reason: str) -> Result:
        difference = None if va is None or vb is None else vb - va
        return Result(m, Verdict.UNTESTED, va, vb, reason, difference)

    if m.untested:
        return untested(m.untested)
    if va is None or vb is None:
        return untested("no responses in a run: no latency to compare" if m.unit == "ms"
                        else "a run has no figures (no summary yet)")
    for stats in (a, b):
        if isinstance(stats, str):
            return untested(stats)
    if m.percentile is not None:
        fewest = min(a["responses"], b["responses"]) * (1 - m.percentile / 100)
        if fewest < MIN_TAIL:
            return untested(f"too few responses beyond {m.label} in a run "
                            f"({fewest:.0f}; {MIN_TAIL} needed)")
    shifts = b[m.key] - a[m.key]
    shifts = shifts[np.isfinite(shifts)]
    if len(shifts) < MIN_VALID * len(a[m.key]):
        return untested("too many seconds without responses to tell")
    difference = vb - va
    tail = (1 - CONFIDENCE) / 2
    lo, hi = (difference + np.quantile(shifts, [tail, 1 - tail])).tolist()
    effect = m.min_effect(va)
    verdict, reason = _verdict(m, difference, lo, hi, effect)
    return Result(m, verdict, va, vb, reason, difference, (lo, hi), effect)


def _verdict(m: Metric, difference: float, lo: float, hi: float,
             effect: float) -> tuple[Verdict, str]:
    interval = f"the {CONFIDENCE:.0%} interval {_fmt(m, lo)} to {_fmt(m, hi)}"
    if lo <= 0 <= hi:
        return Verdict.SAME, f"{interval} holds 0: no difference shown"
    if abs(difference) < effect:
        return Verdict.SAME, (f"{_fmt(m, difference)} is below the minimum effect of "
                              f"{_fmt(m, effect, sign=False)}")
    improved = (difference < 0) == m.lower_is_better
    return (Verdict.BETTER if improved else Verdict.WORSE,
            f"{interval} excludes 0 and {_fmt(m, difference)} is at least the minimum effect "
            f"of {_fmt(m, effect, sign=False)}")


def _fmt(m: Metric, value: float, sign: bool = True) -> str:
    plus = "+" if sign else ""
    if m.unit == "fraction":
        return f"{100 * value:{plus}.2f} pp"
    if m.unit == "ms":
        return f"{value:{plus}.2f} ms"
    return f"{value:{plus}.1f} {m.unit}"


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(f"{value:.6g}")
