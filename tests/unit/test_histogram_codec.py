"""Histogram.to_bytes / from_bytes: the compact varint form is exact, compact, and
turns bad input into ValueError."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.histogram import SIZE, Histogram

MS = 1_000_000


def _recorded(values_ns) -> Histogram:
    h = Histogram()
    h.record_ns(np.asarray(values_ns, dtype=np.int64))
    return h


def _made(lo: int, counts, sum_ns: int = 0, min_ns: int = 0, max_ns: int = 0) -> Histogram:
    """A histogram set field by field: counts no recording could reach in a test."""
    h = Histogram()
    h.lo, h.counts = lo, np.asarray(counts, dtype=np.int64)
    h.total = sum(int(c) for c in h.counts)
    h.sum_ns, h.min_ns, h.max_ns = sum_ns, min_ns, max_ns
    return h


def _round_trip(h: Histogram) -> Histogram:
    data = h.to_bytes()
    back = Histogram.from_bytes(data)
    assert back == h
    assert back.total == h.total
    assert (back.sum_ns, back.min_ns, back.max_ns) == (h.sum_ns, h.min_ns, h.max_ns)
    assert back.counts.dtype == np.int64
    nz = np.flatnonzero(h.counts)
    if len(nz):
        # the decoded range is exactly first .. last non-zero bucket
        assert back.lo == h.lo + nz[0]
        assert np.array_equal(back.counts, h.counts[nz[0]:nz[-1] + 1])
    else:
        assert back.lo == 0 and len(back.counts) == 0
    # any buffer will do, not only bytes
    assert Histogram.from_bytes(memoryview(data)) == h
    assert Histogram.from_bytes(bytearray(data)) == h
    return back


def _merged() -> Histogram:
    rng = np.random.default_rng(3)
    total = Histogram()
    for second in range(20):
        part = _recorded(rng.lognormal(15 + second % 4, 1.0, 2_000))
        total.add(part)
    return total


@pytest.mark.parametrize("h", [
    pytest.param(Histogram(), id="empty"),
    pytest.param(_recorded([3 * MS]), id="one value"),
    pytest.param(_recorded(np.linspace(0, 200 * MS, 5_000)), id="spread 0-200 ms"),
    pytest.param(_made(40, [2**62, 0, 0, 0, 0, 0, 7, 0, 1, 0, 0, 2**62],
                       sum_ns=2**70, min_ns=1, max_ns=60 * 10**9),
                 id="huge counts, zero runs"),
    pytest.param(_recorded(np.random.default_rng(11).integers(0, 70 * 10**9, 30_000)),
                 id="random 0-70 s"),
    pytest.param(_merged(), id="merged"),
])
def test_round_trip_is_exact(h):
    _round_trip(h)


def test_empty_is_a_short_fixed_form():
    assert Histogram().to_bytes() == b"\x02\x00\x00\x00\x00\x00"
    back = Histogram.from_bytes(b"\x02\x00\x00\x00\x00\x00")
    assert (back.lo, len(back.counts), back.total, back.sum_ns, back.min_ns,
            back.max_ns) == (0, 0, 0, 0, 0, 0)


def test_the_bytes_are_the_documented_format():
    h = _made(5, [3, 0, 1, 0, 0, 0, 200], sum_ns=300, min_ns=-2, max_ns=64)
    assert h.to_bytes() == bytes([
        2,                  # version
        5,                  # first non-zero bucket
        0xD8, 0x04,         # zz(300) = 600
        3,                  # zz(-2)
        0x80, 0x01,         # zz(64) = 128
        5,                  # entries
        6, 0, 2,            # 3, a lone empty bucket, 1
        5,                  # zz(-3): three empty buckets
        0x90, 0x03,         # zz(200) = 400
    ])


def test_zeros_at_either_end_of_the_range_are_not_written():
    h = _made(100, [0, 0, 0, 4, 0, 9, 0, 0], sum_ns=1, min_ns=1, max_ns=1)
    assert h.to_bytes() == _made(103, [4, 0, 9], 1, 1, 1).to_bytes()
    back = _round_trip(h)
    assert back.lo == 103 and back.counts.tolist() == [4, 0, 9]
    assert _made(7, [0, 0, 0]).to_bytes() == Histogram().to_bytes()


@pytest.mark.parametrize("bits", range(1, 64))
def test_counts_take_the_bytes_their_bit_length_needs(bits):
    for count in (1 << bits - 1, (1 << bits) - 1):
        h = _made(0, [count])
        data = h.to_bytes()
        # six header bytes, then zz(count) = 2 * count in 7-bit groups
        assert len(data) == 6 + (bits + 1 + 6) // 7
        _round_trip(h)


def test_wide_and_narrow_entries_mixed():
    rng = np.random.default_rng(5)
    counts = rng.integers(1, 2**63 - 1, 3_000, dtype=np.int64) >> rng.integers(0, 63, 3_000)
    counts[rng.random(3_000) < 0.3] = 0
    counts[0] = counts[-1] = 2**63 - 1
    _round_trip(_made(17, counts, sum_ns=2**90, min_ns=0, max_ns=2**64))


def test_negative_counts_are_refused():
    with pytest.raises(ValueError, match="negative"):
        _made(0, [1, -1, 1]).to_bytes()


def test_size_of_a_busy_second_is_compact():
    h = _recorded(np.random.default_rng(2024).uniform(0, 200 * MS, 20_000))
    data = h.to_bytes()
    assert len(data) < 8000
    assert len(zlib.compress(data, 6)) < 3000


# -- properties --------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 70 * 10**9), max_size=400),
       st.lists(st.integers(0, 70 * 10**9), max_size=50))
def test_recorded_latencies_round_trip(values, more):
    h = _recorded(values)
    if more:
        h.add(_recorded(more))
    _round_trip(h)


_COUNT = st.one_of(st.integers(1, 100), st.integers(1, 2**63 - 1),
                   st.sampled_from([2**62, 2**63 - 1, 63, 64, 127, 128, 2**56 - 1, 2**56]))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.integers(0, SIZE - 1), _COUNT, min_size=1, max_size=60),
       st.integers(0, 3), st.integers(0, 3),
       st.integers(-2**100, 2**100), st.integers(-2**70, 2**70), st.integers(0, 2**70))
def test_sparse_big_counts_round_trip(buckets, pad_lo, pad_hi, sum_ns, min_ns, max_ns):
    first, last = min(buckets), max(buckets)
    pad_lo = min(pad_lo, first)
    pad_hi = min(pad_hi, SIZE - 1 - last)
    lo = first - pad_lo
    counts = np.zeros(last - lo + 1 + pad_hi, dtype=np.int64)
    for index, count in buckets.items():
        counts[index - lo] = count
    _round_trip(_made(lo, counts, sum_ns, min_ns, max_ns))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_value_error(data):
    try:
        h = Histogram.from_bytes(data)
    except ValueError:
        return
    # whatever decodes is a histogram that encodes back to itself
    assert Histogram.from_bytes(h.to_bytes()) == h


# -- bad input ---------------------------------------------------------------------

_SAMPLES = [
    _recorded([3 * MS]),
    _recorded(np.random.default_rng(1).uniform(0, 200 * MS, 500)),
    _made(40, [2**62, 0, 0, 0, 7, 0, 2**63 - 1], sum_ns=2**70, min_ns=1, max_ns=9),
]


@pytest.mark.parametrize("h", _SAMPLES)
def test_every_truncation_is_a_value_error(h):
    data = h.to_bytes()
    for end in range(len(data)):
        with pytest.raises(ValueError):
            Histogram.from_bytes(data[:end])


@pytest.mark.parametrize("h", [Histogram(), *_SAMPLES])
def test_trailing_bytes_are_a_value_error(h):
    for extra in (b"\x00", b"\x01", b"\x85\x01"):
        with pytest.raises(ValueError):
            Histogram.from_bytes(h.to_bytes() + extra)


@pytest.mark.parametrize("version", [0, 1, 3, 0x82, 255])
def test_a_wrong_version_is_a_value_error(version):
    data = bytearray(_SAMPLES[1].to_bytes())
    data[0] = version
    with pytest.raises(ValueError, match="version"):
        Histogram.from_bytes(bytes(data))


def test_random_bytes_are_a_value_error():
    rng = np.random.default_rng(9)
    for size in (1, 2, 7, 64, 1_000, 50_000):
        data = rng.integers(0, 256, size, dtype=np.uint8)
        data[0] = rng.choice([0, 1, 3, 200])
        with pytest.raises(ValueError):
            Histogram.from_bytes(data.tobytes())
        data[0] = 2
        with pytest.raises(ValueError):
            Histogram.from_bytes(data.tobytes())


@pytest.mark.parametrize("data", [
    pytest.param(b"", id="nothing"),
    pytest.param(b"\x02", id="version only"),
    pytest.param(b"\x02\x00\x00\x00\x00", id="header cut"),
    pytest.param(b"\x02\x00\x02\x00\x00\x00", id="empty with a sum"),
    pytest.param(b"\x02" + b"\xff" * 40, id="header number too long"),
    pytest.param(b"\x02\x05\x00\x00\x00\x02\x02", id="fewer entries than announced"),
    pytest.param(b"\x02\x05\x00\x00\x00\x01\x02\x02", id="more entries than announced"),
    pytest.param(b"\x02\x05\x00\x00\x00\x01\x82", id="unfinished entry"),
    pytest.param(b"\x02\x05\x00\x00\x00\x02\x00\x02", id="starts with an empty bucket"),
    pytest.param(b"\x02\x05\x00\x00\x00\x02\x02\x05", id="ends with empty buckets"),
    pytest.param(b"\x02\x05\x00\x00\x00\x01\x03", id="starts with a run"),
    pytest.param(b"\x02\x05\x00\x00\x00\x03\x02\xff\xff\x03\x02", id="run too long"),
    pytest.param(b"\x02\x85\x88\x01\x00\x00\x00\x01\x02",        # lo = SIZE + 5
                 id="first bucket out of range"),
    pytest.param(b"\x02\xff\x87\x01\x00\x00\x00\x03\x02\xb3\x01\x02",  # SIZE - 1: 92 more
                 id="past the last bucket"),
    pytest.param(b"\x02\x00\x00\x00\x00\x01" + b"\xff" * 10 + b"\x01",
                 id="entry of 11 bytes"),
    pytest.param(b"\x02\x00\x00\x00\x00\x01" + b"\xfe" + b"\xff" * 8 + b"\x02",
                 id="entry of 65 bits"),
    pytest.param("text", id="not bytes"),
])
def test_malformed_input_is_a_value_error(data):
    with pytest.raises(ValueError, match="Histogram.from_bytes"):
        Histogram.from_bytes(data)
