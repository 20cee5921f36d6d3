from app.engine.histogram import Histogram
from app.engine.snapshot import Health, Snapshot, Summary


def snap(second, elapsed, completed, cpu_s, latencies_ms, rss_mb=50):
    s = Snapshot(second=second, elapsed_s=elapsed, completed=completed, ok=completed,
                 health=Health(rss_bytes=rss_mb * 2**20,
                               loop_lag_ms=1.0, cpu_seconds=cpu_s))
    s.status_codes[200] = completed
    s.latency.record_ns([int(ms * 1e6) for ms in latencies_ms])
    return s


def test_worker_snapshots_of_one_second_merge_exactly():
    a, b = snap(1, 1.0, 2, 0.5, [1, 2], rss_mb=40), snap(1, 1.02, 3, 0.7, [3, 4, 100], rss_mb=60)
    a.merge(b)
    assert a.completed == 5 and a.status_codes[200] == 5 and a.elapsed_s == 1.02
    assert a.latency.total == 5 and a.latency.max_ns == 100_000_000
    assert a.health.rss_bytes == 100 * 2**20 and a.health.cpu_seconds == 1.2


def test_summary_adds_seconds_and_cpu_time_not_percentages():
    summary = Summary()
    # a late tick: the second snapshot covers 2.5 s of a fully busy core
    for s in (snap(1, 1.0, 10, 1.0, [5] * 10), snap(2, 2.5, 25, 2.5, [7] * 25),
              snap(3, 0.5, 5, 0.5, [9] * 5)):
        summary.add(s)
    d = summary.to_dict()
    assert d["duration_s"] == 4.0 and d["requests"] == 40 and d["rps"] == 10.0
    assert d["cpu_percent"] == 100.0
    assert d["latency_ms"]["max"] == 9.0
    assert d["percentile_curve"][-1] == [100.0, 9.0]


def test_stored_snapshot_round_trips():
    s = snap(4, 1.0, 3, 0.25, [1, 2, 3])
    back = Snapshot.from_stored(s.to_view(), Histogram.decode(s.latency.encode()), s.service)
    assert back.to_view() == s.to_view()
