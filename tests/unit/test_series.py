"""A run's rows at any resolution: the record is exact, rollups equal their seconds,
covers pick exactly the seconds asked for, and a step's point is the merge of its
seconds whatever rows it was read from."""
from __future__ import annotations

import random

import pytest

from app.engine.histogram import Histogram
from app.engine.record import RecordError, decode_record, encode_record
from app.engine.series import (SPANS, Rollups, buckets, cover, default_step, expand,
                               merged)
from app.engine.snapshot import EndpointStats, Health, Snapshot, Summary


def second(n: int, rng: random.Random, *, endpoints: bool = False, open_model: bool = False,
           most: int = 300) -> Snapshot:
    latencies = [rng.randint(100_000, 200_000_000) for _ in range(rng.randint(0, most))]
    snap = Snapshot(second=n, elapsed_s=1.0 + rng.random() / 100, started=len(latencies) + 2,
                    completed=len(latencies) + 1, ok=len(latencies), errors=1,
                    bytes_received=100 * len(latencies), in_flight=rng.randint(0, 9),
                    max_in_flight=10, late_starts=rng.randint(0, 3),
                    error_classes={"connect_timeout": 1},
                    error_samples={"connect_timeout": "timed out after 1 s"},
                    health=Health(rng.randint(1, 9) * 2**20, rng.random(), rng.random()))
    snap.status_codes[200] = len(latencies)
    snap.latency.record_ns(latencies)
    if open_model:        # waits for a slot: service shorter than latency
        snap.service.record_ns([v - rng.randint(0, 1000) for v in latencies])
    else:
        snap.service.add(snap.latency)
    if endpoints:
        for name in ("GET /a", "POST /b"):
            e = EndpointStats(ok=len(latencies) // 2, errors=1)
            e.status_codes[200] = len(latencies) // 2
            e.error_classes["connect_timeout"] = 1
            e.latency.record_ns(latencies[: len(latencies) // 2])
            snap.endpoints[name] = e
    return snap


def same(a: Snapshot, b: Snapshot) -> None:
    assert a.to_view() == b.to_view()
    assert a.latency == b.latency and a.service == b.service and a.health == b.health
    assert {n: (e.ok, e.failed, e.errors, e.status_codes, e.error_classes, e.latency)
            for n, e in a.endpoints.items()} == \
        {n: (e.ok, e.failed, e.errors, e.status_codes, e.error_classes, e.latency)
         for n, e in b.endpoints.items()}


@pytest.mark.parametrize("endpoints", [False, True])
@pytest.mark.parametrize("open_model", [False, True])
def test_a_record_gives_back_the_snapshot_exactly(endpoints, open_model):
    rng = random.Random(7)
    snap = second(5, rng, endpoints=endpoints, open_model=open_model)
    back = decode_record(encode_record(snap), 5)
    same(back, snap)
    assert back.elapsed_s == snap.elapsed_s and back.health.cpu_seconds == snap.health.cpu_seconds


def test_the_service_histogram_is_stored_only_when_it_differs():
    closed, opened = (Snapshot(second=1, elapsed_s=1.0), Snapshot(second=1, elapsed_s=1.0))
    rng = random.Random(3)
    latencies = [rng.randint(1_000_000, 200_000_000) for _ in range(5000)]
    for snap in (closed, opened):
        snap.latency.record_ns(latencies)
    closed.service.record_ns(latencies)
    opened.service.record_ns([v - 500_000 for v in latencies])
    assert len(encode_record(closed)) < 0.6 * len(encode_record(opened))
    assert decode_record(encode_record(closed), 1).service == closed.latency


def test_an_empty_second_and_garbage():
    empty = Snapshot(second=3, elapsed_s=0.7)
    same(decode_record(encode_record(empty), 3), empty)
    for junk in (b"", b"\x00" * 10, encode_record(empty)[:-3]):
        with pytest.raises(RecordError, match="second 9"):
            decode_record(junk, 9)


def test_rollups_are_the_exact_merge_of_their_seconds():
    rng = random.Random(11)
    seconds = [second(n, rng, endpoints=True, most=5) for n in range(1, 3 * 3600 + 75)]
    seconds = [s for s in seconds if s.second not in (59, 3700)]      # gaps happen
    rollups, rows = Rollups(), {}
    for s in seconds:
        rows.update(rollups.add(s))
    rows.update(rollups.close())
    by_second = {s.second: s for s in seconds}
    for (span, start), row in rows.items():
        assert (start - 1) % span == 0
        parts = [by_second[k] for k in range(start, start + span) if k in by_second]
        same(row, merged(start, parts))
    assert {k for k in rows if k[0] == 3600} == {(3600, 1), (3600, 3601), (3600, 7201),
                                                 (3600, 10801)}
    assert (60, 10861) in rows and (60, 10801) in rows     # the last, partial minute too


@pytest.mark.parametrize("lo, hi, last", [(1, 86400, 86400), (17, 7300, 9000), (1, 90, 90),
                                          (61, 61, 5000), (3599, 3662, 4000), (1, 5, 3)])
def test_a_cover_holds_exactly_the_seconds_asked_for(lo, hi, last):
    keys = cover(lo, hi, last)
    seconds = [s for span, start in keys for s in range(start, start + span)]
    assert seconds == sorted(seconds)
    assert [s for s in seconds if s <= last] == [s for s in range(lo, hi + 1) if s <= last]
    assert all((start - 1) % span == 0 for span, start in keys)
    assert all(start + span - 1 <= hi or hi >= last for span, start in keys)


def test_covers_are_small():
    assert cover(1, 86400, 86400) == [(3600, 1 + 3600 * h) for h in range(24)]
    assert len(cover(17, 86000, 86400)) < 200
    assert cover(1, 90, 90) == [(3600, 1)]       # the run ended at 90: its partial hour
    assert cover(1, 90, 200) == [(60, 1)] + [(1, s) for s in range(61, 91)]


def test_steps_and_their_defaults():
    assert default_step(1, 86400) == 60 and default_step(1, 2000) == 1
    assert default_step(1, 2001) == 60 and default_step(1, 10 * 86400) == 3600
    assert default_step(1, 400 * 86400) == 18000
    assert buckets(1, 10, 4) == [(1, 4), (5, 8), (9, 10)]
    assert buckets(3, 10, 4) == [(3, 4), (5, 8), (9, 10)]    # aligned: rollups fit
    assert expand((3600, 3601)) == [(60, 3601 + 60 * k) for k in range(60)]
    assert expand((60, 61)) == [(1, s) for s in range(61, 121)]
    assert SPANS == (1, 60, 3600)


def test_a_window_summary_equals_the_summary_of_its_seconds():
    rng = random.Random(5)
    seconds = [second(n, rng) for n in range(1, 200)]
    rollups, rows = Rollups(), {}
    for s in seconds:
        rows.update(rollups.add(s))
    rows.update(rollups.close())
    for lo, hi in [(1, 199), (30, 150), (61, 120), (100, 100)]:
        keys = cover(lo, hi, 199)
        from_rows = Summary.of(rows[k] for k in keys)
        direct = Summary.of(s for s in seconds if lo <= s.second <= hi)
        assert from_rows.to_dict() == direct.to_dict()
        assert from_rows.total.latency == direct.total.latency
