"""Flat memory and the article's 1,000,000-request scenario.

    python benchmarks/memory_and_scale.py memory [--engine aiohttp] [-c 1000]
    python benchmarks/memory_and_scale.py article [--engine fast]

`memory`: peak RSS of a 1,000,000-request run against that of a 10,000-request
run at the same concurrency, against nginx (or the built-in target with no
delay); the ratio should stay <= 1.2 (memory O(concurrency), not O(requests)).
`article`: 1,000,000 requests to the built-in target with a 0-1 s delay at a
concurrency of 10,000 (the article: 52 min and 5.2 GB); prints wall time, peak
RSS and errors.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import bench_json, builtin_target, fastest_target  # noqa: E402


def memory(args: argparse.Namespace) -> dict:
    rows = {}
    with fastest_target() as (url, _):
        for n in (10_000, 1_000_000):
            result, wall = bench_json(url, "-n", str(n), "-c", str(args.concurrency),
                                      "--engine", args.engine)
            rows[n] = {"requests": result["requests"], "errors": result["errors"],
                       "peak_rss_mb": result["peak_rss_mb"], "rps": result["rps"],
                       "wall_s": round(wall, 1)}
            print(f"{n:>9,} requests: peak RSS {result['peak_rss_mb']:.1f} MB, "
                  f"{result['rps']:,.0f} req/s, errors {result['errors']}", flush=True)
    ratio = rows[1_000_000]["peak_rss_mb"] / rows[10_000]["peak_rss_mb"]
    print(f"peak RSS ratio 1M / 10k = {ratio:.3f} (required <= 1.2)")
    return {"engine": args.engine, "concurrency": args.concurrency, "runs": rows,
            "rss_ratio": round(ratio, 3)}


def article(args: argparse.Namespace) -> dict:
    with builtin_target("0-1", core=0, workers=args.target_workers) as url:
        result, wall = bench_json(url + "{i}", "-n", "1000000", "-c", "10000",
                                  "--engine", args.engine, "--timeout", "60",
                                  "--workers", str(args.workers), core=1)
    summary = {"wall_s": round(wall, 1), "duration_s": result["duration_s"],
               "requests": result["requests"], "ok": result["ok"], "errors": result["errors"],
               "error_classes": result["error_classes"], "peak_rss_mb": result["peak_rss_mb"],
               "rps": result["rps"], "p50_ms": result["latency_ms"]["p50"],
               "p99_ms": result["latency_ms"]["p99"], "cpu_percent": result["cpu_percent"]}
    print(json.dumps(summary, indent=2))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("memory")
    m.add_argument("--engine", default="aiohttp")
    m.add_argument("-c", "--concurrency", type=int, default=1000)
    a = sub.add_parser("article")
    a.add_argument("--engine", default="fast")
    a.add_argument("--workers", type=int, default=1)
    a.add_argument("--target-workers", type=int, default=1)
    args = parser.parse_args()
    (memory if args.what == "memory" else article)(args)


if __name__ == "__main__":
    main()
