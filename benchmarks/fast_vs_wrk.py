"""Client CPU per request: the fast engine against wrk, the aiohttp engine against bare aiohttp.

    .venv/bin/python benchmarks/fast_vs_wrk.py [--duration 10] [--connections 50] [--repeat 3]

1,000 bytes served by nginx (one worker, pinned to core 0; the built-in target with
delay 0 when nginx is missing) is loaded by each client in turn, pinned to core 1, for
the same duration and number of connections:

  wrk        /usr/bin/wrk -t1 -cC -dDs URL
  fast       run.py bench URL --engine fast -c C -z Ds --json
  aiohttp    run.py bench URL --engine aiohttp -c C -z Ds --json
  bare       one aiohttp ClientSession, C coroutines on uvloop, no statistics (BARE below)

A client's CPU is user + sys of its whole process tree, from os.wait4 (on Linux it
includes the children the client reaped: run.py's worker process). Nothing is
subtracted in "CPU µs/req"; "net µs/req" takes off the client's fixed start-up
cost, measured separately with a 1-request run. Each client runs `--repeat` times
and the run with the median CPU per request is shown.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PYTHON, ROOT, fastest_target  # noqa: E402

WRK = "/usr/bin/wrk"
SERVER_CORE, CLIENT_CORE = "0", "1"

# the baseline: what an aiohttp script without any bookkeeping costs per request
BARE = """\
import asyncio, sys, time
import aiohttp, uvloop

async def main(url, connections, seconds):
    count = 0
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.monotonic() + seconds

        async def user():
            nonlocal count
            while time.monotonic() < deadline:
                async with session.get(url) as response:
                    await response.read()
                count += 1

        await asyncio.gather(*(user() for _ in range(connections)))
    print(count)

uvloop.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
"""


@dataclass
class Measure:
    requests: int
    errors: int
    wall_s: float
    cpu_s: float

    @property
    def us_per_request(self) -> float:
        return 1e6 * self.cpu_s / max(self.requests, 1)


def measure(cmd: list[str]) -> tuple[Measure, str]:
    """Run cmd pinned to the client core; CPU of its process tree from wait4."""
    t0 = time.monotonic()
    proc = subprocess.Popen(["taskset", "-c", CLIENT_CORE, *cmd], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)   # taskset execs: this is the client itself
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}: {out[-500:]}")
    return Measure(0, 0, wall, usage.ru_utime + usage.ru_stime), out


def run_wrk(url: str, connections: int, seconds: float) -> Measure:
    m, out = measure([WRK, "-t1", f"-c{connections}", f"-d{seconds:g}s", url])
    m.requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    m.errors = (sum(map(int, errors.groups())) if errors else 0) + \
        (int(non_2xx.group(1)) if non_2xx else 0)
    return m


def run_engine(engine: str, url: str, connections: int, seconds: float | None,
               requests: int | None = None) -> Measure:
    limit = ["-n", str(requests)] if requests else ["-z", f"{seconds:g}s"]
    m, out = measure([PYTHON, "run.py", "bench", url, "--engine", engine,
                      "-c", str(connections), *limit, "--json"])
    result = json.loads(out)
    m.requests, m.errors = result["requests"], result["errors"] + result["failed"]
    return m


def run_bare(url: str, connections: int, seconds: float) -> Measure:
    m, out = measure([PYTHON, "-c", BARE, url, str(connections), str(seconds)])
    m.requests = int(out.split()[-1])
    return m


def median_run(runs: list[Measure]) -> Measure:
    return sorted(runs, key=lambda m: m.us_per_request)[len(runs) // 2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=10.0, help="seconds per client run")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--clients", default="wrk,fast,aiohttp,bare")
    args = p.parse_args()
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs two cores: one for the target, one for the client")
    c, d = args.connections, args.duration
    clients = {
        "wrk": lambda: run_wrk(url, c, d),
        "fast": lambda: run_engine("fast", url, c, d),
        "aiohttp": lambda: run_engine("aiohttp", url, c, d),
        "bare": lambda: run_bare(url, c, d),
    }
    # fixed start-up CPU: interpreter, imports, worker process, one request
    startup = {
        "wrk": lambda: Measure(0, 0, 0.0, 0.0),
        "fast": lambda: run_engine("fast", url, 1, None, requests=1),
        "aiohttp": lambda: run_engine("aiohttp", url, 1, None, requests=1),
        "bare": lambda: run_bare(url, 1, 0.001),
    }
    names = [n for n in args.clients.split(",") if n in clients]
    with fastest_target(core=int(SERVER_CORE)) as (url, target_name):
        run_wrk(url, c, 1.0)    # warm-up: nginx worker, TCP
        results, fixed = {}, {}
        for name in names:
            fixed[name] = median_run([startup[name]() for _ in range(3)]).cpu_s
            results[name] = median_run([clients[name]() for _ in range(args.repeat)])
    print(f"target: {target_name} on core {SERVER_CORE}, {url}; clients on core {CLIENT_CORE}, "
          f"{c} connections, {d:g} s, median of {args.repeat}")
    print(f"{'client':<9}{'requests':>10}{'errors':>8}{'req/s':>10}{'CPU s':>8}"
          f"{'start-up s':>11}{'CPU µs/req':>12}{'net µs/req':>12}")
    for name in names:
        m = results[name]
        net = 1e6 * (m.cpu_s - fixed[name]) / max(m.requests, 1)
        print(f"{name:<9}{m.requests:>10,}{m.errors:>8,}{m.requests / d:>10,.0f}"
              f"{m.cpu_s:>8.2f}{fixed[name]:>11.2f}{m.us_per_request:>12.2f}{net:>12.2f}")
    for a, b in (("fast", "wrk"), ("aiohttp", "bare"), ("aiohttp", "fast")):
        if a in results and b in results:
            ratio = results[a].us_per_request / results[b].us_per_request
            net = ((results[a].cpu_s - fixed[a]) / results[a].requests) / \
                ((results[b].cpu_s - fixed[b]) / results[b].requests)
            print(f"{a}/{b}: {ratio:.2f}x CPU per request ({net:.2f}x net of start-up)")


if __name__ == "__main__":
    main()
