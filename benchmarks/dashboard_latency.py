"""Do pages and the API stay responsive while a run saturates the generator?

    python benchmarks/dashboard_latency.py [--seconds 20] [--engine fast]

Starts the real dashboard (`run.py`, its own demo target, a temp database),
times GET /, /runs, /runs/ID, /api/runs and /api/runs/ID sequentially with one
client, first with no run (the baseline), then during a run that keeps every
core busy (demo target with no delay, 200 in flight). Prints p50/p99 per phase;
the bound is p99 <= 200 ms under load.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PYTHON, ROOT, free_port, wait_for_port  # noqa: E402

PATHS = ("/", "/runs", "/runs/{id}", "/api/runs", "/api/runs/{id}")


def get(base: str, path: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(base + path, timeout=10) as response:
        response.read()
    return (time.perf_counter() - t0) * 1000


def post_json(base: str, path: str, data: dict) -> dict:
    request = urllib.request.Request(base + path, json.dumps(data).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def sample(base: str, run_id: int, until: float | None, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        if until is not None and time.monotonic() > until:
            break
        for path in PATHS:
            times.append(get(base, path.format(id=run_id)))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--engine", default="fast")
    args = parser.parse_args()
    port, target_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([PYTHON, "run.py", "--port", str(port), "--target-port",
                                 str(target_port), "--db", f"{tmp}/s.sqlite"], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_port(port)
            target = f"http://127.0.0.1:{target_port}/?delay=0"
            warm = post_json(base, "/api/runs", {"url": target, "requests": 10})
            time.sleep(3)
            idle = sample(base, warm["id"], None, 40)
            run = post_json(base, "/api/runs", {"url": target, "duration": f"{args.seconds}s",
                                                "concurrency": 200, "engine": args.engine,
                                                "name": "saturating run"})
            time.sleep(2)
            busy = sample(base, run["id"], time.monotonic() + args.seconds - 4, 10_000)
            time.sleep(4)
            with urllib.request.urlopen(f"{base}/api/runs/{run['id']}") as response:
                summary = json.loads(response.read())["summary"] or {}
        finally:
            proc.terminate()
            proc.wait(20)
    print(f"run during 'busy': {summary.get('rps', 0):,.0f} req/s, generator CPU "
          f"{summary.get('cpu_percent', 0):.0f}% of one core")
    for name, times in (("idle", idle), ("busy", busy)):
        print(f"{name}: {len(times)} requests, p50 {percentile(times, 50):.1f} ms, "
              f"p99 {percentile(times, 99):.1f} ms, max {max(times):.1f} ms")


if __name__ == "__main__":
    main()
