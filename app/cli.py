"""Command line: `serve` (the default), `bench URL`, `target`, `export ID`, `import FILE`."""
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
    export = sub.add_parser("export", help="write a stored run as one JSON document (stdout)")
    export.add_argument("id", type=_positive(int), help="the run's id")
    export.add_argument("--db", default="data/stampede.sqlite")
    export.add_argument("--secrets", action="store_true",
                        help="keep credential headers and URL parts as typed (default: masked)")
    load = sub.add_parser("import", help="store a run exported by `export` or pushed by bench")
    load.add_argument("file", help="the JSON document, or - for stdin")
    load.add_argument("--db", default="data/stampede.sqlite")
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
    if args.command == "export":
        sys.exit(run_export(args))
    if args.command == "import":
        sys.exit(run_import(args))
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


def run_export(args: argparse.Namespace) -> int:
    """The run as app/store/transfer.py's document on stdout, a piece at a time."""
    import asyncio
    import os

    from app.store import transfer
    from app.store.db import open_db
    if not os.path.isfile(args.db):          # open_db would make an empty database there
        print(f"error: no database at {args.db}", file=sys.stderr)
        return 1

    async def export() -> None:
        db = await open_db(args.db)
        try:
            async for piece in transfer.export_document(db, args.id, secrets=args.secrets):
                sys.stdout.write(piece)
        finally:
            await db.close()
    try:
        asyncio.run(export())
    except LookupError as exc:
        print(f"error: {exc} in {args.db}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Store the document's run under a new id and print that id. Exit 2 when the document
    is refused (what and where on stderr), 1 when it cannot be read or stored."""
    import asyncio

    from app.store import transfer
    from app.store.db import StorageError
    try:
        binary = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        imported = asyncio.run(transfer.import_document(args.db, transfer.text_of(binary)))
    except transfer.TransferError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        binary.close()
    print(imported.run_id)
    return 0
