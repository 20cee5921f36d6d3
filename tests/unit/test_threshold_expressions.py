"""Thresholds (app/analysis/thresholds.py): parsing, and evaluation on exact summaries."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pytest

from app.analysis.junit import junit_xml
from app.analysis.thresholds import Metric, ThresholdError, evaluate, parse, parse_all
from app.engine.histogram import Histogram
from app.engine.snapshot import EndpointStats, Snapshot, Summary
from app.spec import SpecError, parse_spec


@pytest.mark.parametrize("expr, metric, op, limit, percentile, endpoint", [
    ("p99 < 200ms", Metric.PERCENTILE, "<", 200.0, 99.0, None),
    ("p50<=50", Metric.PERCENTILE, "<=", 50.0, 50.0, None),
    ("p99.9 < 1.5s", Metric.PERCENTILE, "<", 1500.0, 99.9, None),
    ("max < 2s", Metric.MAX, "<", 2000.0, None, None),
    ("mean < 500us", Metric.MEAN, "<", 0.5, None, None),
    ("error_rate < 1%", Metric.ERROR_RATE, "<", 0.01, None, None),
    ("error_rate <= 0.05", Metric.ERROR_RATE, "<=", 0.05, None, None),
    ("rps >= 1000", Metric.RPS, ">=", 1000.0, None, None),
    ("requests > 10", Metric.REQUESTS, ">", 10.0, None, None),
    ("p99{GET /search} < 300ms", Metric.PERCENTILE, "<", 300.0, 99.0, "GET /search"),
])
def test_expressions_parse(expr, metric, op, limit, percentile, endpoint):
    t = parse(expr)
    assert (t.metric, t.op, t.limit, t.percentile, t.endpoint) == \
        (metric, op, pytest.approx(limit), percentile, endpoint)
    assert t.expr == expr.strip()


@pytest.mark.parametrize("expr, message", [
    ("p99 = 200ms", "is not a threshold"),
    ("p99 < 200%", "is a time"),
    ("p101 < 1s", "from p0 to p100"),
    ("latency < 1s", "unknown metric 'latency'"),
    ("rps > 10ms", "no unit"),
    ("error_rate < 150%", "at most 100%"),
    ("p99{} < 1s", "empty"),
    ("p99 < 200ms" + "x" * 400, "at most"),
])
def test_bad_expressions_say_why(expr, message):
    with pytest.raises(ThresholdError, match=message):
        parse(expr)


def test_lines_are_named_and_endpoints_checked():
    with pytest.raises(ThresholdError, match="line 3: unknown metric"):
        parse_all(["p99 < 1s", "", "latency < 2"])
    with pytest.raises(ThresholdError, match="no endpoint 'b'"):
        parse_all(["p99{b} < 1s"], ["a", "c"])
    with pytest.raises(ThresholdError, match="several named targets"):
        parse_all(["p99{GET /} < 1s"], ["GET /"])
    assert len(parse_all(["p99{a} < 1s"], ["a", "b"])) == 1


def _summary() -> Summary:
    """Two seconds of 100 answers: 1..100 ms, then 101..200 ms with 8 503s, each second
    from its own endpoint (`fast`, then `slow`)."""
    out = Summary()
    for second, base, failed in ((1, 0, 0), (2, 100, 8)):
        hist = Histogram()
        hist.record_ns(np.arange(base + 1, base + 101, dtype=np.int64) * 1_000_000)
        snap = Snapshot(second=second, elapsed_s=1.0, started=100, completed=100,
                        ok=100 - failed, failed=failed,
                        status_codes=Counter({200: 100 - failed, 503: failed}), latency=hist,
                        service=hist.copy())
        name = "fast" if second == 1 else "slow"
        snap.endpoints = {name: EndpointStats(ok=snap.ok, failed=snap.failed, errors=snap.errors,
                                              latency=hist.copy())}
        out.add(snap)
    return out


def test_evaluation_is_on_the_exact_merged_histograms():
    s = _summary()
    results = evaluate(parse_all(["p50 < 101ms", "p99 < 190ms", "max <= 200ms", "rps > 100",
                                  "error_rate < 3%", "p50{slow} < 150ms",
                                  "requests{fast} >= 100"], ["fast", "slow"]), s)
    values = {r.threshold.expr: r.value for r in results}
    # the merge's median is the 100th of 200 answers: 100 ms, not an average of medians
    assert values["p50 < 101ms"] == pytest.approx(100.0, rel=1e-3)
    assert values["max <= 200ms"] == pytest.approx(200.0, rel=1e-3)
    assert values["rps > 100"] == pytest.approx(100.0)
    assert values["error_rate < 3%"] == pytest.approx(8 / 200)
    assert values["p50{slow} < 150ms"] == pytest.approx(150.0, rel=1e-2)
    passed = {r.threshold.expr: r.passed for r in results}
    assert passed == {"p50 < 101ms": True, "p99 < 190ms": False, "max <= 200ms": True,
                      "rps > 100": False, "error_rate < 3%": False, "p50{slow} < 150ms": False,
                      "requests{fast} >= 100": True}


def test_a_latency_threshold_with_no_response_fails():
    (result,) = evaluate(parse_all(["p99 < 1s"]), Summary())
    assert result.value is None and not result.passed
    assert result.to_dict() == {"expr": "p99 < 1s", "value": None, "pass": False, "unit": "ms"}


def test_the_spec_keeps_thresholds_and_names_bad_ones():
    spec = parse_spec({"url": "http://127.0.0.1:1/", "requests": 1,
                       "thresholds": "p99 < 1s\n\nerror_rate < 1%\n", "abort_on_fail": "on"})
    assert spec.thresholds == ("p99 < 1s", "error_rate < 1%") and spec.abort_on_fail
    assert parse_spec(spec.to_dict()).thresholds == spec.thresholds     # Run again
    with pytest.raises(SpecError) as bad:
        parse_spec({"url": "http://127.0.0.1:1/", "requests": 1, "thresholds": ["p99 <"]})
    assert bad.value.errors == {"thresholds": "line 1: 'p99 <' is not a threshold (e.g. p99 < "
                                "200ms, error_rate < 1%, rps >= 1000, p99{GET /search} < 300ms)"}


def test_junit_has_a_case_per_threshold_and_failures_carry_the_value():
    results = [{"expr": "p99 < 5ms", "value": 12.5, "pass": False, "unit": "ms"},
               {"expr": "rps >= 10", "value": 240.0, "pass": True, "unit": "/s"}]
    root = ET.fromstring(junit_xml(results, suite="api <prod>", duration_s=2.0).split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["p99 < 5ms", "rps >= 10"]
    failure = cases[0].find("failure")
    assert failure is not None and "12.5 ms" in failure.get("message", "")
    assert cases[1].find("failure") is None
