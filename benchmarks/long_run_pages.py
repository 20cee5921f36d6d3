"""How the dashboard serves one long stored run: API times and sizes, page times, its RSS.

    python benchmarks/long_run_pages.py --db /tmp/long.sqlite --run-id 1 [--other-id 2]
        [--repeat 3] [--root DIR]

Make the run with benchmarks/long_run.py (and the other run to compare it with, as long,
with its --append: the dashboard refuses to compare a run with itself). Starts the
dashboard on the database as a person does (`run.py serve --no-target`, a free loopback
port, its own process; from the tree `--root`, by default this one), then:

- GET /api/runs/ID/series (the default step), ?from=3601&to=7200 (the step it picks) and
  the same hour with step=1, /window?from=61, and ?format=csv (every second, streamed):
  time to the last byte and bytes, `--repeat` times each (the first and the median);
- the run page /runs/ID and /compare?ids=ID,OTHER in Debian's Chromium (Playwright, as
  tests/browser/conftest.py launches it), each in a fresh browser context: the time from
  navigation start (the page's performance.now()) until its charts have drawn: every
  chart's uPlot canvas is in place with data and, on the run page, the exact summary
  numbers are filled in (show.js fills both in one render, after the series arrives);
  and when the page's series requests had been answered (the rest is the browser's work);
- the dashboard's RSS (psutil) at start, after the API calls, after the CSV and after the
  pages, and its peak, sampled every 20 ms throughout.

Prints one JSON line (a page that did not draw within the timeout is reported as such);
stops the dashboard.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import psutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PYTHON, ROOT, free_port  # noqa: E402

CHROMIUM = os.environ.get("STAMPEDE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 30.0
PAGE_TIMEOUT_S = 120

# the charts a page draws, and what else must be on screen before it counts as drawn
RUN_PAGE_CHARTS = ("#chart-rps", "#chart-latency", "#chart-status", "#chart-curve")
COMPARE_CHARTS = ("#chart-rps", "#chart-p99", "#chart-p50", "#chart-curve")
DRAWN = """([charts, summary]) => {
  for (const sel of charts) {
    const box = document.querySelector(sel);
    if (!box || !box.querySelector("canvas")) return false;
  }
  if (summary) {
    const section = document.getElementById("summary");
    const requests = document.querySelector('#summary [data-summary="requests"]');
    if (!section || section.hidden || !requests || !requests.textContent.trim()) return false;
  }
  // when the page's series requests were answered (the rest is the page's own work)
  const series = performance.getEntriesByType("resource").filter((e) => e.name.includes("/series"));
  return {drawn: performance.now(),
          series_ms: series.length ? Math.max(...series.map((e) => e.responseEnd)) : null};
}"""


def get(url: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        body = response.read()
    return time.perf_counter() - t0, body


def cpu_s(process: psutil.Process) -> float:
    t = process.cpu_times()
    return t.user + t.system


def timed(url: str, repeat: int, server: psutil.Process) -> dict:
    """Wall time to the last byte, and the dashboard's CPU time per answer: the CPU time
    moves far less than the wall time when other processes share the machine."""
    times, body = [], b""
    cpu0 = cpu_s(server)
    for _ in range(repeat):
        seconds, body = get(url)
        times.append(seconds * 1000)
    out = {"first_ms": round(times[0], 1), "median_ms": round(statistics.median(times), 1),
           "server_cpu_ms": round((cpu_s(server) - cpu0) * 1000 / repeat, 1),
           "bytes": len(body)}
    if body[:1] == b"{":
        data = json.loads(body)
        if "samples" in data:
            out.update(step=data["step"], points=len(data["samples"]))
    else:
        out["lines"] = body.count(b"\n")
    return out


class RssWatch:
    """The process's RSS now, and its peak since start, sampled on a thread."""

    def __init__(self, pid: int, every_s: float = 0.02):
        self.process = psutil.Process(pid)
        self.peak = 0
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now_mb(self) -> float:
        rss = self.process.memory_info().rss
        self.peak = max(self.peak, rss)
        return round(rss / 2**20, 1)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.now_mb()
            except psutil.Error:
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak / 2**20, 1)


def start_dashboard(db: str, root: str, log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [PYTHON, "run.py", "serve", "--host", "127.0.0.1", "--port", str(port), "--db", db,
         "--no-target"],
        cwd=root, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the dashboard exited with {process.returncode}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return process, base
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def page_times(base: str, path: str, charts: tuple[str, ...], summary: bool,
               repeat: int, server: psutil.Process) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout, sync_playwright
    times, answered, problems = [], [], []
    cpu0 = cpu_s(server)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for _ in range(repeat):
                context = browser.new_context(base_url=base,
                                              viewport={"width": 1400, "height": 900})
                page = context.new_page()
                page.on("console", lambda m: m.type == "error" and problems.append(m.text))
                page.on("pageerror", lambda exc: problems.append(str(exc)))
                response = page.goto(path, wait_until="commit")
                if response is None or response.status != 200:
                    return {"error": f"{path} answered {response and response.status}",
                            "problems": problems[:5]}
                try:
                    drawn = page.wait_for_function(DRAWN, arg=[list(charts), summary],
                                                   timeout=PAGE_TIMEOUT_S * 1000)
                except PlaywrightTimeout:
                    return {"error": f"not drawn within {PAGE_TIMEOUT_S} s",
                            "all_ms": [round(t) for t in times], "problems": problems[:5]}
                value = drawn.json_value()
                times.append(value["drawn"])
                answered.append(value["series_ms"])
                context.close()
        finally:
            browser.close()
    return {"first_ms": round(times[0]), "median_ms": round(statistics.median(times)),
            "all_ms": [round(t) for t in times],
            "series_answered_ms": [round(t) if t is not None else None for t in answered],
            "server_cpu_ms": round((cpu_s(server) - cpu0) * 1000 / repeat),
            "problems": problems[:5]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--run-id", type=int, required=True)
    parser.add_argument("--other-id", type=int,
                        help="the run to compare it with (default: itself)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--root", default=str(ROOT),
                        help="the Stampede tree to start the dashboard from")
    args = parser.parse_args()
    run = args.run_id
    other = args.other_id or run
    result: dict = {"run_id": run}
    with tempfile.NamedTemporaryFile("w+b", suffix=".log") as log:
        process, base = start_dashboard(args.db, args.root, log)
        try:
            rss = RssWatch(process.pid)
            api = f"{base}/api/runs/{run}"
            result["rss_start_mb"] = rss.now_mb()
            server = rss.process
            result["series_default"] = timed(f"{api}/series", args.repeat, server)
            result["series_hour"] = timed(f"{api}/series?from=3601&to=7200", args.repeat,
                                          server)
            result["series_hour_step1"] = timed(f"{api}/series?from=3601&to=7200&step=1",
                                                args.repeat, server)
            result["window_from_61"] = timed(f"{api}/window?from=61", args.repeat, server)
            result["rss_after_api_mb"] = rss.now_mb()
            result["csv"] = timed(f"{api}/series?format=csv", 1, server)
            result["rss_after_csv_mb"] = rss.now_mb()
            result["run_page"] = page_times(base, f"/runs/{run}", RUN_PAGE_CHARTS, True,
                                            args.repeat, server)
            result["compare_page"] = page_times(base, f"/compare?ids={run},{other}",
                                                COMPARE_CHARTS, False, args.repeat, server)
            result["rss_after_pages_mb"] = rss.now_mb()
            result["rss_peak_mb"] = rss.stop()
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-3000:])
            raise
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
