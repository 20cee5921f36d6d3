"""A real soak run through the dashboard: does its memory stay flat as the run goes on?

Starts the dashboard (its own process, no demo target of its own, a fresh database) and
the demo target answering in 0-200 ms, posts one open-model run (fast engine) of the
given length and rate, and samples the dashboard's RSS every minute. Prints one JSON
line at the end: the RSS samples, the run's summary numbers and the database's size.

    .venv/bin/python benchmarks/soak.py --minutes 60 --rate 3000
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
import urllib.request

import psutil

from common import PYTHON, ROOT, builtin_target, free_port, wait_for_port


def call(base: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data, method="POST" if body else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def stored(db: str) -> int:
    """The database's bytes, its write-ahead log included (not checkpointed yet)."""
    return sum(os.path.getsize(f) for f in (db, db + "-wal") if os.path.exists(f))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=60)
    p.add_argument("--rate", type=float, default=3000)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp, builtin_target("0-0.2", core=0) as target:
        port = free_port()
        db = os.path.join(tmp, "soak.sqlite")
        dashboard = subprocess.Popen(
            [PYTHON, "run.py", "--port", str(port), "--db", db, "--no-target"], cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port)
            base = f"http://127.0.0.1:{port}"
            process = psutil.Process(dashboard.pid)
            run = call(base, "/api/runs", {
                "url": target + "{i}", "engine": "fast", "rate": a.rate,
                "duration": f"{a.minutes * 60:g}s", "concurrency": 2000,
                "name": f"soak {a.minutes:g} min at {a.rate:g}/s"})
            rss, started = [], time.monotonic()
            while True:
                status = call(base, f"/api/runs/{run['id']}")["status"]
                minute = (time.monotonic() - started) / 60
                rss.append([round(minute, 1), round(process.memory_info().rss / 2**20, 1)])
                print(json.dumps({"minute": rss[-1][0], "rss_mb": rss[-1][1]}), flush=True)
                if status not in ("queued", "running"):
                    break
                time.sleep(60)
            done = call(base, f"/api/runs/{run['id']}")
            page = urllib.request.urlopen(f"{base}/runs/{run['id']}", timeout=30).read()
            call(base, f"/api/runs/{run['id']}/series")
            s = done["summary"]
            print(json.dumps({
                "status": done["status"], "requests": s["requests"], "errors": s["errors"],
                "rps": s["rps"], "p99_ms": s["latency_ms"]["p99"],
                "rss_mb": rss, "rss_after_pages_mb": round(process.memory_info().rss / 2**20, 1),
                "db_mb": round(stored(db) / 2**20, 1),
                "bytes_per_second": round(stored(db) / max(s["duration_s"], 1)),
                "page_bytes": len(page)}))
        finally:
            dashboard.terminate()
            dashboard.wait(30)


if __name__ == "__main__":
    main()
