"""Thresholds in a real browser against a real dashboard: set in the form (a bad one named
next to its box), shown as pass/fail chips on the run page, and a column and a filter on
the history page."""
from __future__ import annotations

from playwright.sync_api import Page, expect


def test_the_form_names_a_bad_threshold_and_keeps_what_was_typed(page: Page, dashboard, watch):
    watch.allow("status of 400")          # the refused form comes back as a 400 page
    page.goto("/")
    page.fill("#f-url", f"{dashboard.target_url}?delay=0")
    page.fill("#f-requests", "10")
    page.fill("#f-thresholds", "p99 < 30s\nlatency < 2")
    page.locator("#start").click()
    field = page.locator('[data-field="thresholds"]')
    expect(field).to_have_class("field invalid")
    expect(field).to_contain_text("line 2: unknown metric 'latency'")
    expect(page.locator("#f-thresholds")).to_have_value("p99 < 30s\nlatency < 2")


def test_chips_say_which_threshold_failed_and_the_history_filters(page: Page, dashboard):
    page.goto("/")
    page.fill("#f-url", f"{dashboard.target_url}?delay=0")
    page.fill("#f-requests", "20")
    page.fill("#f-concurrency", "2")
    page.fill("#f-name", "gated run")
    page.fill("#f-thresholds", "p99 < 30s\np50 < 1us")
    page.locator("#start").click()
    page.wait_for_url("**/runs/*")
    expect(page.locator("#status")).to_have_text("finished", timeout=30_000)
    chips = page.locator("#threshold-chips li")
    expect(chips).to_have_count(2)
    expect(chips.nth(0)).to_have_class("chip pass")
    expect(chips.nth(0)).to_contain_text("p99 < 30s: ")
    expect(chips.nth(1)).to_have_class("chip fail")
    expect(page.locator("#thresholds-verdict")).to_have_text("failed")
    expect(page.locator("#thresholds-scope")).to_have_text("whole run")
    run_id = page.url.rsplit("/", 1)[1]

    page.goto("/runs?thresholds=failed")
    row = page.locator(f'tr[data-run-id="{run_id}"]')
    expect(row.locator("td.passed .badge")).to_have_text("failed")
    expect(page.locator('select[name="thresholds"]')).to_have_value("failed")
    page.goto("/runs?thresholds=passed")
    expect(page.locator(f'tr[data-run-id="{run_id}"]')).to_have_count(0)
