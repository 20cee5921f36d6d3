"""Number formats (shared with static/js/common.js) and the compare table's deltas (pure)."""
from __future__ import annotations

import pytest

from app.web import display


@pytest.mark.parametrize("value, digits, text", [
    (2.5, 0, "3"), (3.5, 0, "4"), (0.125, 2, "0.13"), (1.005, 2, "1.00"),   # as JS toFixed
    (1234567.891, 1, "1234567.9"), (-0.0001, 2, "0.00"),
])
def test_fixed_rounds_like_javascript(value, digits, text):
    assert display.fixed(value, digits) == text


def test_formats():
    assert display.fmt_int(1234567) == "1,234,567"
    assert display.fmt_num(1550.44) == "1,550.4"
    assert [display.fmt_ms(v) for v in (1234.5, 99.95, 9.999, 0.5)] == [
        "1,235 ms", "100.0 ms", "10.00 ms", "0.50 ms"]
    assert [display.fmt_duration(v) for v in (4.25, 59.96, 125, 3725)] == [
        "4.3 s", "60.0 s", "2m 05s", "1h 02m"]
    assert display.fmt_percent(0.01234) == "1.23%"
    assert display.fmt_int(None) == display.fmt_ms(None) == "—"


def summary(rps, p99, error_rate=0.0, requests=100):
    return {"requests": requests, "rps": rps, "duration_s": requests / rps,
            "latency_ms": {"p50": p99 / 2, "p90": p99 * 0.8, "p99": p99, "p999": p99, "max": p99},
            "error_rate": error_rate, "peak_rss_mb": 50.0, "cpu_percent": 10.0}


def test_deltas_against_the_baseline_are_coloured_by_what_is_better():
    rows = {m.label: cells for m, cells in display.compare_rows(
        [summary(100, 200), summary(150, 100, error_rate=0.02), None])}
    assert rows["Req/s"][0].delta == ""                     # the baseline has none
    assert (rows["Req/s"][1].delta, rows["Req/s"][1].verdict) == ("+50.0%", "better")
    assert (rows["p99"][1].delta, rows["p99"][1].verdict) == ("−50.0%", "better")
    assert (rows["Error %"][1].delta, rows["Error %"][1].verdict) == ("+2.00 pp", "worse")
    assert (rows["Requests"][1].delta, rows["Requests"][1].verdict) == ("±0.0%", "")
    assert rows["Req/s"][2].text == "—"                     # a run without a summary


def test_a_zero_baseline_has_no_relative_delta():
    rows = {m.label: cells for m, cells in display.compare_rows(
        [summary(100, 200, requests=0), summary(100, 200, requests=5)])}
    assert rows["Requests"][1].delta == "new"


def test_short_url_keeps_host_and_the_distinctive_end():
    assert display.short_url("http://h/x") == "http://h/x"
    long = "http://127.0.0.1:8081/items/{i}?delay=0-1&size=1000"
    short = display.short_url(long)
    assert len(short) <= 30 and short.startswith("127.0.0.1:8081/…")
    assert short.endswith("size=1000")
    # two URLs of one sweep stay apart
    assert display.short_url(long.replace("1000", "2000")) != short
