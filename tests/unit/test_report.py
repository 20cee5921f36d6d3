"""The one-file report's builder (app/report): user text cannot break out of the HTML or
the JSON block, secrets stay masked, what a summary holds is shown (endpoints,
thresholds, nodes), the series is exact and bounded at every step, and a report too big
falls back to a coarser step."""
from __future__ import annotations

import base64
import hashlib
import json
import random
import re

import pytest

from app.engine.series import merged
from app.engine.snapshot import EndpointStats, Snapshot, Summary
from app.report import MAX_BYTES, Columns, Ladder, build_compare, build_run, first_fitting
from app.report import build as report_build
from app.report import series as report_series
from app.report import store as report_store
from app.web import display

EVIL = "</script><script>alert(1)</script>"
TOKEN = "s3cr3t-token-value"


def second(n: int, rng: random.Random, *, endpoints=("GET /a", "POST /b"),
           codes=(200,)) -> Snapshot:
    latencies = [rng.randint(1_000_000, 90_000_000) for _ in range(40)]
    snap = Snapshot(second=n, elapsed_s=1.0, started=41, completed=41, ok=40, errors=1,
                    error_classes={"connect_timeout": 1},
                    error_samples={"connect_timeout": "timed out"})
    for i, code in enumerate(codes):
        snap.status_codes[code] = 40 if i == 0 else 1
    snap.latency.record_ns(latencies)
    snap.service.add(snap.latency)
    for name in endpoints:
        e = EndpointStats(ok=20)
        e.status_codes[200] = 20
        e.latency.record_ns(latencies[:20])
        snap.endpoints[name] = e
    return snap


def run_of(seconds: list[Snapshot], **changes) -> dict:
    summary = Summary.of(seconds).to_dict()
    run = {"id": 7, "name": "checkout", "url": "http://127.0.0.1:8081/a", "engine": "aiohttp",
           "model": "closed", "status": "finished", "created_at": 1.7e9, "started_at": 1.7e9,
           "finished_at": 1.7e9 + len(seconds), "summary": summary, "error_message": None,
           "spec": {"url": "http://127.0.0.1:8081/a", "method": "GET",
                    "headers": [f"Authorization: Bearer {TOKEN}", "X-Note: hello"],
                    "body": "", "concurrency": 10, "model": "closed",
                    "targets": [{"name": "GET /a", "method": "GET",
                                 "url": f"http://127.0.0.1:8081/a?api_key={TOKEN}",
                                 "headers": [["X-Api-Key", TOKEN]]},
                                {"name": "POST /b", "method": "POST",
                                 "url": "http://127.0.0.1:8081/b"}]}}
    run.update(changes)
    return run


def columns(seconds: list[Snapshot]) -> Columns:
    return Columns(1).extend(s.to_view() for s in seconds)


def scripts(html: str) -> list[tuple[str, str]]:
    """(opening tag, content) of every script element, as an HTML parser splits them."""
    return re.findall(r"(<script[^>]*>)(.*?)</script>", html, flags=re.S | re.I)


def page_data(html: str) -> dict:
    [(_, text)] = [(tag, text) for tag, text in scripts(html) if 'id="page-data"' in tag]
    return json.loads(text)


@pytest.fixture
def seconds() -> list[Snapshot]:
    rng = random.Random(1)
    return [second(n, rng) for n in range(1, 11)]


def test_a_run_name_with_script_cannot_break_out(seconds):
    run = run_of(seconds, name=EVIL)
    run["summary"]["error_samples"] = {"connect_timeout": EVIL}
    html = build_run(run, columns(seconds)).html
    assert "<script>alert(1)" not in html
    # the five script elements the builder writes, no more: uPlot, common, charts,
    # report, and the JSON block
    assert len(scripts(html)) == 5
    assert html.count("</script>") == 5
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html   # shown, escaped
    assert page_data(html)["runs"][0]["label"] == f"{EVIL} (#7)"            # intact in the data


def test_the_json_block_escapes_what_could_end_it():
    text = report_build.json_for_script({"a": "</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028"}


def test_inlined_assets_cannot_end_their_element():
    assert report_build._inline("a = '</script>'; // <!-- x", "script") == \
        "a = '<\\/script>'; // <\\!-- x"
    assert report_build._inline("a::after { content: '</STYLE>' }", "style") == \
        "a::after { content: '<\\/STYLE>' }"


def test_secrets_are_masked_whatever_the_caller_passes(seconds):
    html = build_run(run_of(seconds), columns(seconds)).html
    assert TOKEN not in html
    assert "Bearer ••••••" in html and "hello" in html


def test_a_run_with_endpoints_has_their_table_and_chooser(seconds):
    html = build_run(run_of(seconds), columns(seconds)).html
    table = re.search(r'<table[^>]*id="endpoint-table".*?</table>', html, flags=re.S)[0]
    assert re.findall(r'<th scope="row" class="mono">([^<]*)</th>', table) == ["GET /a", "POST /b"]
    assert '<option value="POST /b">POST /b</option>' in html
    data = page_data(html)["runs"][0]["series"]
    assert set(data["endpoints"]) == {"GET /a", "POST /b"} and len(data["second"]) == 10


def test_a_run_of_one_url_has_no_endpoint_table():
    rng = random.Random(2)
    seconds = [second(n, rng, endpoints=()) for n in range(1, 4)]
    html = build_run(run_of(seconds), columns(seconds)).html
    assert 'id="endpoint-table"' not in html and 'id="endpoint"' not in html


def test_thresholds_nodes_and_lost_workers_are_shown(seconds):
    run = run_of(seconds)
    run["summary"].update(
        thresholds=[{"expr": "p99 < 200ms", "value": 88.5, "pass": True, "unit": "ms"},
                    {"expr": "error_rate < 1%", "value": 0.025, "pass": False,
                     "unit": "fraction"}],
        thresholds_passed=False, backend="ray",
        nodes={"abcdef0123456789": {"host": "node-1", "workers": 2, "requests": 400,
                                    "cpu_percent": 150.0, "peak_rss_mb": 80.0}},
        lost_workers=[{"worker": 1, "node": "abcdef0123456789", "host": "node-1",
                       "second": 5, "detail": "actor died"}])
    html = build_run(run, columns(seconds)).html
    table = re.search(r'<table[^>]*id="threshold-table".*?</table>', html, flags=re.S)[0]
    assert re.search(r"p99 &lt; 200ms.*?88\.5 ms.*?report-pass", table, flags=re.S)
    assert re.search(r"error_rate &lt; 1%.*?2\.50%.*?report-fail", table, flags=re.S)
    assert "1 of 2 passed" in html
    assert "node-1" in html and "actor died" in html


def test_columns_fill_codes_and_endpoints_seen_late():
    rng = random.Random(3)
    views = [second(1, rng, endpoints=("GET /a",)).to_view(),
             second(2, rng, endpoints=("GET /a", "GET /late"), codes=(200, 503)).to_view()]
    views.append(Snapshot(second=3, elapsed_s=1.0).to_view())        # no response at all
    cols = Columns(1).extend(views).to_json()
    assert cols["status"] == {"200": [40, 40, 0], "503": [0, 1, 0]}
    assert cols["endpoints"]["GET /late"]["rps"] == [0, 20.0, 0]
    assert cols["endpoints"]["GET /late"]["p50"][0] is None
    assert cols["latency"]["p99"][2] is None              # a gap, never 0


def test_the_ladder_is_the_stored_series_at_each_span():
    """The bench's in-memory points equal the store's: each an exact merge of its seconds
    (the store's rollups are Rollups too), at 1 s and at a minute."""
    rng = random.Random(4)
    seconds = [second(n, rng) for n in range(1, 151)]
    ladder = Ladder()
    for snap in seconds:
        ladder.add(snap)
    ladder.close()
    by_step = {c.step: c.to_json() for c in ladder._levels.values()}
    assert by_step[1] == columns(seconds).to_json()
    minutes = [merged(start, seconds[start - 1:start + 59]).to_view() for start in (1, 61, 121)]
    assert by_step[60] == Columns(60).extend(minutes).to_json()
    assert [c.step for c in ladder.candidates()] == [1, 60, 3600]


def test_the_ladder_drops_a_step_past_what_a_report_carries(monkeypatch):
    monkeypatch.setattr(report_series, "REPORT_MAX_POINTS", 5)
    rng = random.Random(5)
    ladder = Ladder()
    for n in range(1, 8):
        ladder.add(second(n, rng))
    ladder.close()
    assert 1 not in ladder._levels           # 7 seconds > 5 points: its memory is freed
    assert [c.step for c in ladder.candidates()] == [60, 3600]


def test_report_step_is_a_stored_span_within_the_budget():
    assert report_series.report_step(1, 3600) == 1
    assert report_series.report_step(1, 3601) == 60
    assert report_series.report_step(1, 3600 * 60) == 60
    assert report_series.report_step(1, 3600 * 61) == 3600


def test_a_report_too_big_takes_the_coarser_series(seconds):
    small = Columns(60).extend([merged(1, seconds).to_view()])
    big = columns(seconds)
    big.rps = [1.0] * (MAX_BYTES // 2)       # ~2 MB of "1.0," in the JSON
    built = first_fitting([big, small], lambda c: build_run(run_of(seconds), c))
    assert built.size <= MAX_BYTES and page_data(built.html)["runs"][0]["series"]["step"] == 60


def test_a_compare_report_overlays_every_run(seconds):
    rng = random.Random(6)
    other = [second(n, rng) for n in range(1, 6)]
    runs = [run_of(seconds), run_of(other, id=8, name=EVIL)]
    summaries = [r["summary"] for r in runs]
    html = build_compare(runs, summaries, [columns(seconds), columns(other)],
                         rows=display.compare_rows(summaries),
                         endpoint_rows=display.compare_endpoints(summaries)).html
    assert "<script>alert(1)" not in html and TOKEN not in html
    assert [r["label"] for r in page_data(html)["runs"]] == ["checkout (#7)", f"{EVIL} (#8)"]
    assert 'id="compare-table"' in html and 'id="endpoint-compare"' in html


def test_the_csp_names_each_inline_script_by_its_hash(seconds):
    built = build_run(run_of(seconds), columns(seconds))
    csp = built.content_security_policy()
    assert csp.startswith("sandbox allow-scripts;") and "default-src 'none'" in csp
    executed = [text for tag, text in scripts(built.html) if "application/json" not in tag]
    assert len(built.script_hashes) == len(executed) == 4
    for text, digest in zip(executed, built.script_hashes):
        assert digest == "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'{digest}'" in csp


@pytest.mark.parametrize("path", report_build.SCRIPTS + report_build.STYLES)
def test_the_assets_are_inlined_as_they_are(path):
    """The escaping above is a safety net: today's files need none (else uPlot's own
    code would be changed on the way in)."""
    text = (report_build.ROOT / path).read_text(encoding="utf-8")
    assert report_build._inline(text, "style" if path.endswith(".css") else "script") == text


def test_compare_deltas_are_coloured_only_by_the_verdicts_given(seconds):
    """Colour for any change was the compare page's noise (issue #10): the report colours a
    delta only when told the difference is real."""
    rng = random.Random(7)
    other = [second(n, rng) for n in range(1, 6)]
    runs = [run_of(seconds), run_of(other, id=8)]
    summaries = [r["summary"] for r in runs]
    summaries[1] = {**summaries[1], "rps": summaries[0]["rps"] * 2}

    def build(verdicts=None) -> str:
        return build_compare(runs, summaries, [columns(seconds), columns(other)],
                             rows=display.compare_rows(summaries), endpoint_rows=[],
                             verdicts=verdicts).html
    assert not re.search(r'class="delta (better|worse)', build())
    coloured = build([{}, {"Req/s": "better", "p50": "same"}])
    assert re.findall(r'class="delta (better|worse)"', coloured) == ["better"]


def test_the_numbers_a_series_will_hold_are_known_before_reading_it(seconds):
    """The dashboard skips, unread, a step whose series could not fit a report: what it
    predicts from the summary is what the series then holds."""
    summary = Summary.of(seconds).to_dict()
    assert report_series.predicted_values(1, 10, 1, summary) == columns(seconds).values
    assert report_series.predicted_values(1, 10, 60, summary) == \
        Columns(60).extend([merged(1, seconds).to_view()]).values
    fits = lambda step: 10 ** 9 if step == 1 else 10        # noqa: E731
    assert report_store._likely_to_fit([1, 60, 3600], fits) == [60, 3600]
    assert report_store._likely_to_fit([1, 60], lambda step: 10 ** 9) == [60]   # the coarsest
