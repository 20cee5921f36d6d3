"""Windows of a run in a real browser (issue #8): a range dragged across a chart zooms the
time charts to it, drawn from the series of just those seconds, with their exact summary
(the numbers the window API gives), in the URL so that a reload, Back or a shared link
opens it; Whole run returns. The compare page compares windows."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from app.web import display

FINAL = {"finished", "stopped", "failed"}
LATENCIES = ("p50", "p90", "p99", "p999", "max")


def finished(dashboard, spec: dict) -> int:
    run = dashboard.api("/api/runs", "POST", spec)
    done = dashboard.wait_for(run["id"], FINAL, timeout_s=60)
    assert done["status"] == "finished", done
    return run["id"]


@pytest.fixture(scope="module")
def endpoints_run(dashboard) -> int:
    """6 s at 40 requests/s over two endpoints, one of them answering 404."""
    base = dashboard.target_url
    return finished(dashboard, {
        "targets": [{"method": "GET", "url": f"{base}a?delay=0-0.03", "name": "GET /a"},
                    {"method": "GET", "url": f"{base}b?delay=0.01-0.05&status=404",
                     "name": "GET /b"}],
        "rate": 40, "duration": "6s", "concurrency": 10, "name": "window run"})


@pytest.fixture(scope="module")
def plain_run(dashboard) -> int:
    return finished(dashboard, {"url": f"{dashboard.target_url}{{i}}?delay=0-0.02", "rate": 30,
                                "duration": "6s", "concurrency": 10, "name": "plain run"})


def window_of(url: str) -> tuple[int, int]:
    query = parse_qs(urlsplit(url).query)
    return int(query["from"][0]), int(query["to"][0])


def drag(page: Page, chart: str, start: float, end: float) -> None:
    """Drag across the chart's plot from `start` to `end` (fractions of its width)."""
    box = page.locator(f"#{chart} .u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end, y, steps=10)
    page.mouse.up()


def cells(page: Page, selector: str) -> list[list[str]]:
    return page.locator(f"{selector} tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))")


def expect_window_panel(page: Page, dashboard, run_id: int, lo: int, hi: int) -> dict:
    """The window panel shows exactly what /window?from&to gives for lo..hi."""
    summary = dashboard.api(f"/api/runs/{run_id}/window?from={lo}&to={hi}")["summary"]
    panel = page.locator("#window")
    expect(panel).to_be_visible()
    expect(page.locator("#window-scope")).to_contain_text(f"seconds {lo}–{hi}")
    expect(page.locator("#window-status")).to_have_text("")       # loaded
    expected = {"requests": display.fmt_int(summary["requests"]),
                "ok": display.fmt_int(summary["ok"]), "failed": display.fmt_int(summary["failed"]),
                "errors": display.fmt_int(summary["errors"]),
                "rps": display.fmt_num(summary["rps"]),
                "error_rate": display.fmt_percent(summary["error_rate"]),
                **{f"latency_ms.{k}": display.fmt_ms(summary["latency_ms"][k]) for k in LATENCIES}}
    for key, text in expected.items():
        expect(panel.locator(f'[data-summary="{key}"]')).to_have_text(text)
    assert cells(page, "#window-status-table") == [
        [code, display.fmt_int(n)] for code, n in summary["status_codes"].items()]
    return summary


def test_a_range_dragged_on_a_chart_is_a_window_with_its_exact_numbers(
        page: Page, dashboard, endpoints_run, axe, screenshot):
    whole = dashboard.api(f"/api/runs/{endpoints_run}/series")
    page.goto(f"/runs/{endpoints_run}")
    expect(page.locator("#summary")).to_be_visible()
    expect(page.locator("#chart-latency canvas")).to_have_count(1)
    expect(page.locator("#window")).to_be_hidden()
    expect(page.locator("#window-reset")).to_be_hidden()
    page.click("#chart-latency + .chart-table-toggle")          # the chart's numbers

    drag(page, "chart-latency", 0.3, 0.7)
    page.wait_for_url(re.compile(rf"/runs/{endpoints_run}\?from=\d+&to=\d+$"))
    lo, hi = window_of(page.url)
    assert 1 < lo < hi < whole["last"], (lo, hi, whole["last"])
    summary = expect_window_panel(page, dashboard, endpoints_run, lo, hi)
    assert 0 < summary["requests"] < whole["run"]["summary"]["requests"]
    # every time chart shows just those seconds, from the window's own series
    seconds = [str(s["second"]) for s in
               dashboard.api(f"/api/runs/{endpoints_run}/series?from={lo}&to={hi}")["samples"]]
    assert seconds == [str(n) for n in range(lo, hi + 1)]
    expect(page.locator("#chart-latency-table tbody tr")).to_have_count(len(seconds))
    assert [row[0] for row in cells(page, "#chart-latency-table")] == seconds
    # the whole run's numbers stay the whole run's
    expect(page.locator("#completed")).to_have_text(
        display.fmt_int(whole["run"]["summary"]["requests"]))
    # per endpoint, in the window
    endpoint_rows = cells(page, "#window-endpoints")
    assert [row[0] for row in endpoint_rows] == ["GET /a", "GET /b"]
    for row in endpoint_rows:
        stats = summary["endpoints"][row[0]]
        assert row[1:] == [display.fmt_num(stats["rps"]), *(display.fmt_int(stats[k]) for k in (
            "requests", "ok", "failed", "errors")), *(display.fmt_ms(stats["latency_ms"][k])
                                                      for k in ("p50", "p90", "p99", "max"))]
    assert sum(int(row[2].replace(",", "")) for row in endpoint_rows) == summary["requests"]
    expect(page.locator("#window-reset")).to_be_visible()
    screenshot(page, "run-window")
    axe(page, "a run's window")

    # a reload (or the link shared) opens the same window
    page.reload()
    assert window_of(page.url) == (lo, hi)
    expect_window_panel(page, dashboard, endpoints_run, lo, hi)

    # Whole run: back to every second, the URL without the window
    page.click("#window-reset")
    page.wait_for_url(re.compile(rf"/runs/{endpoints_run}$"))
    expect(page.locator("#window")).to_be_hidden()
    page.click("#chart-latency + .chart-table-toggle")
    expect(page.locator("#chart-latency-table tbody tr")).to_have_count(len(whole["samples"]))
    # and Back to the window again
    page.go_back()
    page.wait_for_url(re.compile(rf"\?from={lo}&to={hi}$"))
    expect_window_panel(page, dashboard, endpoints_run, lo, hi)
    expect(page.locator("#chart-latency-table tbody tr")).to_have_count(len(seconds))


def test_a_window_typed_in_from_the_keyboard(page: Page, dashboard, plain_run):
    page.goto(f"/runs/{plain_run}")
    expect(page.locator("#summary")).to_be_visible()
    page.fill("#window-from", "3")
    page.fill("#window-to", "4")
    page.press("#window-to", "Enter")
    page.wait_for_url(re.compile(rf"/runs/{plain_run}\?from=3&to=4$"))
    expect_window_panel(page, dashboard, plain_run, 3, 4)
    assert page.locator("#window-endpoints").count() == 0     # a one-URL run has none
    # a window past the typed end of the run: the rest of it, said as such
    page.fill("#window-from", "2")
    page.fill("#window-to", "")
    page.click("#window-show")
    page.wait_for_url(re.compile(rf"/runs/{plain_run}\?from=2$"))
    last = dashboard.api(f"/api/runs/{plain_run}/window?from=2")["to"]
    expect_window_panel(page, dashboard, plain_run, 2, last)
    # one past the run: nothing, and the page says why
    page.goto(f"/runs/{plain_run}?from={last + 5}")
    expect(page.locator("#window-status")).to_contain_text("no second in this window")
    expect(page.locator("#window [data-summary=requests]")).to_have_text("0")


def test_a_window_of_a_live_run(page: Page, dashboard):
    run = dashboard.api("/api/runs", "POST", {
        "url": f"{dashboard.target_url}{{i}}?delay=0-0.02", "rate": 20, "duration": "60s",
        "concurrency": 10, "name": "live window"})
    try:
        page.goto(f"/runs/{run['id']}")
        expect(page.locator("#status")).to_have_text("running")
        # wait for a few seconds to draw, then drag across their middle
        page.click("#chart-latency + .chart-table-toggle")
        page.wait_for_function(
            "() => document.querySelectorAll('#chart-latency-table tbody tr').length >= 5",
            timeout=30_000)
        drag(page, "chart-latency", 0.3, 0.75)
        page.wait_for_url(re.compile(r"\?from=\d+&to=\d+$"))
        lo, hi = window_of(page.url)
        assert 1 < lo <= hi, (lo, hi)
        # seconds gone by: their numbers are final while the run goes on
        expect_window_panel(page, dashboard, run["id"], lo, hi)
        assert [row[0] for row in cells(page, "#chart-latency-table")] == \
            [str(n) for n in range(lo, hi + 1)]
        expect(page.locator("#status")).to_have_text("running")
    finally:
        dashboard.api(f"/api/runs/{run['id']}/stop", "POST")
        dashboard.wait_for(run["id"], FINAL)


def test_compare_compares_the_windows(page: Page, dashboard, endpoints_run, plain_run):
    ids = [endpoints_run, plain_run]
    page.goto(f"/compare?ids={ids[0]},{ids[1]}&from=3")
    expect(page.locator("#compare-window")).to_contain_text("seconds 3–end")
    windows = [dashboard.api(f"/api/runs/{i}/window?from=3")["summary"] for i in ids]
    wholes = [dashboard.api(f"/api/runs/{i}")["summary"] for i in ids]
    requests = page.locator("#compare-table tbody tr").first
    expect(requests.locator("th")).to_have_text("Requests")
    assert requests.locator(".value").all_text_contents() == [
        display.fmt_int(w["requests"]) for w in windows]
    assert all(w["requests"] < whole["requests"] for w, whole in zip(windows, wholes))
    # the charts start at the window too
    expect(page.locator("#chart-rps canvas")).to_have_count(1)
    page.click("#chart-rps + .chart-table-toggle")
    first = page.locator("#chart-rps-table tbody tr").first.locator("th")
    expect(first).to_have_text("3")
    # and the whole runs are a click away
    page.click("#compare-window a")
    page.wait_for_url(re.compile(rf"/compare\?ids={ids[0]},{ids[1]}$"))
    assert requests.locator(".value").all_text_contents() == [
        display.fmt_int(w["requests"]) for w in wholes]
