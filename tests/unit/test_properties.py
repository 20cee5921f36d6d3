"""Property-based checks of the pure statistics: whatever the requests, cut points
and worker count, the recorded snapshots add up to what happened."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.pacing import Pacer
from app.engine.recorder import Recorder
from app.engine.snapshot import Health, Snapshot, Summary
from app.spec import Stage

# One worker's life: sends, answers (status), transport errors and once-a-second ticks.
_OPS = st.lists(st.one_of(
    st.just("send"), st.just("tick"), st.just("error"),
    st.tuples(st.sampled_from([200, 201, 302, 404, 500, 503]),
              st.integers(0, 5_000_000_000),        # service time, ns
              st.integers(0, 2_000_000_000))),      # wait for a slot before the send, ns
    max_size=300)


def _play(ops, recorder: Recorder) -> tuple[list[Snapshot], dict]:
    """Feed the ops to a recorder; returns its snapshots and what truly happened."""
    truth = {"sent": 0, "responses": [], "errors": 0, "peak": 0}
    in_flight, snaps, clock = 0, [], 0
    for op in ops:
        if op == "send":
            recorder.sent()
            in_flight += 1
            truth["sent"] += 1
            truth["peak"] = max(truth["peak"], in_flight)
        elif op == "tick":
            snaps.append(recorder.snapshot(len(snaps) + 1, 1.0, Health(cpu_seconds=0.1)))
        elif in_flight == 0:
            continue                                   # nothing in flight to finish
        elif op == "error":
            recorder.error(ConnectionRefusedError())
            in_flight -= 1
            truth["errors"] += 1
        else:
            status, service, wait = op
            due = clock
            sent = due + wait
            clock = end = sent + service
            recorder.response(status, 10, due, sent, end)
            in_flight -= 1
            truth["responses"].append((status, end - due, end - sent))
    snaps.append(recorder.snapshot(len(snaps) + 1, 0.3, Health(cpu_seconds=0.01)))
    return snaps, truth


@settings(max_examples=150, deadline=None)
@given(_OPS)
def test_snapshots_add_up_to_what_happened(ops):
    snaps, truth = _play(ops, Recorder())
    summary = Summary()
    for snap in snaps:
        summary.add(snap)
    d = summary.to_dict()
    responses = truth["responses"]
    assert d["started"] == truth["sent"]
    assert d["requests"] == len(responses) + truth["errors"]
    assert d["errors"] == truth["errors"]
    assert d["ok"] == sum(1 for s, _, _ in responses if s < 400)
    assert d["failed"] == sum(1 for s, _, _ in responses if s >= 400)
    assert sum(d["status_codes"].values()) == len(responses)
    assert d["bytes"] == 10 * len(responses)
    assert d["max_in_flight"] == truth["peak"]
    if not responses:
        assert set(d["latency_ms"].values()) == {None} and d["percentile_curve"] == []
        return
    latency = np.array([lat for _, lat, _ in responses])
    assert d["latency_ms"]["max"] == latency.max() / 1e6       # exact, not bucketed
    assert d["latency_ms"]["min"] == latency.min() / 1e6
    for p in (50.0, 90.0, 99.0):
        exact = float(np.percentile(latency, p, method="inverted_cdf")) / 1e6
        assert math.isclose(d["latency_ms"][f"p{p:g}"], exact, rel_tol=2e-3, abs_tol=2e-3)  # 1 µs buckets at the bottom
    for key in ("p50", "p90", "p99", "p999", "max"):
        assert d["latency_ms"][key] >= d["service_ms"][key] >= 0


@settings(max_examples=100, deadline=None)
@given(st.lists(_OPS, min_size=1, max_size=3))
def test_workers_merge_per_second_exactly(workers_ops):
    """Per-second merges across workers, then the run: the same totals either way."""
    played = [_play(ops, Recorder()) for ops in workers_ops]
    by_second: dict[int, Snapshot] = {}
    for snaps, _ in played:
        for snap in snaps:
            if snap.second in by_second:
                by_second[snap.second].merge(snap)
            else:
                by_second[snap.second] = snap
    merged = Summary()
    for second in sorted(by_second):
        merged.add(by_second[second])
    d = merged.to_dict()
    assert d["started"] == sum(t["sent"] for _, t in played)
    assert d["requests"] == sum(len(t["responses"]) + t["errors"] for _, t in played)
    assert merged.total.latency.total == sum(len(t["responses"]) for _, t in played)
    # each worker's peak is exact; their sum bounds the simultaneous one
    assert max(t["peak"] for _, t in played) <= d["max_in_flight"] <= sum(
        t["peak"] for _, t in played)


@settings(max_examples=100, deadline=None)
@given(_OPS, st.floats(0.001, 0.499))
def test_folding_the_last_interval_changes_no_total(ops, tail_s):
    snaps, _ = _play(ops, Recorder())
    tail = Snapshot(second=len(snaps) + 1, elapsed_s=tail_s, started=3, completed=2, ok=2,
                    health=Health(cpu_seconds=0.2))
    tail.status_codes[200] = 2
    tail.latency.record_ns([1_000_000, 2_000_000])
    tail.service.record_ns([1_000_000, 2_000_000])
    apart, folded = Summary(), Summary()
    for snap in [*snaps, tail]:
        apart.add(_copy(snap))
    head = [_copy(s) for s in snaps]
    head[-1].extend(tail)
    for snap in head:
        folded.add(snap)
    a, f = apart.to_dict(), folded.to_dict()
    for key in ("requests", "started", "ok", "failed", "errors", "bytes", "status_codes",
                "latency_ms", "service_ms", "duration_s", "cpu_percent", "percentile_curve"):
        assert a[key] == f[key], key
    assert head[-1].elapsed_s >= 0.3 + tail_s - 1e-9


def _copy(snap: Snapshot) -> Snapshot:
    out = Snapshot(second=snap.second, elapsed_s=snap.elapsed_s)
    out.merge(snap)
    return out


@settings(max_examples=150, deadline=None)
@given(st.floats(0.5, 5_000), st.lists(st.tuples(st.floats(0.1, 5.0), st.floats(0, 5_000)),
                                        max_size=4))
def test_the_schedule_is_ordered_and_follows_the_rate(rate, stages):
    pacer = Pacer(rate, tuple(Stage(d, r) for d, r in stages))
    total_s = sum(d for d, _ in stages) + 1.0
    expected = 0.0   # requests due in [0, total_s): the integral of the rate
    r0 = rate
    for d, r1 in stages:
        expected += (r0 + r1) / 2 * d
        r0 = r1
    expected += r0 * 1.0
    previous, count, index = 0.0, 0, 0
    while count < 50_000:
        due = pacer.due_s(index)
        if due is None or due >= total_s:
            break
        assert due >= previous - 1e-9, "due times never go back"
        previous, count, index = due, count + 1, index + 1
    if count < 50_000:
        assert abs(count - expected) <= 1 + 1e-6 * expected
