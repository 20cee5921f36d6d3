"""Command line: `serve` (the default), `bench URL`, `target`."""
from __future__ import annotations

import argparse
import sys

from app import bench


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run.py", description="Stampede HTTP load testing")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="the dashboard (default)")
    add_serve_arguments(serve)
    bench.add_arguments(sub.add_parser("bench", help="run a load test without the dashboard"))
    target = sub.add_parser("target", help="the built-in delay target server")
    target.add_argument("--host", default="127.0.0.1")
    target.add_argument("--port", type=int, default=8081)
    target.add_argument("--delay", default="0-3", help="MIN-MAX seconds per request (default 0-3)")
    target.add_argument("--seed", type=int, default=1)
    target.add_argument("--body-size", type=int, default=1000)
    target.add_argument("--body-file")
    target.add_argument("--workers", type=int, default=1)
    return parser


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--db", default="data/stampede.sqlite")
    parser.add_argument("--no-target", action="store_true", help="do not start the demo target")
    parser.add_argument("--target-port", type=int, default=8081)
    parser.add_argument("--token", help="required for a non-loopback --host")
    parser.add_argument("--keep-days", type=_positive(float), metavar="N",
                        help="delete ended runs created more than N days ago")
    parser.add_argument("--keep-runs", type=_positive(int), metavar="N",
                        help="keep only the N newest ended runs")
    bench.add_ray_argument(parser)


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0 (got {text})")
        return value
    return parse


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["serve", *argv]
    args = build_parser().parse_args(argv)
    if args.command == "bench":
        sys.exit(bench.main(args))
    if args.command == "target":
        sys.exit(run_target(args))
    from app.web.serve import serve
    sys.exit(serve(args))


def run_target(args: argparse.Namespace) -> int:
    from app.target.server import TargetConfig, parse_delay, serve
    try:
        lo, hi = parse_delay(args.delay)
    except ValueError as exc:
        print(f"--delay: {exc}", file=sys.stderr)
        return 2
    serve(TargetConfig(host=args.host, port=args.port, delay_min=lo, delay_max=hi,
                       seed=args.seed, body_size=args.body_size, body_file=args.body_file,
                       workers=args.workers))
    return 0
