"""`run.py bench URL`: a run without the dashboard, with hey/oha-style flags."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.analysis.compare import (Result, Side, figures, method, regressions, side_of_result,
                                  text)
from app.analysis.compare import compare as verdicts
from app.analysis.bootstrap import Samples
from app.analysis.junit import junit_xml
from app.engine import Outcome, Run, start
from app.engine.backends import Backend, Cluster, ClusterError, open_cluster
from app.engine.histogram import Histogram
from app.engine.limits import port_exhaustion_warning
from app.engine.series import Rollups
from app.engine.snapshot import Snapshot
from app.report import Ladder
from app.report.bench import write_report
from app.spec import RunSpec, SpecError, parse_spec
from app.status import RunStatus
from app.store import db as store_db
from app.store import runs
from app.store.samples import add as add_sample
from app.store.samples import stored_side
from app.store.series import encoded
from app.workload import (MAX_DATA_BYTES, TargetsFormat, WorkloadError, format_for_path,
                          max_bytes, parse_targets)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", nargs="?",
                   help="http(s) URL; {i} is replaced by the request's 0-based index "
                        "(optional with --targets)")
    p.add_argument("-n", dest="requests", help="number of requests")
    p.add_argument("-c", dest="concurrency", default="10", help="concurrency / in-flight cap")
    p.add_argument("-z", dest="duration", help="duration, e.g. 10s, 2m")
    p.add_argument("-q", dest="rate", help="rate in requests/s (open model)")
    p.add_argument("--stages", help="open-model ramps: '30s:100, 1m:500'")
    p.add_argument("-m", dest="method", default="GET")
    p.add_argument("-H", dest="headers", action="append", default=[], help="'Name: value'")
    p.add_argument("-d", dest="body", default="")
    p.add_argument("--timeout", default="30")
    p.add_argument("--connect-timeout", default="10")
    p.add_argument("--no-keepalive", action="store_true")
    p.add_argument("--engine", default="aiohttp", help="aiohttp | fast | sync")
    p.add_argument("--workers", default="1", help="processes, or 'auto' for one per core")
    p.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    p.add_argument("--name", default="")
    p.add_argument("--targets", metavar="FILE",
                   help="requests to send: Vegeta text, JSON lines (.jsonl) or a HAR (.har)")
    p.add_argument("--targets-format", choices=[f.value for f in TargetsFormat],
                   help="the targets file's format (default: from its extension)")
    p.add_argument("--targets-host", metavar="HOST",
                   help="keep only the targets of this host (e.g. of a HAR)")
    p.add_argument("--order", help="sequence (target i mod n, the default) | weighted")
    p.add_argument("--seed", help="for weighted order, random rows, {uuid} and {rand:A-B}")
    p.add_argument("--data", metavar="FILE.csv", help="CSV with a header row: {column} values")
    p.add_argument("--data-order", help="sequence (row i mod rows, the default) | random")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--baseline", metavar="RUN_ID|FILE.json",
                   help="compare with a run stored in --db, or an earlier --json output: "
                        "better, worse or same per metric")
    p.add_argument("--fail-on-regression", action="store_true",
                   help="with --baseline: exit 1 when p50, p99, req/s or the error rate got "
                        "significantly worse")
    p.add_argument("--report", metavar="FILE.html",
                   help="write the run as one self-contained HTML file (opens offline)")
    p.add_argument("--threshold", dest="thresholds", action="append", default=[],
                   metavar="EXPR", help="pass/fail criterion, repeatable: 'p99 < 200ms', "
                   "'error_rate < 1%%', 'rps >= 1000', 'p99{GET /search} < 300ms'; "
                   "exit 1 if one fails")
    p.add_argument("--abort-on-fail", action="store_true",
                   help="stop at the end of the first second whose totals fail a threshold")
    p.add_argument("--junit", metavar="FILE", help="write the thresholds as JUnit XML")
    p.add_argument("--save", action="store_true", help="store the run for the dashboard")
    p.add_argument("--db", default="data/stampede.sqlite")
    p.add_argument("--push", metavar="DASHBOARD_URL",
                   help="upload the ended run to that dashboard (POST /api/runs/import; "
                        "secrets masked); exit 1 if it is refused")
    p.add_argument("--token", default=os.environ.get("STAMPEDE_TOKEN"),
                   help="the dashboard's token for --push (default: $STAMPEDE_TOKEN)")
    add_ray_argument(p)


def add_ray_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="run the workers on a Ray cluster: auto, HOST:6379 or "
                             "ray://HOST:10001 (pip install -r requirements-cluster.txt)")


# spec fields that the CLI fills from a flag of another name: errors name the flag
_FLAGS = {"thresholds": "--threshold", "abort_on_fail": "--abort-on-fail",
          "targets": "--targets", "data_csv": "--data", "data_order": "--data-order",
          "requests": "-n", "concurrency": "-c", "duration": "-z", "rate": "-q"}


def spec_from_args(args: argparse.Namespace, cpus: int | None = None) -> RunSpec:
    return parse_spec(cpus=cpus, data={
        "url": args.url, "requests": args.requests, "concurrency": args.concurrency,
        "duration": args.duration, "rate": args.rate, "stages": args.stages,
        "method": args.method, "headers": args.headers, "body": args.body,
        "timeout": args.timeout, "connect_timeout": args.connect_timeout,
        "keepalive": not args.no_keepalive, "engine": args.engine, "workers": args.workers,
        "verify_tls": not args.insecure, "name": args.name, "order": args.order,
        "seed": args.seed, "data_order": args.data_order, "thresholds": args.thresholds,
        "abort_on_fail": args.abort_on_fail, **_files(args)})


def _files(args: argparse.Namespace) -> dict[str, Any]:
    """The targets and data files as spec fields; SpecError naming the flag and the line.
    Sizes are checked before reading, so an oversized file is refused, not loaded."""
    fields: dict[str, Any] = {}
    if args.targets:
        with _refused_as("--targets"):
            path = Path(args.targets)
            fmt = TargetsFormat(args.targets_format or format_for_path(path.name))
            _check_size(path, max_bytes(fmt))
            folder = path.resolve().parent
            targets = parse_targets(path.read_bytes(), fmt, only_host=args.targets_host,
                                    read_file=lambda name: (folder / name).read_bytes())
            fields["targets"] = [t.to_dict() for t in targets]
    if args.data:
        with _refused_as("--data"):
            path = Path(args.data)
            _check_size(path, MAX_DATA_BYTES)
            fields["data_csv"] = path.read_bytes()
    return fields


@contextlib.contextmanager
def _refused_as(flag: str) -> Iterator[None]:
    """A file's problem (unreadable, too big, a bad line) as the error of its flag."""
    try:
        yield
    except WorkloadError as exc:
        raise SpecError({flag: str(exc)}) from None
    except OSError as exc:
        raise SpecError({flag: f"cannot read {exc.filename}: {exc.strerror}"}) from None


def _check_size(path: Path, limit: int) -> None:
    size = path.stat().st_size
    if size > limit:
        raise WorkloadError(f"{path.name} is {size / 2**20:.1f} MiB, above the limit of "
                            f"{limit / 2**20:.0f} MiB")


def main(args: argparse.Namespace) -> int:
    try:
        cluster = open_cluster(args.ray)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        with _kept_for_push(args):
            return _main(args, cluster)
    finally:
        cluster.close()


@contextlib.contextmanager
def _kept_for_push(args: argparse.Namespace) -> Iterator[None]:
    """--push without --save: the run is stored as --save stores it (_Saver: every second,
    its rollups, the summary), in a temporary database, and exported from there. Memory
    stays flat however long the run, and the upload is the same document `run.py export`
    writes, from the same store code. `args.kept_db`: where the run is stored, if it is
    (--db stays the --save and --baseline database)."""
    args.kept_db = args.db if args.save else None
    if not args.push or args.save:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="stampede-push-") as folder:
        args.kept_db = os.path.join(folder, "run.sqlite")
        yield


def _main(args: argparse.Namespace, cluster: Cluster) -> int:
    try:
        spec = spec_from_args(args, cluster.cpus())
    except SpecError as exc:
        for field, message in exc.errors.items():
            print(f"error: {_FLAGS.get(field, field)}: {message}", file=sys.stderr)
        return 2
    try:
        baseline = _baseline(args)
    except SpecError as exc:
        for flag, message in exc.errors.items():
            print(f"error: {flag}: {message}", file=sys.stderr)
        return 2
    if args.push and not _is_dashboard_url(args.push):
        print(f"error: --push: {args.push!r} is not a dashboard's http(s) URL", file=sys.stderr)
        return 2
    if args.junit and not Path(args.junit).resolve().parent.is_dir():
        print(f"error: --junit: no folder {Path(args.junit).resolve().parent}", file=sys.stderr)
        return 2
    if args.report and not Path(args.report).resolve().parent.is_dir():
        print(f"error: --report: no folder {Path(args.report).resolve().parent}", file=sys.stderr)
        return 2
    warning = port_exhaustion_warning(spec.keepalive, spec.requests)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    import uvloop
    # --report: the run's series at each stored span, built as the seconds come (bounded)
    ladder = Ladder() if args.report else None
    try:
        result, store_failure = uvloop.run(_bench(spec, args, cluster.backend(), ladder))
    except store_db.StorageError as exc:      # --save: not even the run's row could be stored
        print(f"error: {exc}", file=sys.stderr)
        return 1
    samples: Samples = result.pop("samples")     # for --baseline and --json, not the report
    if ladder is not None:
        try:
            write_report(args.report, ladder, result, spec.to_dict(),
                         result.get("run_id") if args.save else None)
        except OSError as exc:
            print(f"error: --report: cannot write {args.report}: {exc.strerror}",
                  file=sys.stderr)
            return 1
        result["report"] = args.report
    push_failure = None
    if args.push:
        run_id = result["run_id"] if args.save else result.pop("run_id")   # a temporary one
        if store_failure:
            push_failure = "the run could not be kept to push it (see below)"
        else:
            try:
                result["pushed"] = uvloop.run(push(args.kept_db, run_id, args.push,
                                                   args.token))
            except PushError as exc:
                push_failure = str(exc)
    this = Side(figures(result), samples)
    compared = _compare(baseline, this, result) if baseline else []
    if args.json:
        result["samples"] = samples.to_json()    # what a later --baseline FILE.json tests with
    print(json.dumps(result) if args.json else render_text(result, spec))
    if baseline and not args.json:
        print("\n".join(text(compared, baseline[0])) + "\n")
    if result.get("pushed") and not args.json:
        print(f"Pushed: {result['pushed']}")
    if push_failure:
        print(f"error: --push: {push_failure}", file=sys.stderr)
    if args.junit:
        try:
            Path(args.junit).write_text(junit_xml(
                result.get("thresholds", []), suite=spec.name or spec.url,
                duration_s=result["duration_s"], aborted=result.get("aborted")))
        except OSError as exc:
            print(f"error: --junit: cannot write {args.junit}: {exc.strerror}", file=sys.stderr)
            return 1
    if store_failure:                         # --save: the run was stopped, or its end not stored
        print(f"error: {store_failure}", file=sys.stderr)
        return 1
    if push_failure:
        return 1
    if args.fail_on_regression and regressions(compared):
        return 1
    # a failed threshold fails the command: what CI gates on
    return 1 if result.get("thresholds_passed") is False else 0


async def _bench(spec: RunSpec, args: argparse.Namespace, backend: Backend,
                 ladder: Ladder | None = None) -> tuple[dict[str, Any], str | None]:
    """The run's result, and why it could not all be stored (--save) if it could not."""
    saver = await _Saver.open(args.kept_db, spec) if args.kept_db else None
    try:
        run = await start(spec, backend)
    except BaseException as exc:   # stored runs stay honest: never left "running"
        if saver:
            await saver.close_failed(f"{type(exc).__name__}: {exc}")
        raise
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, run.stop)
    progress = _Progress(spec) if sys.stderr.isatty() else None
    samples = Samples(auto=True)        # for --baseline, and in --json for a later one
    snapshots = run.__aiter__()
    try:
        async for snap in snapshots:
            add_sample(samples, snap.second, snap.elapsed_s, snap)
            if saver:
                await saver.add(snap, run)
            if ladder:
                ladder.add(snap)
            if progress:
                progress.show(run, snap)
    except BaseException:
        run.stop()          # the workers end now; aclose() below reaps them
        raise
    finally:
        await snapshots.aclose()
        if progress:
            progress.clear()
        if saver:
            await saver.close(run)
        if ladder:
            ladder.close()
    result = run.result()
    result["outcome"] = run.outcome.value if run.outcome else Outcome.FAILED.value
    if run.error:
        result["error"] = run.error
    failure = saver.failure if saver else None
    if failure:
        result["outcome"], result["error"] = Outcome.FAILED.value, failure
    result["spec"] = spec.to_dict()
    result["histogram"] = text_histogram(run.summary.total.latency)
    result["samples"] = samples
    if saver:
        result["run_id"] = saver.run_id
    return result, failure


MAX_BASELINE_BYTES = 64 * 2**20    # a --json file (~2 MB for 20 minutes at 20,000 req/s)


def _baseline(args: argparse.Namespace) -> tuple[str, Side] | None:
    """--baseline RUN_ID (in --db) or FILE.json (an earlier --json output), read before the
    run starts; SpecError naming the flag when it cannot be."""
    if not args.baseline:
        if args.fail_on_regression:
            raise SpecError({"--fail-on-regression": "needs --baseline RUN_ID or FILE.json"})
        return None
    if args.baseline.isascii() and args.baseline.isdigit():
        run_id = int(args.baseline)
        if not Path(args.db).is_file():
            raise SpecError({"--baseline": f"run #{run_id}: no database at {args.db} (--db)"})
        try:
            side = asyncio.run(stored_side(args.db, run_id)) if run_id <= 2**63 - 1 else None
        except (sqlite3.Error, store_db.StorageError) as exc:
            raise SpecError({"--baseline": f"cannot read {args.db}: {exc}"}) from None
        if side is None:
            raise SpecError({"--baseline": f"no run #{run_id} in {args.db}"})
        return f"run #{run_id} of {args.db}", side
    path = Path(args.baseline)
    try:
        if path.stat().st_size > MAX_BASELINE_BYTES:
            raise ValueError(f"above {MAX_BASELINE_BYTES // 2**20} MiB")
        return str(path), side_of_result(json.loads(path.read_bytes()))
    except OSError as exc:
        raise SpecError({"--baseline": f"cannot read {args.baseline}: {exc.strerror}"}) from None
    except json.JSONDecodeError as exc:
        raise SpecError({"--baseline": f"{args.baseline} is not JSON ({exc})"}) from None
    except ValueError as exc:            # what the file holds
        raise SpecError({"--baseline": f"{args.baseline}: {exc}"}) from None


def _compare(baseline: tuple[str, Side], this: Side, result: dict[str, Any]) -> list[Result]:
    """The verdicts of this run against the baseline, also put in result["comparison"]
    with the metrics that --fail-on-regression fails on."""
    label, side = baseline
    results = verdicts([side, this])[0]
    result["comparison"] = {
        "baseline": label, "method": method(),
        "metrics": {r.metric.key: r.to_dict() for r in results},
        "regressions": regressions(results)}
    return results


class PushError(RuntimeError):
    """The dashboard refused the run, or could not be reached: the message says which."""


def _is_dashboard_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


async def push(db_path: str, run_id: int, dashboard: str, token: str | None) -> str:
    """Upload the stored run to the dashboard at `dashboard` (POST /api/runs/import), the
    document streamed as it is read from the database; the URL of its page there."""
    import aiohttp

    from app.store import transfer
    url = dashboard.rstrip("/") + "/api/runs/import"
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    db = await store_db.open_db(db_path)

    async def body():
        async for piece in transfer.export_document(db, run_id, source="bench"):
            yield piece.encode()
    try:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(url, data=body(), headers=headers) as response:
                text = await response.text()
                if response.status != 201:
                    raise PushError(f"{url} refused the run: {response.status} "
                                    f"{response.reason}: {_said(text)}")
                page = json.loads(text)["page"]
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise PushError(f"cannot reach {url}: {exc or type(exc).__name__}") from None
    except (ValueError, KeyError) as exc:
        raise PushError(f"{url} answered 201 without the run's page ({exc})") from None
    finally:
        await db.close()
    return dashboard.rstrip("/") + page


def _said(text: str) -> str:
    """A refusal's message: the JSON error(s), else the start of the text."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "(no message)"
    if isinstance(data, dict) and isinstance(data.get("errors"), dict):
        return "; ".join(f"{k}: {v}" for k, v in data["errors"].items())
    if isinstance(data, dict) and "error" in data:
        return str(data["error"])
    return text.strip()[:300]


class _Saver:
    """Stores the run as the dashboard does, so `--save` runs show up in History.

    A database that takes no more writes (disk full, read-only) stops the run and fails it:
    `failure` says so, naming the file and what to do (exit 1)."""

    def __init__(self, db, run_id: int):
        self.db, self.run_id = db, run_id
        self.rollups = Rollups()
        self.failure: str | None = None

    @classmethod
    async def open(cls, path: str, spec: RunSpec) -> _Saver:
        """Raises StorageError if the database takes no write at all."""
        db = None
        try:
            db = await store_db.open_db(path)
            record = await runs.create_run(db, spec.to_dict(with_data=True),
                                           status=RunStatus.RUNNING)
        except Exception as exc:
            if db is not None:
                await db.close()
            problem = store_db.storage_problem(exc, "the run could not be stored",
                                               os.path.abspath(path))
            if problem is None:
                raise
            raise problem from exc
        return cls(db, record.id)

    async def add(self, snap: Snapshot, run: Run) -> None:
        if self.failure:
            return                  # stopping: the workers' last seconds are not stored
        if not await self._append(self.rollups.add(snap), f"second {snap.second}"):
            run.stop()

    async def close(self, run: Run) -> None:
        if not self.failure:        # else the rollups would count seconds that are not stored
            await self._append(self.rollups.close(), "the last rollups")
        status = RunStatus(run.outcome.value) if run.outcome else RunStatus.FAILED
        if self.failure:
            status = RunStatus.FAILED
        await self._finish(status, run.result(), self.failure or run.error)

    async def close_failed(self, error: str) -> None:
        await self._finish(RunStatus.FAILED, None, error)

    async def _append(self, rows: list, what: str) -> bool:
        try:
            await runs.append_rows(self.db, self.run_id, encoded(rows))
        except sqlite3.Error as exc:
            problem = await store_db.storage_error(
                self.db, exc, f"{what} of run #{self.run_id} could not be stored")
            if problem is None:
                raise
            self.failure = f"{problem}. The run was stopped; the seconds stored before are kept."
            return False
        return True

    async def _finish(self, status: RunStatus, summary: dict | None, error: str | None) -> None:
        try:
            await runs.finish_run(self.db, self.run_id, status, summary, error)
        except sqlite3.Error as exc:
            problem = await store_db.storage_error(
                self.db, exc, f"the end of run #{self.run_id} could not be stored")
            if problem is None:
                raise
            self.failure = (f"{self.failure} " if self.failure else "") + (
                f"{problem}. The run's row still says running: the dashboard marks it "
                "interrupted when it next starts.")
        finally:
            await self.db.close()


class _Progress:
    def __init__(self, spec: RunSpec):
        self.spec = spec

    def show(self, run: Run, snap: Snapshot) -> None:
        total = run.summary.total
        elapsed = run.summary.duration_s
        rps = total.completed / elapsed if elapsed else 0.0    # of requests done, for the ETA
        parts = [f"{total.completed:,}" + (f"/{self.spec.requests:,}" if self.spec.requests else ""),
                 f"{snap.responses / snap.elapsed_s:,.0f} req/s",
                 f"errors {total.errors + total.failed:,}"]
        eta = None
        if self.spec.requests and rps:
            eta = (self.spec.requests - total.completed) / rps
        if self.spec.run_seconds:
            left = self.spec.run_seconds - elapsed
            eta = left if eta is None else min(eta, left)
        if eta is not None:
            parts.append(f"ETA {max(eta, 0):.0f}s")
        sys.stderr.write("\r\x1b[K" + "  ".join(parts))
        sys.stderr.flush()

    def clear(self) -> None:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def text_histogram(hist: Histogram, rows: int = 10) -> list[list[float]]:
    """hey-style: `rows` equal-width bins from fastest to slowest, [[upper_ms, count], ...]."""
    if hist.total == 0:
        return []
    lo, hi = hist.min_ns / 1e6, hist.max_ns / 1e6
    width = (hi - lo) / rows or 1.0
    bins = [0] * rows
    for low_ms, count in hist.buckets_ms():
        bins[min(max(int((low_ms - lo) / width), 0), rows - 1)] += count
    return [[round(lo + width * (i + 1), 3), n] for i, n in enumerate(bins)]


def _ms(value: float | None) -> str:
    """No responses, no latency: a dash, never 0."""
    return "—" if value is None else f"{value:.3f}"


def render_text(r: dict[str, Any], spec: RunSpec) -> str:
    lat = r["latency_ms"]
    lines = ["", "Summary:",
             f"  Outcome:\t{r['outcome']}" + (f" ({r['error']})" if r.get("error") else ""),
             f"  Total:\t{r['duration_s']:.4f} secs",
             f"  Requests:\t{r['requests']:,} ({r['ok']:,} ok, {r['failed']:,} status >= 400, "
             f"{r['errors']:,} errors)",
             f"  Requests/sec:\t{r['rps']:,.2f}",
             f"  Received:\t{r['bytes']:,} bytes", "",
             "Latency (ms)" + (" from due time, coordinated-omission corrected"
                               if spec.model.value == "open" else "") + ":",
             f"  mean {_ms(lat['mean'])}  p50 {_ms(lat['p50'])}  p90 {_ms(lat['p90'])}  "
             f"p99 {_ms(lat['p99'])}  p99.9 {_ms(lat['p999'])}  max {_ms(lat['max'])}"]
    if spec.model.value == "open":
        svc = r["service_ms"]
        lines.append(f"  service time: p50 {_ms(svc['p50'])}  p99 {_ms(svc['p99'])}  "
                     f"max {_ms(svc['max'])}   late starts {r['late_starts']:,}")
    if r["histogram"]:
        lines += ["", "Response time histogram (ms):"]
        peak = max(n for _, n in r["histogram"]) or 1
        for upper, n in r["histogram"]:
            lines.append(f"  {upper:10.3f} [{n}]\t|{'■' * round(40 * n / peak)}")
    if r.get("endpoints"):
        lines += ["", "Endpoints (ms):",
                  f"  {'requests':>9} {'ok':>8} {'failed':>7} {'errors':>7} {'p50':>9} "
                  f"{'p99':>9} {'max':>9}  name"]
        for name, e in r["endpoints"].items():
            lat = e["latency_ms"]
            lines.append(f"  {e['requests']:>9,} {e['ok']:>8,} {e['failed']:>7,} "
                         f"{e['errors']:>7,} {_ms(lat['p50']):>9} {_ms(lat['p99']):>9} "
                         f"{_ms(lat['max']):>9}  {name}")
    lines += ["", "Status code distribution:"]
    lines += [f"  [{code}]\t{n:,} responses" for code, n in r["status_codes"].items()] or ["  (none)"]
    if r["error_classes"]:
        lines += ["", "Error distribution:"]
        lines += [f"  [{n:,}]\t{cls}: {r['error_samples'].get(cls, '')}"
                  for cls, n in r["error_classes"].items()]
    lines += ["", f"Generator: peak RSS {r['peak_rss_mb']:.1f} MB, CPU {r['cpu_percent']:.0f}% "
                  f"of one core, max loop lag {r['max_loop_lag_ms']:.1f} ms"]
    if r.get("backend") == "ray":
        skews = r.get("clock_skew_ms", {}).values()
        lines += ["", "Ray nodes" + (f" (clock skew at start: {min(skews):+.1f} to "
                                     f"{max(skews):+.1f} ms)" if skews else "") + ":"]
        lines += [f"  {node[:12]}  {n['host']}: {n['workers']} worker(s), {n['requests']:,} "
                  f"requests, CPU {n['cpu_percent']:.0f}%, peak RSS {n['peak_rss_mb']:.1f} MB"
                  for node, n in r["nodes"].items()]
    for lost in r.get("lost_workers", []):
        lines.append(f"  lost: worker {lost['worker']} on {lost['host']} ({lost['node'][:12]}) "
                     f"in second {lost['second']}: {lost['detail']}")
    if r.get("thresholds"):
        lines += ["", "Thresholds:"]
        for t in r["thresholds"]:
            value = ("no response" if t["value"] is None
                     else f"{t['value']:,.3f}".rstrip("0").rstrip(".")
                     + (" ms" if t["unit"] == "ms" else ""))
            lines.append(f"  {'PASS' if t['pass'] else 'FAIL'}  {t['expr']}   (measured {value})")
        if r.get("aborted"):
            a = r["aborted"]
            lines.append(f"  stopped in second {a['second']}: {a['threshold']} failed "
                         "(--abort-on-fail)")
    lines.append("")
    return "\n".join(lines)
