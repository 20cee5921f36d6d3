"""Layout at real viewport widths: nothing a person needs is cut off or overlaps.

Boxes are compared (an element's right edge against its card's), and every layout is
also saved as a screenshot under test-output/screenshots/ to look at.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

# where the screenshot fixture writes (conftest.SCREENSHOTS); element shots go there too
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

FINISH_TIMEOUT_S = 30.0
LONG_NAME = "a rather long run name that goes on"


@pytest.fixture(scope="module")
def four_runs(dashboard) -> list[int]:
    """Four finished runs whose URLs differ only at the end, as a sweep's do."""
    ids = []
    for n, concurrency in enumerate((5, 10, 20, 40)):
        run = dashboard.api("/api/runs", "POST", {
            "url": f"{dashboard.target_url}{{i}}?delay=0-0.02&size=1000&sweep=concurrency-{n}",
            "requests": 60, "concurrency": concurrency,
            "name": f"{LONG_NAME} {concurrency}"})
        deadline = time.monotonic() + FINISH_TIMEOUT_S
        while dashboard.api(f"/api/runs/{run['id']}")["status"] != "finished":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        ids.append(run["id"])
    return ids


def box(page: Page, selector: str) -> dict:
    b = page.locator(selector).first.bounding_box()
    assert b is not None, f"{selector} is not rendered"
    return b


def right(b: dict) -> float:
    return b["x"] + b["width"]


def visible_in(page: Page, selector: str, container: str) -> list[str]:
    """The elements matching `selector` whose box sticks out of `container`'s box
    (the part a scrolling or clipping container hides)."""
    return page.evaluate("""([selector, container]) => {
        const outer = document.querySelector(container).getBoundingClientRect();
        return [...document.querySelectorAll(selector)].filter((node) => {
            const r = node.getBoundingClientRect();
            return r.right > outer.right + 0.5 || r.left < outer.left - 0.5;
        }).map((node) => node.outerHTML.slice(0, 80));
    }""", [selector, container])


@pytest.mark.parametrize("width", [1280, 1440])
def test_history_table_fits_its_card(page: Page, four_runs, screenshot, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/runs")
    expect(page.locator("#runs tbody tr").first).to_be_visible()
    screenshot(page, f"history-{width}")
    table, card = box(page, "#runs"), box(page, ".table-wrap")
    assert right(table) <= right(card) + 0.5, (table, card)
    assert not visible_in(page, "#runs button.delete, #runs th", ".table-wrap")


def test_a_narrower_history_scrolls_in_its_card_not_the_page(page: Page, four_runs, screenshot):
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto("/runs")
    expect(page.locator("#runs tbody tr").first).to_be_visible()
    screenshot(page, "history-1024")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    page.locator(".table-wrap").evaluate("n => { n.scrollLeft = n.scrollWidth; }")
    assert not visible_in(page, "#runs button.delete", ".table-wrap")   # reachable


def test_history_urls_show_their_distinct_ends(page: Page, four_runs, dashboard):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/runs")
    shown = [page.locator(f'tr[data-run-id="{i}"] td.url .clip').inner_text() for i in four_runs]
    assert len(set(shown)) == 4, shown
    for i, text in zip(four_runs, shown):
        url = dashboard.api(f"/api/runs/{i}")["url"]
        cell = page.locator(f'tr[data-run-id="{i}"] td.url .clip')
        expect(cell).to_have_attribute("title", url)
        assert text.startswith(url.split("/")[2]) or text.startswith("http"), text  # the host
        assert url.endswith(text.rsplit("…", 1)[-1]), (text, url)                    # the tail
        # what is shown is not clipped again by the cell
        assert cell.evaluate("n => n.scrollWidth <= n.clientWidth + 1"), text


def test_compare_four_runs_shows_every_column(page: Page, four_runs, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/compare?ids=" + ",".join(map(str, four_runs)))
    expect(page.locator("#compare-table th.run-col")).to_have_count(4)
    screenshot(page, "compare-4-1280")
    table, card = box(page, "#compare-table"), box(page, ".table-wrap")
    assert right(table) <= right(card) + 0.5, (table, card)
    assert not visible_in(page, "#compare-table th, #compare-table td", ".table-wrap")


def test_compare_on_a_phone_shows_values_and_readable_axes(page: Page, four_runs, screenshot):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/compare?ids={four_runs[0]},{four_runs[1]}")
    expect(page.locator("#chart-curve canvas")).to_have_count(1)
    screenshot(page, "compare-390")
    page.locator(".table-wrap").screenshot(path=str(SCREENSHOTS / "compare-390-table.png"))
    page.locator("#chart-curve").screenshot(path=str(SCREENSHOTS / "compare-390-curve.png"))
    # both runs' values are on screen next to their labels, not scrolled away
    assert not visible_in(page, "#compare-table td, #compare-table th", ".table-wrap")
    assert right(box(page, "#compare-table")) <= 390
    # no horizontal scrolling of the page itself
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    labels = page.evaluate("Charts.axisLabels(document.querySelector('#chart-curve'), 0)")
    assert len(labels) >= 3, labels
    for a, b in zip(labels, labels[1:]):
        assert a["right"] <= b["left"], f"x labels overlap: {a} {b}"


def test_compare_four_runs_on_a_phone(page: Page, four_runs, screenshot):
    """Four columns cannot fit 390 px: the card scrolls, the metric names stay beside
    the values, and the page itself does not scroll sideways."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/compare?ids=" + ",".join(map(str, four_runs)))
    expect(page.locator("#compare-table th.run-col")).to_have_count(4)
    screenshot(page, "compare-4-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    wrap = page.locator(".table-wrap")
    wrap.evaluate("n => { n.scrollLeft = n.scrollWidth; }")
    wrap.screenshot(path=str(SCREENSHOTS / "compare-4-390-scrolled.png"))
    assert not visible_in(page, '#compare-table [data-run-id]:last-child', ".table-wrap")
    labels = page.locator("#compare-table tbody th")
    card = box(page, ".table-wrap")
    assert abs(labels.first.bounding_box()["x"] - card["x"]) < 2     # still at the left edge
    label, last_value = box(page, "#compare-table tbody th"), box(
        page, "#compare-table tbody tr:first-child td:last-child")
    assert right(label) <= last_value["x"], "the last column is under the labels"


def test_run_page_on_a_phone(page: Page, four_runs, screenshot):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/runs/{four_runs[0]}")
    expect(page.locator("#chart-curve canvas")).to_have_count(1)
    screenshot(page, "run-390")
    labels = page.evaluate("Charts.axisLabels(document.querySelector('#chart-curve'), 0)")
    for a, b in zip(labels, labels[1:]):
        assert a["right"] <= b["left"], f"x labels overlap: {a} {b}"
