"""Per-endpoint display helpers (app/web/display.py): the compare page's endpoint deltas,
a run's endpoint names and its targets in the spec table (pure)."""
from __future__ import annotations

from app.redact import MASK
from app.spec import parse_spec
from app.web import display


def endpoint(requests, rps, p99, failed=0, errors=0):
    return {"requests": requests, "ok": requests - failed - errors, "failed": failed,
            "errors": errors, "rps": rps,
            "latency_ms": {"mean": 1.0, "p50": p99 / 2, "p90": p99 / 1.5, "p99": p99,
                           "p999": p99, "max": p99} if requests > errors else
            dict.fromkeys(("mean", "p50", "p90", "p99", "p999", "max"))}


def test_compare_shows_the_names_every_run_has_against_the_baselines_same_endpoint():
    base = {"endpoints": {"GET /a": endpoint(100, 10.0, 20.0), "GET /b": endpoint(50, 5, 100),
                          "GET /only-base": endpoint(1, 1, 1)}}
    other = {"endpoints": {"GET /b": endpoint(50, 5, 50, failed=5), "GET /a": endpoint(100, 20, 40)}}
    rows = display.compare_endpoints([base, other])
    assert [name for name, _ in rows] == ["GET /a", "GET /b"]     # shared, baseline's order
    a = {metric.label: cells for metric, cells in rows[0][1]}
    assert a["Req/s"][1].delta == "+100.0%" and a["Req/s"][1].verdict == "better"
    assert a["p99"][1].delta == "+100.0%" and a["p99"][1].verdict == "worse"
    b = {metric.label: cells for metric, cells in rows[1][1]}
    assert b["p99"][1].verdict == "better"
    assert (b["Error %"][0].text, b["Error %"][1].text) == ("0.00%", "10.00%")
    assert b["Error %"][1].delta == "+10.00 pp" and b["Error %"][1].verdict == "worse"


def test_no_shared_endpoint_no_rows_and_no_latency_is_a_dash():
    assert display.compare_endpoints([{"endpoints": {"x": endpoint(1, 1, 1)}}, {}]) == []
    assert display.compare_endpoints([None, None]) == []
    rows = display.compare_endpoints([{"endpoints": {"e": endpoint(5, 0, 0, errors=5)}}] * 2)
    p50 = dict((m.label, c) for m, c in rows[0][1])["p50"]
    assert [c.text for c in p50] == ["—", "—"]


def test_endpoint_names_are_the_target_names_when_there_are_several():
    spec = parse_spec({"targets": [
        {"method": "GET", "url": "http://h/users/{i}"}, {"method": "GET", "url": "http://h/users/{i}"},
        {"method": "POST", "url": "http://h/login", "name": "log in"}], "requests": 1}).to_dict()
    assert display.endpoint_names(spec) == ["GET /users/{i}", "log in"]
    one = parse_spec({"url": "http://h/{i}", "requests": 1}).to_dict()
    assert display.endpoint_names(one) == []
    assert display.endpoint_names({"targets": [{"url": "not a url"}]}) == []


def test_targets_in_the_spec_table_are_masked_and_cut():
    targets = [{"name": "", "method": "GET", "url": f"http://h/{n}?token=abc",
                "headers": [["Authorization", "Basic dXNlcg=="], ["Accept", "*/*"]],
                "body": "é", "weight": 1.0} for n in range(25)]
    text = display.targets_text(targets, limit=2)
    assert text.splitlines() == [
        f"GET http://h/0?token={MASK}", f"    Authorization: Basic {MASK}", "    Accept: */*",
        "    (a body of 2 bytes)",
        f"GET http://h/1?token={MASK}", f"    Authorization: Basic {MASK}", "    Accept: */*",
        "    (a body of 2 bytes)", "… and 23 more"]
