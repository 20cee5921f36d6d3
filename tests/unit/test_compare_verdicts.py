"""The statistics of comparisons (app/analysis/compare.py, bootstrap.py) on synthetic runs:
seeded, so every figure here is the same on every machine."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from app.analysis.bootstrap import (Bootstrap, Samples, _block_weights, block_length,
                                    unit_for, widening)
from app.analysis.compare import (METRICS, REGRESSION_KEYS, Side, Verdict, compare,
                                  effects_text, figures, regressions, side_of_result, text,
                                  to_json)
from app.engine.snapshot import Snapshot, Summary


def synthetic(seconds: int, rate: float, low_ms: float, high_ms: float, seed: int,
              error_share: float = 0.0, auto: bool = True) -> tuple[Side, Summary]:
    """A run of `seconds` seconds of Poisson(rate) responses with uniform latencies."""
    rng = np.random.default_rng(seed)
    samples, summary = Samples(auto=auto), Summary()
    for second in range(1, seconds + 1):
        n = int(rng.poisson(rate))
        bad = int(rng.binomial(n, error_share))
        snap = Snapshot(second=second, elapsed_s=1.0, completed=n, ok=n - bad, failed=bad)
        snap.latency.record_ns((rng.uniform(low_ms, high_ms, n) * 1e6).astype(np.int64))
        samples.add(second, 1.0, snap.ok, snap.failed, snap.errors, snap.completed,
                    snap.latency)
        summary.add(snap)
    return Side(figures(summary.to_dict()), samples), summary


def verdicts_of(a: Side, b: Side) -> dict[str, Verdict]:
    return {r.metric.key: r.verdict for r in compare([a, b])[0]}


def test_two_runs_of_one_distribution_are_the_same():
    a, _ = synthetic(10, 400, 0, 50, seed=1)
    b, _ = synthetic(10, 400, 0, 50, seed=2)
    got = verdicts_of(a, b)
    for key in ("p50", "p90", "p99", "mean", "rps", "error_rate"):
        assert got[key] is Verdict.SAME, key
    assert got["max"] is Verdict.UNTESTED


def test_slower_latency_is_worse_and_the_reverse_better():
    fast, _ = synthetic(6, 600, 10, 20, seed=3)
    slow, _ = synthetic(6, 300, 20, 40, seed=4)
    worse, better = verdicts_of(fast, slow), verdicts_of(slow, fast)
    for key in ("p50", "p90", "p99", "mean"):
        assert worse[key] is Verdict.WORSE and better[key] is Verdict.BETTER, key
    # fewer responses a second: req/s is higher-is-better
    assert worse["rps"] is Verdict.WORSE and better["rps"] is Verdict.BETTER


def test_the_interval_holds_the_difference_and_excludes_0_for_a_real_one():
    fast, _ = synthetic(6, 600, 10, 20, seed=3)
    slow, _ = synthetic(6, 300, 20, 40, seed=4)
    p50 = {r.metric.key: r for r in compare([fast, slow])[0]}["p50"]
    lo, hi = p50.interval
    assert 0 < lo <= p50.difference <= hi
    assert p50.difference == pytest.approx(15, abs=0.5)      # 15 ms -> 30 ms


def test_more_errors_are_worse_fewer_better():
    clean, _ = synthetic(10, 400, 0, 50, seed=5)
    failing, _ = synthetic(10, 400, 0, 50, seed=6, error_share=0.05)
    assert verdicts_of(clean, failing)["error_rate"] is Verdict.WORSE
    assert verdicts_of(failing, clean)["error_rate"] is Verdict.BETTER


def test_a_significant_difference_below_the_minimum_effect_is_the_same():
    # an hour of 2,000 req/s: +4 % on every latency is certain, and still not 5 %
    a, _ = synthetic(3600, 2000, 0, 50, seed=7)
    b, _ = synthetic(3600, 2000, 0, 52, seed=8)
    results = {r.metric.key: r for r in compare([a, b])[0]}
    p50 = results["p50"]
    assert p50.interval[0] > 0                        # significant...
    assert p50.verdict is Verdict.SAME and "minimum effect" in p50.reason   # ...but small
    assert a.samples.unit_s == 60 and len(a.samples) == 60


def test_too_few_seconds_to_tell():
    a, _ = synthetic(3, 400, 0, 20, seed=9)
    b, _ = synthetic(3, 400, 40, 60, seed=10)
    for r in compare([a, b])[0]:
        assert r.verdict is Verdict.UNTESTED
        if r.metric.key != "max":
            assert "too few seconds to tell" in r.reason
    # the difference is still given, with no interval
    p50 = compare([a, b])[0][0]
    assert p50.difference == pytest.approx(40, abs=1) and p50.interval is None


def test_a_percentile_needs_responses_beyond_it():
    a, _ = synthetic(6, 200, 0, 50, seed=11)      # ~1,200 responses: ~12 beyond p99
    b, _ = synthetic(6, 200, 0, 50, seed=12)
    got = {r.metric.key: r for r in compare([a, b])[0]}
    assert got["p999"].verdict is Verdict.UNTESTED and "beyond p99.9" in got["p999"].reason
    assert got["p99"].verdict is Verdict.SAME and got["p50"].verdict is Verdict.SAME
    c, _ = synthetic(6, 100, 0, 50, seed=13)      # ~600: 6 beyond p99, too few
    assert {r.metric.key: r.verdict for r in compare([a, c])[0]}["p99"] is Verdict.UNTESTED


def test_the_same_runs_give_the_same_answer():
    a, _ = synthetic(8, 300, 0, 50, seed=13)
    b, _ = synthetic(8, 300, 0, 55, seed=14)
    first, again = compare([a, b])[0], compare([a, b])[0]
    assert [r.to_dict() for r in first] == [r.to_dict() for r in again]
    # another seed: other resamples, other interval ends
    other = compare([a, b], seed=2)[0]
    assert [r.interval for r in first] != [r.interval for r in other]


def test_more_runs_each_against_the_first():
    a, _ = synthetic(6, 400, 10, 20, seed=15)
    b, _ = synthetic(6, 400, 10, 20, seed=16)
    c, _ = synthetic(6, 400, 30, 40, seed=17)
    ab, ac = compare([a, b, c])
    assert {r.metric.key: r.verdict for r in ab}["p50"] is Verdict.SAME
    assert {r.metric.key: r.verdict for r in ac}["p50"] is Verdict.WORSE
    # a run's verdicts do not depend on which other runs are compared
    assert [r.to_dict() for r in ab] == [r.to_dict() for r in compare([a, b])[0]]


def test_same_distribution_is_rarely_called_different():
    """Under the null the intervals exclude 0 about 5 % of the time or less, even with 6
    seconds (before the widening for few blocks: 23 % for p50, measured)."""
    pairs, excluded = 40, {"p50": 0, "p99": 0, "rps": 0}
    for k in range(pairs):
        a, _ = synthetic(6, 400, 0, 50, seed=100 + k)
        b, _ = synthetic(6, 400, 0, 50, seed=500 + k)
        for r in compare([a, b], resamples=400)[0]:
            if r.metric.key in excluded:
                excluded[r.metric.key] += not (r.interval[0] <= 0 <= r.interval[1])
    assert all(n <= 4 for n in excluded.values()), excluded       # <= 10 %


def test_bootstrap_statistics_match_the_exact_summary():
    side, summary = synthetic(20, 500, 1, 80, seed=18)
    boot = Bootstrap(side.samples, 200, np.random.default_rng(1), 0.95)
    exact = summary.to_dict()
    for p, key in ((50, "p50"), (90, "p90"), (99, "p99")):
        whole, each = boot.percentile(p)
        # the coarse buckets (1/128 of a power of two) keep a value within 0.8 %
        assert whole == pytest.approx(exact["latency_ms"][key], rel=0.008)
        assert np.isfinite(each).all() and each.std() > 0
    assert boot.ratio("responses", "elapsed_s")[0] == pytest.approx(exact["rps"], rel=1e-6)
    assert boot.ratio("sum_ns", "total", 1e-6)[0] == pytest.approx(
        exact["latency_ms"]["mean"], abs=1e-3)


def test_block_weights_draw_whole_runs_of_consecutive_units():
    rng = np.random.default_rng(1)
    weights = _block_weights(10, 3, 50, rng)
    assert weights.shape == (50, 10) and (weights.sum(axis=1) == 10).all()
    one = _block_weights(7, 7, 1, np.random.default_rng(2))
    assert (one == 1).all()           # a block as long as the run, circular: every unit once
    assert [block_length(n) for n in (5, 7, 8, 60, 1799)] == [1, 1, 2, 3, 12]


def test_widening_for_few_blocks():
    assert widening(6, 0.95) == pytest.approx(2.571 / 1.96 * math.sqrt(6 / 5), rel=0.01)
    assert widening(1000, 0.95) == pytest.approx(1.0, abs=0.01)
    assert widening(1, 0.95) == math.inf


def test_units_grow_with_the_run_and_keep_every_count():
    assert [unit_for(n) for n in (1, 1799, 1800, 107_999, 108_000)] == [1, 1, 60, 60, 3600]
    side, summary = synthetic(1830, 5, 1, 10, seed=19)
    samples = side.samples
    assert samples.unit_s == 60 and len(samples) == 31        # 30 minutes and 30 seconds
    named, _, counts = samples.arrays()
    assert named["responses"].sum() == summary.total.responses
    assert counts.sum() == summary.total.latency.total
    assert named["elapsed_s"].sum() == pytest.approx(1830)


def test_samples_survive_their_json_form():
    a, _ = synthetic(8, 300, 0, 50, seed=20)
    b, _ = synthetic(8, 300, 5, 70, seed=21)
    back = Samples.from_json(json.loads(json.dumps(a.samples.to_json())))
    again = compare([Side(a.figures, back), b])[0]
    assert [r.to_dict() for r in again] == [r.to_dict() for r in compare([a, b])[0]]


@pytest.mark.parametrize("breaking", [
    lambda d: d.update(format=99), lambda d: d.pop("units"),
    lambda d: d["latency"].update(counts_b64="!!"), lambda d: d["latency"].update(buckets=-1),
    lambda d: d.update(responses=d["responses"][:-1]),
    lambda d: d.update(unit_s=7)])
def test_broken_samples_are_refused_saying_so(breaking):
    a, _ = synthetic(6, 50, 0, 50, seed=22)
    data = json.loads(json.dumps(a.samples.to_json()))
    breaking(data)
    with pytest.raises(ValueError, match="samples"):
        Samples.from_json(data)


def test_a_summary_without_samples_is_compared_untested():
    a, summary = synthetic(6, 300, 0, 50, seed=23)
    bench_output = summary.to_dict()                  # a --json file of before the samples
    old = side_of_result(bench_output)
    assert old.samples is None and old.figures == a.figures
    results = compare([old, a])[0]
    assert all(r.verdict is Verdict.UNTESTED for r in results)
    assert "without per-second samples" in results[0].reason
    with pytest.raises(ValueError, match="bench --json"):
        side_of_result({"rps": 1})


def test_regressions_text_and_json():
    fast, _ = synthetic(6, 600, 10, 20, seed=3)
    slow, _ = synthetic(6, 300, 20, 40, seed=4)
    results = compare([fast, slow])[0]
    assert regressions(results) == ["p50", "p99", "rps"]
    assert set(REGRESSION_KEYS) == {"p50", "p99", "rps", "error_rate"}
    lines = text(results, "run #1")
    assert lines[0].startswith("Compared with run #1") and len(lines) == 2 + len(METRICS)
    assert any(line.split()[0] == "p50" and line.endswith("worse") for line in lines)
    answer = json.loads(json.dumps(to_json([1, 2], [fast, slow], [results])))
    assert answer["runs"][1]["units"] == 6 and answer["comparisons"][0]["baseline"] == 1
    p50 = answer["comparisons"][0]["metrics"]["p50"]
    assert p50["verdict"] == "worse" and p50["interval"][0] > 0 and p50["min_effect"] == 1.0
    assert "5% and at least 1.00 ms for latency" in effects_text()


# -- per-endpoint verdicts -------------------------------------------------------------------

def synthetic_endpoints(seconds: int, slow: str | None, seed: int,
                        names: tuple[str, ...] = ("GET /a", "GET /b", "GET /c")
                        ) -> tuple[Side, dict]:
    """A run whose endpoints each answer ~200 responses a second in 10-20 ms; `slow` in
    20-40 ms instead. Units built as app/store/samples.py builds them."""
    from app.engine.snapshot import EndpointStats
    from app.store.samples import add, add_endpoints
    rng = np.random.default_rng(seed)
    samples, summary = Samples(), Summary()
    of = {name: Samples() for name in names}
    for second in range(1, seconds + 1):
        snap = Snapshot(second=second, elapsed_s=1.0)
        for name in names:
            n = int(rng.poisson(200))
            low, high = (20, 40) if name == slow else (10, 20)
            e = EndpointStats(ok=n)
            e.latency.record_ns((rng.uniform(low, high, n) * 1e6).astype(np.int64))
            snap.endpoints[name] = e
            snap.ok += n
            snap.completed += n
            snap.latency.add(e.latency)
        add(samples, second, 1.0, snap)
        add_endpoints(of, second, 1.0, snap)
        summary.add(snap)
    summary_dict = summary.to_dict()
    from app.analysis.compare import endpoint_figures
    return Side(figures(summary_dict), samples,
                {name: Side(endpoint_figures(summary_dict["endpoints"][name]), of[name])
                 for name in names}), summary_dict


def test_an_endpoint_made_slower_is_worse_the_others_same():
    from app.analysis.compare import compare_endpoints, endpoints_to_test
    a, sa = synthetic_endpoints(10, None, seed=11)
    b, sb = synthetic_endpoints(10, "GET /b", seed=12)
    names, rest = endpoints_to_test([sa, sb])
    assert names == ["GET /a", "GET /b", "GET /c"] and rest == []
    got = compare_endpoints([a, b], names)[0]
    verdict = {n: {r.metric.key: r.verdict for r in rs} for n, rs in got.items()}
    assert verdict["GET /b"]["p50"] is Verdict.WORSE and verdict["GET /b"]["p99"] is Verdict.WORSE
    for name in ("GET /a", "GET /c"):
        assert set(verdict[name].values()) == {Verdict.SAME}, (name, verdict[name])
    assert verdict["GET /b"]["rps"] is Verdict.SAME
    # the reverse is better; seeded: the same answer every time
    back = compare_endpoints([b, a], names)[0]
    assert {r.metric.key: r.verdict for r in back["GET /b"]}["p50"] is Verdict.BETTER
    assert [r.to_dict() for r in compare_endpoints([a, b], names)[0]["GET /b"]] == [
        r.to_dict() for r in got["GET /b"]]
    # in the JSON answer, per comparison
    answer = json.loads(json.dumps(to_json([1, 2], [a, b], compare([a, b]), [got])))
    assert answer["comparisons"][0]["endpoints"]["GET /b"]["p50"]["verdict"] == "worse"
    assert set(answer["comparisons"][0]["endpoints"]["GET /a"]) == {
        "p50", "p99", "rps", "error_rate"}


def test_endpoint_verdicts_follow_the_run_level_untested_rules():
    from app.analysis.compare import compare_endpoints
    a, _ = synthetic_endpoints(4, None, seed=13)          # 4 seconds: too few
    b, _ = synthetic_endpoints(4, "GET /b", seed=14)
    got = compare_endpoints([a, b], ["GET /b"])[0]["GET /b"]
    assert {r.verdict for r in got} == {Verdict.UNTESTED}
    assert "too few seconds to tell" in got[0].reason
    # a baseline without samples (a summary only)
    c, _ = synthetic_endpoints(10, None, seed=15)
    bare = Side(c.figures, None, {n: Side(s.figures) for n, s in c.endpoints.items()})
    got = compare_endpoints([bare, c], ["GET /a"])[0]["GET /a"]
    assert {r.verdict for r in got} == {Verdict.UNTESTED}
    assert "without per-second samples" in got[0].reason


def test_only_the_busiest_endpoints_are_tested():
    from app.analysis.compare import MAX_ENDPOINTS, compare_endpoints, endpoints_to_test
    names = tuple(f"GET /{k}" for k in range(MAX_ENDPOINTS + 2))
    summaries = [{"endpoints": {n: {"requests": 100 + k} for k, n in enumerate(names)}}] * 2
    tested, rest = endpoints_to_test(summaries)
    assert len(tested) == MAX_ENDPOINTS and rest == ["GET /0", "GET /1"]
    a, _ = synthetic_endpoints(6, None, seed=16, names=("GET /0", "GET /2"))
    got = compare_endpoints([a, a], ["GET /2"], ["GET /0"])[0]
    assert {r.verdict for r in got["GET /0"]} == {Verdict.UNTESTED}
    assert f"only the {MAX_ENDPOINTS} endpoints with the most requests" in got["GET /0"][0].reason
