"""JSON API handlers: thin, they parse, call the store or the RunManager, and answer.

Bad input is a 4xx naming the parameter or field (`{"errors": {name: message}}`)
and changes nothing; every /api error is JSON (see `json_errors`).
"""
from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from app.presets import PRESETS
from app.redact import run_view
from app.spec import RunSpec, SpecError, parse_spec
from app.status import RunStatus
from app.engine.series import default_step
from app.store import runs as store
from app.store.db import StorageError
from app.store import series as timeline
from app.store import samples as run_samples
from app.analysis import compare as verdicts
from app.store import transfer

from .keys import CLUSTER, DB, MANAGER, SETTINGS
from .preview import preview as preview_of
from .runs import RunActive

MAX_LIMIT = 200
MAX_SECOND = 10 * 366 * 86400       # ten years of seconds: past any run, within SQLite's int
MAX_RUN_ID = 2**63 - 1               # SQLite's largest INTEGER: a larger id names no run
MAX_ANSWER_POINTS = 20_000   # a JSON series answer (~12 MB; the default step keeps 2,000: engine/series.py)
DEFAULT_LIMIT = 50
COMPARE_MIN, COMPARE_MAX = 2, 4     # runs a comparison takes
# fields parse_spec reads, plus what RunSpec.to_dict() adds ("Run again" posts it back)
# and the workload's text inputs (a targets file's text and format, the data CSV's text)
SPEC_FIELDS = frozenset(f.name for f in dataclasses.fields(RunSpec)) | {
    "model", "targets_text", "targets_format", "targets_host", "data_csv"}
# The CSV export: these columns, then one per status code and error class seen in the run
# (status_200, error_request_timeout). Each is (name, where in a sample, decimals or None
# for a count); an empty cell is a value the second has not got (no responses: no latency).
CSV_COLUMNS: tuple[tuple[str, tuple[str, ...], int | None], ...] = (
    ("second", ("second",), None), ("elapsed_s", ("elapsed_s",), 3),
    ("started", ("started",), None), ("completed", ("completed",), None),
    ("ok", ("ok",), None), ("failed", ("failed",), None), ("errors", ("errors",), None),
    ("rps", ("rps",), 2), ("in_flight", ("in_flight",), None),
    ("max_in_flight", ("max_in_flight",), None), ("late_starts", ("late_starts",), None),
    ("bytes", ("bytes",), None),
    *((f"{name}_ms", ("latency_ms", name), 3)
      for name in ("mean", "p50", "p90", "p99", "p999", "max")),
    *((f"service_{name}_ms", ("service_ms", name), 3) for name in ("p50", "p99", "max")),
    ("cpu_percent", ("health", "cpu_percent"), 1), ("rss_mb", ("health", "rss_mb"), 1),
    ("loop_lag_ms", ("health", "loop_lag_ms"), 3),
)


def _json(data: Any, status: int = 200, **kwargs: Any) -> web.Response:
    return web.json_response(data, status=status, dumps=json.dumps, **kwargs)


def _errors(errors: dict[str, str], status: int = 400) -> web.Response:
    return _json({"errors": errors}, status)


def _error(message: str, status: int) -> web.Response:
    return _json({"error": message}, status)


def parse_run_id(raw: str) -> int | None:
    """The one reader of run ids (paths, ?from=, ?ids=): digits from 1 to MAX_RUN_ID, else
    None: no such run. A larger id would overflow SQLite's integer (it was a 500), and int()
    of over 4,300 digits raises."""
    digits = raw.lstrip("0")
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        return None
    run_id = int(digits)
    return run_id if run_id <= MAX_RUN_ID else None


def path_run_id(request: web.Request) -> int:
    """The route's {id}; a JSON 404 when it can name no run."""
    run_id = parse_run_id(request.match_info["id"])
    if run_id is None:
        raise web.HTTPNotFound(text=json.dumps({"error": f"run #{request.match_info['id']} not "
                                                         f"found"}),
                               content_type="application/json")
    return run_id


def _run_json(record: store.RunRecord) -> dict[str, Any]:
    """A run as the API shows it: secrets masked (the store keeps them for Run again)."""
    return run_view(record).to_dict()


def _not_found(run_id: int) -> web.Response:
    return _error(f"run #{run_id} not found", 404)


# -- runs ---------------------------------------------------------------------------------

async def list_runs(request: web.Request) -> web.Response:
    try:
        query = parse_list_query(request.query)
    except SpecError as exc:
        return _errors(exc.errors)
    records, total = await store.list_runs(request.app[DB], **query)
    return _json({"runs": [_run_json(r) for r in records], "total": total})


def parse_list_query(params: Any) -> dict[str, Any]:
    """`q`, `status`, `sort`, `order`, `limit`, `offset` -> store.list_runs arguments."""
    errors: dict[str, str] = {}
    query: dict[str, Any] = {"text": params.get("q", "")}
    if len(query["text"]) > 200:
        errors["q"] = "at most 200 characters"
    status = params.get("status", "")
    query["status"] = None
    if status:
        try:
            query["status"] = RunStatus(status)
        except ValueError:
            errors["status"] = f"must be one of {', '.join(s.value for s in RunStatus)}"
    verdict = params.get("thresholds", "")
    query["passed"] = None
    if verdict:
        if verdict not in ("passed", "failed"):
            errors["thresholds"] = "must be passed or failed"
        query["passed"] = verdict == "passed"
    query["sort"] = params.get("sort", "created")
    if query["sort"] not in store.SORT_KEYS:
        errors["sort"] = f"must be one of {', '.join(store.SORT_KEYS)}"
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        errors["order"] = "must be asc or desc"
    query["descending"] = order == "desc"
    for name, default, low, high in (("limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
                                     ("offset", 0, 0, None)):
        raw = params.get(name, "")
        if raw == "":
            query[name] = default
            continue
        # "-1" is a whole number, just out of range: say the range, not "not a number"
        digits = raw[1:] if raw.startswith("-") else raw
        if not digits.isascii() or not digits.isdigit() or len(digits) > 12:
            errors[name] = f"{raw!r} is not a whole number"
            continue
        value = int(raw)
        if value < low or (high is not None and value > high):
            errors[name] = f"must be from {low} to {high}" if high else f"must be ≥ {low}"
        query[name] = value
    if errors:
        raise SpecError(errors)
    return query


async def create_run(request: web.Request) -> web.Response:
    spec = await _posted_spec(request)
    if isinstance(spec, web.Response):
        return spec
    try:
        record = await request.app[MANAGER].submit(spec)
    except RunActive as exc:
        return _error(str(exc), 409)
    except StorageError as exc:       # disk full or read-only: not the client's fault
        return _error(str(exc), 503)
    location = request.app.router["api_run"].url_for(id=str(record.id))
    return _json(_run_json(record), 201, headers={"Location": str(location)})


async def import_run(request: web.Request) -> web.Response:
    """A run from elsewhere (app/store/transfer.py's document: `run.py export`, `bench
    --push`), stored under a new id, ended, with the host it came from. The body goes to a
    temporary file as it arrives (413 past transfer.MAX_IMPORT_BYTES, at once when its
    Content-Length says so: never read whole into memory), then is read a member and a
    second at a time; a refused document is a 400 naming where (`{"errors":
    {"seconds[12]": "second 13: ..."}}`) and stores nothing."""
    try:
        body = await transfer.spool(request.content.iter_chunked(1 << 16),
                                    request.content_length)
    except transfer.TooLarge as exc:
        return _error(exc.message, 413)
    try:
        with body:
            imported = await transfer.import_document(request.app[SETTINGS].db_path,
                                                      transfer.text_of(body))
    except transfer.TooLarge as exc:
        return _error(exc.message, 413)
    except transfer.TransferError as exc:
        return _errors({exc.where: exc.message})
    except StorageError as exc:       # disk full or read-only: not the client's fault
        return _error(str(exc), 503)
    record = await store.get_run(request.app[DB], imported.run_id)
    if record is None:                # deleted between the copy and this answer
        return _not_found(imported.run_id)
    router = request.app.router
    location = router["api_run"].url_for(id=str(record.id))
    page = router["show_run"].url_for(id=str(record.id))
    return _json({**_run_json(record), "origin": imported.origin.to_dict(), "page": str(page)},
                 201, headers={"Location": str(location)})


async def preview(request: web.Request) -> web.Response:
    """The run POST /api/runs would start, not started: its first requests as they will
    be sent (secrets masked) and its totals. Nothing is stored."""
    spec = await _posted_spec(request)
    if isinstance(spec, web.Response):
        return spec
    return _json(await asyncio.to_thread(preview_of, spec))


def parse_spec_there(app: web.Application, data: dict[str, Any]) -> RunSpec:
    """parse_spec for where this dashboard's runs go (`workers: auto` is a Ray cluster's
    CPUs with --ray). Blocking: call it in a thread."""
    return parse_spec(data, cpus=app[CLUSTER].cpus())


async def _posted_spec(request: web.Request) -> RunSpec | web.Response:
    """The RunSpec a JSON body describes, or the 400 naming every bad or unknown field.
    Parsed in a thread: a 100 MB data file takes seconds, and the event loop carries a
    live run's WebSocket meanwhile."""
    try:
        data = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError) as exc:
        return _errors({"body": f"must be a JSON object ({exc})"})
    if not isinstance(data, dict):
        return _errors({"body": "must be a JSON object"})
    unknown = {key: "unknown field" for key in data if key not in SPEC_FIELDS}
    try:
        spec = await asyncio.to_thread(parse_spec_there, request.app, data)
    except SpecError as exc:
        return _errors({**exc.errors, **unknown})
    return _errors(unknown) if unknown else spec


async def get_run(request: web.Request) -> web.Response:
    run_id = path_run_id(request)
    record = await store.get_run(request.app[DB], run_id)
    return _json(_run_json(record)) if record else _not_found(run_id)


async def delete_run(request: web.Request) -> web.Response:
    run_id = path_run_id(request)
    try:
        deleted = await store.delete_run(request.app[DB], run_id)
    except ValueError as exc:          # queued or running
        return _error(str(exc), 409)
    return web.Response(status=204) if deleted else _not_found(run_id)


async def stop_run(request: web.Request) -> web.Response:
    """`?queued=1` also stops the runs queued behind this one ("Stop all" of a preset)."""
    run_id = path_run_id(request)
    queued = request.query.get("queued", "0")
    if queued not in ("0", "1"):
        return _errors({"queued": "must be 0 or 1"})
    db = request.app[DB]
    if await store.get_run(db, run_id) is None:
        return _not_found(run_id)
    if not await request.app[MANAGER].stop(run_id, queued_after=queued == "1"):
        return _error(f"run #{run_id} is not active", 409)
    record = await store.get_run(db, run_id)
    return _json(_run_json(record) if record else None, 202)


def parse_window(query, *, step: bool = False
                 ) -> tuple[int | None, int | None, int | None]:
    """?from=S&to=S[&step=N]: seconds of a run (1-based, inclusive), each None when not
    given; SpecError naming each bad one. The API and the pages read windows with it."""
    values: dict[str, int | None] = {}
    errors = {}
    for name in ("from", "to", "step") if step else ("from", "to"):
        raw = query.get(name, "")
        if raw == "":
            values[name] = None
        elif raw.isascii() and raw.isdigit() and len(raw) <= 12 and 1 <= int(raw) <= MAX_SECOND:
            values[name] = int(raw)
        else:
            errors[name] = f"{raw!r} is not a whole number of seconds from 1 to {MAX_SECOND}"
    lo, hi = values.get("from"), values.get("to")
    if not errors and lo is not None and hi is not None and lo > hi:
        errors["to"] = f"{hi} is before from ({lo})"
    if errors:
        raise SpecError(errors)
    return lo, hi, values.get("step")


async def series(request: web.Request) -> web.StreamResponse:
    """Per-step samples of [from, to], each the exact merge of its seconds. JSON: the
    default step keeps the answer under ~2,000 points. CSV: every second (or the step),
    streamed a chunk at a time."""
    run_id = path_run_id(request)
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        return _errors({"format": "must be json or csv"})
    try:
        lo, hi, step = parse_window(request.query, step=True)
    except SpecError as exc:
        return _errors(exc.errors)
    lo = lo or 1
    db = request.app[DB]
    record = await store.get_run(db, run_id)
    if record is None:
        return _not_found(run_id)
    pending = request.app[MANAGER].pending(run_id)
    last = await timeline.last_second(db, run_id, pending)
    disposition = {"Content-Disposition": f'inline; filename="stampede-run-{run_id}.{fmt}"'}
    if (fmt == "json" and pending is None and not record.status.active and lo == 1
            and (hi is None or hi >= last) and step in (None, default_step(1, max(last, 1)))):
        # an ended run's whole series at its default step, as its page and the compare
        # page draw it: kept once computed
        step, last, samples = await timeline.overview(db, run_id)
        head = json.dumps({"run": _run_json(record), "from": 1, "to": last, "step": step,
                           "last": last})
        return web.Response(text=f'{head[:-1]}, "samples": {samples}}}',
                            content_type="application/json", headers=disposition)
    hi = last if hi is None else min(hi, last)
    # the file name is the server's, the same for both formats; JSON stays viewable in a tab
    name = f"stampede-run-{run_id}.{fmt}"
    if fmt == "csv":
        return await _stream_csv(request, run_id, lo, hi, step or 1, pending, name)
    step = step or default_step(lo, hi)
    if (hi - lo) // step + 1 > MAX_ANSWER_POINTS:
        return _errors({"step": f"{step} s over seconds {lo}-{hi} gives more than "
                                f"{MAX_ANSWER_POINTS:,} points: use a step of at least "
                                f"{-(-(hi - lo + 1) // MAX_ANSWER_POINTS)} s, or a narrower from-to "
                                f"(the CSV export streams any step)"})
    samples = [v async for chunk in timeline.views(db, run_id, lo, hi, step, pending)
               for v in chunk]
    return _json({"run": _run_json(record), "from": lo, "to": hi, "step": step,
                  "last": last, "samples": samples},
                 headers={"Content-Disposition": f'inline; filename="{name}"'})


async def _stream_csv(request: web.Request, run_id: int, lo: int, hi: int, step: int,
                      pending: timeline.Pending | None, name: str) -> web.StreamResponse:
    db = request.app[DB]
    # the status and error columns come from the run's totals: known before the rows
    totals = await timeline.window(db, run_id, lo, hi, pending)
    codes = sorted(totals.total.status_codes)
    classes = sorted(totals.total.error_classes)
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}"'})
    await response.prepare(request)
    await response.write(csv_lines([csv_header(codes, classes)]))
    code_keys = [str(c) for c in codes]
    async for chunk in timeline.views(db, run_id, lo, hi, step, pending):
        await response.write(csv_lines(csv_row(view, code_keys, classes) for view in chunk))
    await response.write_eof()
    return response


async def window(request: web.Request) -> web.Response:
    """The exact summary of seconds from..to: "p99 after warm-up", "during the spike"."""
    run_id = path_run_id(request)
    try:
        lo, hi, _ = parse_window(request.query)
    except SpecError as exc:
        return _errors(exc.errors)
    lo = lo or 1
    db = request.app[DB]
    if await store.get_run(db, run_id) is None:
        return _not_found(run_id)
    pending = request.app[MANAGER].pending(run_id)
    last = await timeline.last_second(db, run_id, pending)
    hi = last if hi is None else min(hi, last)
    summary = await timeline.window(db, run_id, lo, hi, pending)
    return _json({"run_id": run_id, "from": lo, "to": hi, "summary": summary.to_dict()})


async def compare(request: web.Request) -> web.Response:
    """Verdicts of runs against the first (app/analysis/compare.py): better, worse or same
    per metric, with the difference, its interval and the method's parameters."""
    try:
        named = parse_compare_ids(request.query.get("ids", ""))
        lo, hi, _ = parse_window(request.query)
    except SpecError as exc:
        return _errors(exc.errors)
    db, manager = request.app[DB], request.app[MANAGER]
    found = {r.id for r in await store.get_runs(db, [i for _, i in named if i is not None])}
    missing = [text for text, i in named if i not in found]
    if missing:
        return _error(", ".join(f"run #{text}" for text in missing) + " not found", 404)
    ids = [i for _, i in named]
    lo, hi = lo or 1, hi or MAX_SECOND
    summaries = [(await timeline.window(db, i, lo, hi, manager.pending(i))).to_dict()
                 for i in ids]
    # the endpoints every run has, the busiest tested (compare.MAX_ENDPOINTS)
    names, rest = verdicts.endpoints_to_test(summaries)
    sides = [await run_samples.side(db, i, lo, hi, manager.pending(i), summary, names)
             for i, summary in zip(ids, summaries)]
    results = await asyncio.to_thread(verdicts.compare, sides)
    by_endpoint = await asyncio.to_thread(verdicts.compare_endpoints, sides, names, rest)
    last = max([await timeline.last_second(db, i, manager.pending(i)) for i in ids] + [lo])
    return _json({"ids": ids, "from": lo, "to": min(hi, last),
                  **verdicts.to_json(ids, sides, results, by_endpoint)})


def parse_compare_ids(raw: str) -> list[tuple[str, int | None]]:
    """?ids=A,B[,C,D]: COMPARE_MIN to COMPARE_MAX different run ids, each as written and as
    an id (None: digits past any run's); SpecError naming ids."""
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not (COMPARE_MIN <= len(parts) <= COMPARE_MAX
            and all(p.isascii() and p.isdigit() and p.strip("0") for p in parts)):
        raise SpecError({"ids": f"must list {COMPARE_MIN} to {COMPARE_MAX} run ids separated "
                                f"by commas, e.g. ids=3,4 (got {raw[:100]!r})"})
    if len({p.lstrip("0") for p in parts}) != len(parts):
        raise SpecError({"ids": f"names a run twice (got {raw[:100]!r})"})
    return [(p, parse_run_id(p)) for p in parts]


async def endpoints(request: web.Request) -> web.StreamResponse:
    """The per-endpoint table of a run (summary so far, or final): JSON or CSV."""
    run_id = path_run_id(request)
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        return _errors({"format": "must be json or csv"})
    record = await store.get_run(request.app[DB], run_id)
    if record is None:
        return _not_found(run_id)
    state = request.app[MANAGER].live_state(run_id)
    summary = (state.totals if state is not None and state.totals else record.summary) or {}
    table = summary.get("endpoints", {})
    name = f"stampede-run-{run_id}-endpoints.{fmt}"
    if fmt == "csv":
        return web.Response(
            text=endpoints_csv(table), content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return _json({"endpoints": table}, headers={"Content-Disposition": f'inline; filename="{name}"'})


ENDPOINT_COLUMNS: tuple[tuple[str, tuple[str, ...], int | None], ...] = (
    ("requests", ("requests",), None), ("ok", ("ok",), None), ("failed", ("failed",), None),
    ("errors", ("errors",), None), ("rps", ("rps",), 2),
    *((f"{name}_ms", ("latency_ms", name), 3)
      for name in ("mean", "p50", "p90", "p99", "p999", "max")),
)


def endpoints_csv(table: dict[str, dict]) -> str:
    """One row per endpoint name; then a column per status code and error class seen."""
    codes = sorted({c for e in table.values() for c in e.get("status_codes", {})}, key=int)
    classes = sorted({c for e in table.values() for c in e.get("error_classes", {})})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", *(n for n, _, _ in ENDPOINT_COLUMNS), *(f"status_{c}" for c in codes),
                     *(f"error_{c}" for c in classes)])
    for endpoint, e in table.items():
        status, errors = e.get("status_codes", {}), e.get("error_classes", {})
        writer.writerow([endpoint, *(_csv_cell(_at(e, path), d) for _, path, d in ENDPOINT_COLUMNS),
                         *(status.get(c, 0) for c in codes), *(errors.get(c, 0) for c in classes)])
    return out.getvalue()


def csv_header(codes: list, classes: list[str]) -> list[str]:
    return ([n for n, _, _ in CSV_COLUMNS] + [f"status_{c}" for c in codes]
            + [f"error_{c}" for c in classes])


def csv_row(s: dict, codes: list[str], classes: list[str]) -> list[Any]:
    status, errors = s.get("status_codes", {}), s.get("error_classes", {})
    return ([_csv_cell(_at(s, path), digits) for _, path, digits in CSV_COLUMNS]
            + [status.get(c, 0) for c in codes] + [errors.get(c, 0) for c in classes])


def csv_lines(rows) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _at(data: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _csv_cell(value: Any, digits: int | None) -> Any:
    if value is None:
        return ""
    return value if digits is None else f"{value:.{digits}f}"


# -- misc ---------------------------------------------------------------------------------

async def presets(request: web.Request) -> web.Response:
    target = request.app[SETTINGS].target_url
    return _json({"presets": [{"key": p.key, "title": p.title, "description": p.description,
                               "runs": p.specs(target)} for p in PRESETS]})


async def cluster(request: web.Request) -> web.Response:
    """Where runs go: {"backend": "local"|"ray", "nodes": [{"id", "host", "cpus", "alive"}]}."""
    return _json(await asyncio.to_thread(request.app[CLUSTER].describe))


async def healthz(request: web.Request) -> web.Response:
    return _json({"ok": True, "active_run": request.app[MANAGER].active_id})


@web.middleware
async def json_errors(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                      ) -> web.StreamResponse:
    """Under /api/, aiohttp's own errors (404 no such route, 405, 413 too large) as JSON;
    a 413 says the limit, the rest their reason."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
        message = (f"the request body is above the limit of "
                   f"{request.client_max_size / 2**20:g} MiB" if exc.status == 413
                   else exc.reason)
        return _json({"error": message}, exc.status, headers=allow)
