import numpy as np
import pytest

from app.engine.histogram import Histogram


@pytest.fixture
def values():
    rng = np.random.default_rng(7)
    # latencies from ~50 µs to several seconds, in ns
    return np.concatenate([rng.lognormal(15, 1.2, 40_000), rng.uniform(1e6, 3e9, 10_000)]).astype(np.int64)


@pytest.mark.parametrize("p", [0, 1, 25, 50, 75, 90, 99, 99.9, 99.99, 100])
def test_percentiles_match_numpy_within_a_thousandth(values, p):
    h = Histogram()
    h.record_ns(values)
    expected = np.percentile(values, p, method="inverted_cdf") / 1e6
    assert h.percentile_ms(p) == pytest.approx(expected, rel=1e-3, abs=0.002)


def test_merge_is_exact_and_equals_recording_everything(values):
    parts = np.array_split(values, 7)
    merged = Histogram()
    for part in parts:
        h = Histogram()
        h.record_ns(part)
        merged.add(h)
    whole = Histogram()
    whole.record_ns(values)
    assert merged == whole
    assert merged.total == len(values)
    assert merged.min_ns == values.min() and merged.max_ns == values.max()
    assert merged.mean_ms() == pytest.approx(values.mean() / 1e6)


def test_merged_percentiles_are_not_averaged_percentiles():
    fast, slow = Histogram(), Histogram()
    fast.record_ns([1_000_000] * 99)        # 99 requests at 1 ms
    slow.record_ns([1_000_000_000])         # 1 request at 1 s
    merged = fast.copy()
    merged.add(slow)
    assert merged.percentile_ms(50) == pytest.approx(1.0, rel=1e-3)
    assert merged.percentile_ms(99.5) == pytest.approx(1000.0, rel=1e-3)


def test_encode_decode_round_trip(values):
    h = Histogram()
    h.record_ns(values)
    assert Histogram.decode(h.encode()) == h
    assert Histogram.decode(Histogram().encode()) == Histogram()


def test_out_of_range_values_are_clamped_not_lost():
    h = Histogram()
    h.record_ns([10, 120 * 10**9])    # 10 ns and 120 s
    assert h.total == 2
    assert h.max_ns == 120 * 10**9 and h.percentile_ms(100) == 120_000.0


def test_empty_histogram():
    h = Histogram()
    assert h.percentiles_ms([50, 99]) == [0.0, 0.0]
    assert h.mean_ms() == 0.0
