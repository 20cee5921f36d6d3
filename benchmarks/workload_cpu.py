"""CPU per request of the fast engine with a real workload vs one URL, in the same run.

The workload is 100 targets, each with `{i}` in the path and a data column in the query
and a header, over a 10,000-row CSV (sequence order): every request is rendered and
encoded apart, where one URL costs a bytes.join. Issue #7's bound: within 1.15x. Its
requests are longer than the short one URL's, so one URL of the same size is measured too.

    .venv/bin/python benchmarks/workload_cpu.py --duration 6 --repeat 5

nginx (from memory) on core 0, the client on core 1; CPU of the client process tree
from wait4, net of the start-up cost measured with a one-request run of each.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from common import PYTHON, fastest_target
from fast_vs_wrk import Measure, measure, median_run

CONNECTIONS = 50


def write_workload(folder: Path, base: str) -> tuple[Path, Path]:
    targets = folder / "targets.jsonl"
    with targets.open("w") as out:
        for k in range(100):
            out.write(json.dumps({"method": "GET", "url": f"{base}api/{k}/items/{{i}}?u={{user}}",
                                  "headers": [["X-Token", "{token}"]]}) + "\n")
    data = folder / "data.csv"
    data.write_text("user,token\n" + "".join(f"user{r},tok{r * 7919 % 100003}\n"
                                             for r in range(10_000)))
    return targets, data


def run(args: list[str]) -> Measure:
    m, out = measure([PYTHON, "run.py", "bench", *args, "--engine", "fast",
                      "-c", str(CONNECTIONS), "--json"])
    result = json.loads(out)
    m.requests, m.errors = result["requests"], result["errors"] + result["failed"]
    return m


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=6.0)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fastest_target(core=0) as (base, name):
        targets, data = write_workload(Path(tmp), base)
        # the workload's requests are longer (a query value, a header): "same size" sends
        # one URL of that shape, so that ratio is the rendering's cost alone
        cases = {"one URL": [f"{base}items/{{i}}"],
                 "one URL, same size": [f"{base}api/57/items/{{i}}?u=user1234",
                                        "-H", "X-Token: tok12345"],
                 "100 targets + 10k-row CSV": ["--targets", str(targets), "--data", str(data)]}
        labels = list(cases)
        print(f"target: {name}; fast engine on core 1, {CONNECTIONS} connections, "
              f"{a.duration:g} s, {a.repeat} rounds, the cases interleaved in each")
        startup = {label: median_run([run([*case, "-n", "1"]) for _ in range(3)]).cpu_s
                   for label, case in cases.items()}
        rounds: list[dict[str, float]] = []
        for k in range(a.repeat):
            net = {}
            for label, case in cases.items():
                m = run([*case, "-z", f"{a.duration:g}s"])
                net[label] = 1e6 * (m.cpu_s - startup[label]) / max(m.requests, 1)
                print(f"  round {k + 1}  {label:<28} {m.requests:>10,} requests  "
                      f"{m.errors} errors  {m.us_per_request:6.2f} µs/req  "
                      f"{net[label]:6.2f} net")
            rounds.append(net)
        one, same, many = (statistics.median(r[label] for r in rounds) for label in cases)
        print("per round, workload / one URL: "
              + ", ".join(f"{r[labels[2]] / r[labels[0]]:.2f}x" for r in rounds)
              + "; / one URL of the same size: "
              + ", ".join(f"{r[labels[2]] / r[labels[1]]:.2f}x" for r in rounds))
        print(f"medians, net of start-up: workload / one URL {many / one:.2f}x CPU per "
              f"request; workload / one URL of the same size {many / same:.2f}x")

if __name__ == "__main__":
    main()
