"""Every chart's text alternative: a "Show as table" toggle with the same numbers, built
only when shown and kept current while shown; a second without responses is "—"."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from app.web import display

FINISH_TIMEOUT_S = 30.0


def finished(dashboard, spec: dict) -> int:
    run = dashboard.api("/api/runs", "POST", spec)
    deadline = time.monotonic() + FINISH_TIMEOUT_S
    while dashboard.api(f"/api/runs/{run['id']}")["status"] != "finished":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return run["id"]


@pytest.fixture(scope="module")
def slow_open_run(dashboard) -> int:
    """4 requests/s for 3 s, each answered after 1.5 s: second 1 has no response at all."""
    return finished(dashboard, {"url": f"{dashboard.target_url}{{i}}?delay=1.5-1.5",
                                "rate": 4, "duration": "3s", "concurrency": 20,
                                "name": "slow answers"})


def rows(page: Page, chart: str) -> list[list[str]]:
    return page.locator(f"#{chart}-table tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))")


def test_a_finished_runs_charts_as_tables(page: Page, dashboard, slow_open_run, screenshot):
    samples = dashboard.api(f"/api/runs/{slow_open_run}/series")["samples"]
    page.goto(f"/runs/{slow_open_run}")
    expect(page.locator("#chart-latency canvas")).to_have_count(1)
    toggle = page.locator("#chart-latency + .chart-table-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#chart-latency-table")).to_be_hidden()
    assert page.locator("#chart-latency-table table").count() == 0       # not built yet

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_have_text("Hide table")
    table = page.locator("#chart-latency-table table")
    expect(table).to_be_visible()
    expect(table.locator("caption")).to_contain_text("Latency per second")
    assert table.locator("thead th").all_text_contents() == ["second", "p50", "p90", "p99", "max"]
    shown = rows(page, "chart-latency")
    assert len(shown) == len(samples)
    for row, sample in zip(shown, samples):
        assert row[0] == str(sample["second"])
        if sample["completed"]:
            assert row[1:] == [display.fmt_ms(sample["latency_ms"][k])
                               for k in ("p50", "p90", "p99", "max")]
        else:                       # no response in that second: no latency, not 0
            assert row[1:] == ["—"] * 4
    assert ["—"] * 4 in [row[1:] for row in shown], "the run had a second without responses"
    screenshot(page, "chart-table")

    toggle.click()
    expect(page.locator("#chart-latency-table")).to_be_hidden()
    assert page.locator("#chart-latency-table table").count() == 0       # freed when hidden


def test_the_percentile_curve_table_labels_percentiles(page: Page, dashboard, slow_open_run):
    run = dashboard.api(f"/api/runs/{slow_open_run}")
    page.goto(f"/runs/{slow_open_run}")
    expect(page.locator("#chart-curve canvas")).to_have_count(1)
    page.locator("#chart-curve + .chart-table-toggle").click()
    shown = rows(page, "chart-curve")
    curve = [(p, ms) for p, ms in run["summary"]["percentile_curve"] if p < 100]
    assert len(shown) == len(curve)
    assert shown[0][0] == "0%" and all(row[0].endswith("%") for row in shown)
    assert [row[1] for row in shown] == [display.fmt_ms(ms) for _, ms in curve]


def test_a_shown_table_follows_a_live_run(page: Page, dashboard):
    run = dashboard.api("/api/runs", "POST", {
        "url": f"{dashboard.target_url}{{i}}?delay=0-0.05", "rate": 20, "duration": "20s",
        "concurrency": 10, "name": "live table"})
    try:
        page.goto(f"/runs/{run['id']}")
        expect(page.locator("#chart-rps canvas")).to_have_count(1, timeout=10_000)
        page.locator("#chart-rps + .chart-table-toggle").click()
        body = page.locator("#chart-rps-table tbody tr")
        expect(body.first).to_be_visible()
        before = body.count()
        expect(body).to_have_count(before + 2, timeout=10_000)     # two more seconds
        # the newest row holds what the API has for that second
        second = int(rows(page, "chart-rps")[before + 1][0])
        assert second == before + 2
    finally:
        dashboard.api(f"/api/runs/{run['id']}/stop", "POST")
        deadline = time.monotonic() + FINISH_TIMEOUT_S
        while dashboard.api(f"/api/runs/{run['id']}")["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_compare_charts_have_tables_too(page: Page, dashboard, slow_open_run):
    other = finished(dashboard, {"url": f"{dashboard.target_url}{{i}}?delay=0-0.05",
                                 "requests": 40, "concurrency": 5, "name": "quick"})
    page.goto(f"/compare?ids={slow_open_run},{other}")
    expect(page.locator("#chart-p99 canvas")).to_have_count(1)
    expect(page.locator(".chart-table-toggle")).to_have_count(4)
    page.locator("#chart-p99 + .chart-table-toggle").click()
    headers = page.locator("#chart-p99-table thead th").all_text_contents()
    assert headers == ["second", f"slow answers (#{slow_open_run})", f"quick (#{other})"]
    shown = rows(page, "chart-p99")
    assert shown[0][1] == "—"        # the slow run's first second: no responses
