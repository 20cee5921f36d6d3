"""Per-endpoint statistics split the totals exactly, whatever the mix of names."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.recorder import EndpointRecorder
from app.engine.snapshot import Health, Summary

NAMES = ("GET /a", "POST /b", "GET /c/{id}")
_EVENTS = st.lists(st.tuples(st.integers(0, len(NAMES) - 1),
                             st.sampled_from([200, 204, 404, 500, "error"]),
                             st.integers(1_000, 3_000_000_000)), max_size=200)


def _record(events, recorder: EndpointRecorder, tick_every: int = 37):
    snaps = []
    for n, (name_id, status, latency) in enumerate(events):
        recorder.sent()
        if status == "error":
            recorder.error(ConnectionResetError(), name_id)
        else:
            recorder.response(status, 5, 0, 0, latency, name_id)
        if n % tick_every == tick_every - 1:
            snaps.append(recorder.snapshot(len(snaps) + 1, 1.0, Health()))
    snaps.append(recorder.snapshot(len(snaps) + 1, 1.0, Health()))
    return snaps


@settings(max_examples=100, deadline=None)
@given(_EVENTS, _EVENTS)
def test_endpoints_split_the_totals_across_seconds_and_workers(events_a, events_b):
    summary = Summary()
    a, b = _record(events_a, EndpointRecorder(NAMES)), _record(events_b, EndpointRecorder(NAMES), 11)
    for k in range(max(len(a), len(b))):
        snap = a[k] if k < len(a) else b[k]
        if k < len(a) and k < len(b):
            snap.merge(b[k])
        summary.add(snap)
    d = summary.to_dict()
    endpoints = d["endpoints"]
    for name_id, name in enumerate(NAMES):
        mine = [e for e in events_a + events_b if e[0] == name_id]
        if not mine:
            assert name not in endpoints
            continue
        e = endpoints[name]
        answered = [lat for _, s, lat in mine if s != "error"]
        assert e["requests"] == len(mine)
        assert e["errors"] == len(mine) - len(answered)
        assert e["ok"] == sum(1 for _, s, _ in mine if s != "error" and s < 400)
        if answered:
            assert e["latency_ms"]["max"] == max(answered) / 1e6
        else:
            assert e["latency_ms"]["p50"] is None
    for key in ("requests", "ok", "failed", "errors"):
        assert sum(e[key] for e in endpoints.values()) == d[key], key
    merged = {}
    for e in endpoints.values():
        for code, n in e["status_codes"].items():
            merged[code] = merged.get(code, 0) + n
    assert merged == d["status_codes"]


def test_a_summary_rebuilt_from_stored_seconds_keeps_endpoint_counts_not_latency():
    from app.engine.histogram import Histogram
    from app.engine.snapshot import Snapshot
    snaps = _record([(0, 200, 5_000_000), (1, 500, 7_000_000), (1, "error", 0)],
                    EndpointRecorder(NAMES), tick_every=2)
    rebuilt = Summary()
    for s in snaps:
        rebuilt.add(Snapshot.from_stored(s.to_view(), Histogram.decode(s.latency.encode()),
                                         Histogram.decode(s.service.encode())))
    e = rebuilt.to_dict()["endpoints"]
    assert (e["POST /b"]["failed"], e["POST /b"]["errors"], e["GET /a"]["ok"]) == (1, 1, 1)
    assert e["GET /a"]["latency_ms"]["p50"] is None     # not stored per endpoint: unknown
