"""WCAG 2.1 AA on every page: axe-core finds no serious or critical violation, and the
things axe cannot judge alone (chart text alternatives, live regions, form grouping,
focus ring contrast) are checked directly.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect



@pytest.fixture(scope="module")
def two_runs(dashboard) -> list[int]:
    """Two finished runs: one closed, one open (so both summaries' layouts are checked)."""
    ids = []
    for spec in ({"url": f"{dashboard.target_url}{{i}}?delay=0-0.05", "requests": 100,
                  "concurrency": 10, "name": "a11y closed"},
                 {"url": f"{dashboard.target_url}{{i}}?delay=0-0.05", "rate": 50,
                  "duration": "2s", "concurrency": 10, "name": "a11y open"}):
        run = dashboard.api("/api/runs", "POST", spec)
        dashboard.wait_for(run["id"], {"finished"})
        ids.append(run["id"])
    return ids


def test_new_run_form(page: Page, axe):
    page.goto("/")
    axe(page, "the new run form")
    page.check("input[name=model][value=open]")
    axe(page, "the new run form, open model")


def test_form_with_errors(page: Page, axe, watch):
    watch.allow("status of 400")
    page.goto("/")
    page.fill("#f-url", "ftp://x")
    page.fill("#f-concurrency", "0")
    page.click("#start")
    expect(page.locator("#form-errors")).to_be_visible()
    axe(page, "the form with errors")


def test_form_with_a_warning(page: Page, axe, dashboard):
    page.goto("/")
    page.check("input[name=model][value=open]")
    page.fill("#f-rate", "50")
    page.fill("#f-stages", "10s:100, 10s:500")
    page.fill("#f-requests", "1000")
    page.click("#start")
    expect(page.locator("#schedule-warning")).to_be_visible()
    axe(page, "the form with a warning")


def test_history(page: Page, axe, two_runs):
    page.goto("/runs")
    expect(page.locator(f'tr[data-run-id="{two_runs[0]}"]')).to_be_visible()
    page.check(f'tr[data-run-id="{two_runs[0]}"] input.pick')   # a picked row's colours too
    axe(page, "the history")
    page.goto("/runs?page=99")
    axe(page, "a history page past the last")


def test_finished_run(page: Page, axe, two_runs):
    for run_id in two_runs:
        page.goto(f"/runs/{run_id}")
        expect(page.locator("#summary")).to_be_visible()
        expect(page.locator("#chart-curve canvas")).to_have_count(1)
        axe(page, f"finished run {run_id}")
        # the charts' tables are part of the page too
        for toggle in page.locator(".chart-table-toggle").all():
            toggle.click()
        expect(page.locator(".chart-table table").first).to_be_visible()
        axe(page, f"finished run {run_id} with its charts as tables")


def test_live_run(page: Page, dashboard, axe, two_runs):
    run = dashboard.api("/api/runs", "POST", {
        "url": f"{dashboard.target_url}{{i}}?delay=0-0.05", "rate": 20, "duration": "30s",
        "concurrency": 10, "name": "a11y live"})
    try:
        page.goto(f"/runs/{run['id']}")
        expect(page.locator("#status")).to_have_text("running", timeout=10_000)
        expect(page.locator("#chart-rps canvas")).to_have_count(1, timeout=10_000)
        axe(page, "a live run")
        page.goto("/")                       # the header's active-run link
        axe(page, "the new run form during a run")
    finally:
        dashboard.api(f"/api/runs/{run['id']}/stop", "POST")
        dashboard.wait_for(run["id"], {"stopped", "finished"})


def test_compare(page: Page, axe, two_runs):
    page.goto(f"/compare?ids={two_runs[0]},{two_runs[1]}")
    expect(page.locator("#chart-curve canvas")).to_have_count(1)
    axe(page, "compare")


def test_error_page(page: Page, axe, watch):
    watch.allow("status of 404")
    page.goto("/runs/999999")
    expect(page.locator("h1")).to_have_text("Run not found")
    axe(page, "the error page")


def test_axe_check_can_fail(page: Page, axe):
    """The check itself: a page with a known serious violation must fail it."""
    page.goto("/")
    page.evaluate("() => { document.querySelector('h1').style.color = '#ccc'; }")
    with pytest.raises(AssertionError, match=r"serious|critical"):
        axe(page, "a broken form")


# -- what axe cannot judge alone -----------------------------------------------------------

def luminance(rgb: str) -> float:
    channels = [int(c) / 255 for c in re.findall(r"\d+", rgb)[:3]]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


RING = """node => {
    // the ring is drawn outside the element (outline-offset): against the first ancestor
    // that paints a background
    let behind = node.parentElement, bg = null;
    for (; behind && !bg; behind = behind.parentElement) {
        const c = getComputedStyle(behind).backgroundColor;
        if (c !== "rgba(0, 0, 0, 0)" && c !== "transparent") bg = c;
    }
    const s = getComputedStyle(node);
    return {visible: node.matches(":focus-visible"), color: s.outlineColor,
            style: s.outlineStyle, width: parseFloat(s.outlineWidth), bg: bg || "rgb(255, 255, 255)"};
}"""


@pytest.mark.parametrize("path, selector", [
    ("/", "#f-url"), ("/", "#f-method"), ("/", "#start"), ("/", "input[name=model][value=open]"),
    ("/", "#f-keepalive"), ("/", ".nav a"), ("/", "button[data-preset]"), ("/runs", "a.sort"),
    ("/runs", "#filters button"), ("/runs", "input.pick"), ("/runs", "button.delete"),
])
def test_the_focus_ring_contrasts_3_to_1_with_what_is_behind_it(page: Page, two_runs, path,
                                                                 selector):
    page.goto(path)
    page.keyboard.press("Tab")                  # keyboard use: :focus-visible applies
    target = page.locator(selector).first
    target.focus()
    ring = target.evaluate(RING)
    assert ring["visible"] and ring["style"] != "none" and ring["width"] >= 2, ring
    assert contrast(ring["color"], ring["bg"]) >= 3, ring


def test_the_contrast_helper_can_fail():
    assert contrast("rgb(157, 184, 247)", "rgb(255, 255, 255)") < 3     # the old ring colour
    assert contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)") == pytest.approx(21)


def test_form_groups_and_descriptions(page: Page, watch):
    page.goto("/")
    group = page.get_by_role("group", name="Load model")
    expect(group).to_have_count(1)
    expect(group.get_by_role("radio")).to_have_count(2)
    expect(page.locator("[role=radiogroup]")).to_have_count(0)    # the fieldset is the group
    expect(page.locator("#f-requests")).to_have_attribute("aria-describedby", "requests-help")
    expect(page.locator("#f-engine")).to_have_attribute("aria-describedby", "engine-help")
    expect(page.locator("#f-keepalive")).to_have_attribute("aria-describedby", "keepalive-help")
    # every help line is some control's description, and every description exists
    problems = page.evaluate("""() => {
        const out = [];
        const described = new Set();
        for (const node of document.querySelectorAll("#run-form [aria-describedby]")) {
            for (const id of node.getAttribute("aria-describedby").split(/\\s+/)) {
                described.add(id);
                if (!document.getElementById(id)) out.push(`${node.id} -> missing ${id}`);
            }
        }
        for (const help of document.querySelectorAll("#run-form .help")) {
            if (!described.has(help.id)) out.push(`help not described: ${help.textContent.slice(0, 40)}`);
        }
        return out;
    }""")
    assert not problems, problems
    # a field with an error is described by its help and its error
    watch.allow("status of 400")
    page.fill("#f-requests", "ten")
    page.click("#start")
    expect(page.locator("#f-requests")).to_have_attribute("aria-describedby",
                                                          "requests-help requests-error")
    expect(page.locator("#f-requests")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-requests")).to_have_accessible_description(
        re.compile(r"Total to send.*not a whole number"))


def test_sortable_headers_carry_aria_sort(page: Page, two_runs):
    page.goto("/runs")
    expect(page.locator("#runs th[aria-sort]")).to_have_count(1)
    expect(page.locator("#runs th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    expect(page.locator("#runs th[aria-sort] a")).to_have_text("Started")
    expect(page.locator("#runs a[aria-sort]")).to_have_count(0)
    page.goto("/runs?sort=name&order=asc")
    expect(page.locator("#runs th[aria-sort]")).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("#runs th[aria-sort] a")).to_have_text("Name")


def test_run_status_and_progress_are_live_regions(page: Page, two_runs):
    page.goto(f"/runs/{two_runs[0]}")
    expect(page.locator("#status")).to_have_attribute("aria-live", "polite")
    # progress is announced per tenth and at the end, through its own region: the visible
    # text changes every second, which would make a screen reader talk without pause
    expect(page.locator("#progress-announce")).to_have_attribute("aria-live", "polite")
    expect(page.locator("#progress-announce")).to_have_text(re.compile(r"^Progress: done in"))
    expect(page.locator("#progress-text")).not_to_have_attribute("aria-live", "polite")
    expect(page.locator("#progress-text")).to_contain_text("done")
