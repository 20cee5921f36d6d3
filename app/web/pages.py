"""HTML pages: new run form, live/finished run, history, compare.

Thin handlers: read the request, call the store or the RunManager, render a
template. Live data reaches the pages through the JSON API and the WebSocket
(static/js/*.js); a page only embeds what it needs to start, JSON-encoded in a
<script type="application/json"> block (the CSP forbids inline scripts).
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from app.analysis import compare as verdicts
from app.engine.series import default_step
from app.presets import PRESETS, get_preset
from app.redact import run_view
from app.report import Report
from app.report import store as reports
from app.spec import METHODS, SpecError, parse_spec
from app.status import RunStatus
from app.store import db as store_db
from app.store import runs as store
from app.store import samples as run_samples
from app.store import series as timeline
from app.workload import MAX_DATA_BYTES, MAX_HAR_BYTES, MAX_TARGETS_BYTES

from . import display, form
from .api import MAX_SECOND, parse_list_query, parse_run_id, parse_spec_there, parse_window
from .keys import CLUSTER, DB, MANAGER, SETTINGS
from .runs import RunActive

PAGE_SIZE = 25
# the form says where a run will go; a cluster that does not answer within this is said
# to be unreachable rather than holding the page (a call to a gone Ray head can block long)
CLUSTER_ANSWER_S = 5.0
COMPARE_MIN, COMPARE_MAX = 2, 4
# History columns: (sort key or None, header label)
HISTORY_COLUMNS = (
    ("name", "Name"), ("url", "URL"), ("engine", "Engine"), (None, "Model"),
    ("created", "Started"), ("duration", "Duration"), ("requests", "Requests"),
    ("rps", "Req/s"), ("p50", "p50"), ("p99", "p99"), ("error_rate", "Error %"),
    (None, "Thresholds"), ("status", "Status"),
)


def setup_jinja(env: Any) -> None:
    display.setup_filters(env)


async def render(request: web.Request, template: str, context: dict[str, Any], *,
                 status: int = 200) -> web.Response:
    """Render with what every page shows: the active run in the header."""
    context = {**context, "active_run": await _active_run(request)}
    return aiohttp_jinja2.render_template(template, request, context, status=status)


async def error_page(request: web.Request, status: int, title: str,
                     message: str) -> web.Response:
    return await render(request, "error.html", {"title": title, "message": message},
                        status=status)


@web.middleware
async def html_errors(request: web.Request, handler) -> web.StreamResponse:
    """A page URL that matches no route gets the site's error page, not aiohttp's
    plain text (the API answers JSON: see api.json_errors)."""
    if request.path.startswith(("/api/", "/static/")):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return await error_page(request, 404, "Not found",
                                f"There is no page at {request.path}.")
    except web.HTTPRequestEntityTooLarge:
        await _drain(request)
        return await error_page(
            request, 413, "Too large",
            f"The form's data is above the limit of {request.client_max_size / 2**20:g} MiB "
            f"for one post. A targets file may have {MAX_TARGETS_BYTES // 2**20} MiB "
            f"(a HAR file {MAX_HAR_BYTES // 2**20} MiB) and a data file "
            f"{MAX_DATA_BYTES // 2**20} MiB. Go back to keep what you typed.")


# a refused upload is read to its end (up to this much) before the answer, so the browser,
# still sending, shows the page rather than a reset connection
_DRAIN_MAX_BYTES = 1 << 30


async def _drain(request: web.Request) -> None:
    drained = 0
    with contextlib.suppress(Exception):     # the answer matters, not the rest of the body
        while drained < _DRAIN_MAX_BYTES and (chunk := await request.content.readany()):
            drained += len(chunk)


async def _active_run(request: web.Request) -> store.RunRecord | None:
    active_id = request.app[MANAGER].active_id
    return await store.get_run(request.app[DB], active_id) if active_id is not None else None


# --- New run ---------------------------------------------------------------------------

async def new_run(request: web.Request) -> web.Response:
    values = form.default_values(request.app[SETTINGS].target_url)
    source = None
    if "from" in request.query:
        source = await _run_or_none(request, request.query["from"])
        if source is None:
            return await error_page(request, 404, "Run not found",
                                    f"There is no run {request.query['from']!r} to run again.")
        data_csv = (await store.get_run_data(request.app[DB], source.id)
                     if source.spec.get("data") else None)
        values = form.values_from_spec(source.spec, data_csv=data_csv, run_id=source.id)
    return await _form_page(request, values, {}, source=source)


async def create_run(request: web.Request) -> web.Response:
    try:
        posted = await request.post()
    except (UnicodeDecodeError, ValueError, HttpProcessingError):
        # HttpProcessingError: a multipart part with a bad header (was a 500)
        return await error_page(request, 400, "Unreadable form",
                                "The form data was not valid UTF-8 form encoding "
                                "or multipart form data.")
    data, values, errors = form.read_form(posted, await _uploads(posted))
    errors.update(await _load_kept(request, form.kept_sources(data, values), data))
    try:
        # in a thread: a 100 MB data file takes seconds to parse, and the event loop
        # carries a live run's WebSocket meanwhile
        spec = await asyncio.to_thread(parse_spec_there, request.app, data)
    except SpecError as exc:
        errors = {**form.field_errors(exc.errors, values["mode"]), **errors}
    if errors:
        return await _form_page(request, values, errors, status=400)
    # a valid run that would stop before its schedule: start it only once confirmed for
    # exactly this warning (values changed since the warning get asked again)
    warning = form.schedule_warning(spec)
    if warning is not None and posted.get("accept_warning") != warning:
        return await _form_page(request, values, {}, warning=warning)
    try:
        record = await request.app[MANAGER].submit(spec)
    except RunActive as exc:
        return await _conflict(request, values, exc)
    except store_db.StorageError as exc:   # disk full or read-only: as the API's 503
        return await error_page(request, 503, "Cannot store the run", str(exc))
    raise web.HTTPSeeOther(_run_url(request, record.id))


async def _uploads(posted: Any) -> dict[str, tuple[str, bytes]]:
    """The chosen files, by the textarea each stands for (form.read_form's `files`)."""
    files = {}
    for field, name in form.FILE_INPUTS.items():
        upload = posted.get(name)
        if isinstance(upload, web.FileField) and upload.filename:
            content = await asyncio.to_thread(upload.file.read)    # a spooled temp file
            if content:
                files[field] = (upload.filename, content)
    return files


async def _load_kept(request: web.Request, sources: dict[str, int],
                     data: dict[str, Any]) -> dict[str, str]:
    """Run again's targets and data kept from the stored run (too big for the page) into
    parse_spec's input; an error on the field when that run is gone."""
    errors = {}
    db = request.app[DB]
    for field, run_id in sources.items():
        if field == "targets_text":
            run = await store.get_run(db, run_id)
            if run is not None and run.spec.get("targets"):
                data["targets"] = run.spec["targets"]
                continue
        elif (csv := await store.get_run_data(db, run_id)) is not None:
            data[field] = csv
            continue
        what = "targets" if field == "targets_text" else "data"
        errors[field] = (f"run #{run_id}, whose {what} this form kept, no longer exists: "
                         f"paste the {what} or choose a file")
    return errors


async def start_preset(request: web.Request) -> web.Response:
    preset = get_preset(request.match_info["key"])
    if preset is None:
        return await error_page(request, 404, "Preset not found",
                                f"There is no preset {request.match_info['key']!r}.")
    try:
        specs = [parse_spec(s) for s in preset.specs(request.app[SETTINGS].target_url)]
    except SpecError as exc:     # e.g. its concurrency is above this machine's open-file limit
        return await error_page(request, 400, f"Cannot start “{preset.title}”", str(exc))
    try:
        ids = [r.id for r in await request.app[MANAGER].submit_many(specs)]
    except RunActive as exc:     # the form, filled with the preset's (first) run to start later
        return await _conflict(request, form.values_from_spec(specs[0].to_dict(with_data=True)),
                               exc)
    except store_db.StorageError as exc:
        return await error_page(request, 503, "Cannot store the runs", str(exc))
    then = f"?then={','.join(map(str, ids[1:]))}" if len(ids) > 1 else ""
    raise web.HTTPSeeOther(f"{_run_url(request, ids[0])}{then}")


async def _conflict(request: web.Request, values: dict[str, Any],
                    exc: RunActive) -> web.Response:
    """The form again, kept as typed, saying which run is in the way (409)."""
    blocking = await store.get_run(request.app[DB], exc.run_id)
    return await _form_page(request, values, {}, status=409, conflict=True, blocking=blocking)


async def _form_page(request: web.Request, values: dict[str, Any], errors: dict[str, str], *,
                     status: int = 200, conflict: bool = False,
                     blocking: store.RunRecord | None = None,
                     source: store.RunRecord | None = None,
                     warning: str | None = None) -> web.Response:
    return await render(request, "runs/new.html", {
        "values": values, "errors": errors, "conflict": conflict, "blocking": blocking,
        "source": source, "methods": METHODS, "engines": form.ENGINE_HELP, "presets": PRESETS,
        "warning": warning, "formats": form.TARGETS_FORMATS, "orders": form.ORDERS,
        "data_orders": form.DATA_ORDERS, "cluster": await _where_runs_go(request),
        "target_base": request.app[SETTINGS].target_url.rstrip("/") + "/",
        # for the script: what it may load into a textarea, what each kind of file may weigh
        "limits": {"edit": form.EDIT_MAX_BYTES, "vegeta": MAX_TARGETS_BYTES,
                   "jsonl": MAX_TARGETS_BYTES, "har": MAX_HAR_BYTES, "data": MAX_DATA_BYTES,
                   "post": request.client_max_size},
    }, status=status)


async def _where_runs_go(request: web.Request) -> dict[str, Any]:
    """The form's line on where a run goes: {"backend", "address", "nodes", "cpus", "dead"}
    counting live nodes only, or {"backend", "error"} when the cluster cannot say (gone
    since the start): the form still opens, and says so."""
    cluster = request.app[CLUSTER]
    try:
        described = await asyncio.wait_for(asyncio.to_thread(cluster.describe),
                                           CLUSTER_ANSWER_S)
    except asyncio.TimeoutError:
        return {"backend": cluster.name,
                "error": f"the cluster did not answer within {CLUSTER_ANSWER_S:g} s"}
    except Exception as exc:        # whatever Ray raises: the page shows it
        return {"backend": cluster.name, "error": str(exc) or type(exc).__name__}
    nodes = described.get("nodes") or []
    alive = [n for n in nodes if n.get("alive")]
    return {"backend": described.get("backend", cluster.name),
            "address": described.get("address"), "nodes": len(alive),
            "cpus": sum(n.get("cpus") or 0 for n in alive), "dead": len(nodes) - len(alive)}


def _run_url(request: web.Request, run_id: int) -> str:
    return str(request.app.router["show_run"].url_for(id=str(run_id)))


# --- One run ---------------------------------------------------------------------------

async def show_run(request: web.Request) -> web.Response:
    run = await _run_or_none(request, request.match_info["id"])
    if run is None:
        return await error_page(request, 404, "Run not found",
                                f"There is no run {request.match_info['id']!r}; it may have "
                                "been deleted.")
    try:
        window = _window_query(request.query)
    except SpecError as exc:
        return await error_page(request, 400, "Bad window", _errors_text(exc))
    # the runs after this one: a preset's (?then=), only those that exist, and any queued
    # behind it now (the page may come from the history); the page follows their status
    then = [i for i in _parse_ids(request.query.get("then", "")) or [] if i != run.id]
    then += [i for i in request.app[MANAGER].queued_after(run.id) if i not in then]
    following = [run_view(r) for r in await store.get_runs(request.app[DB], then)]
    run = run_view(run)       # secrets masked: nothing below shows the stored spec
    router = request.app.router

    def url(name: str, run_id: int) -> str:
        return str(router[name].url_for(id=str(run_id)))

    run_data = _page_run(run)
    endpoints = display.endpoint_names(run.spec)
    page = {"run": run_data, "workers": run.spec.get("workers", 1), "endpoints": endpoints,
            "urls": {"page": url("show_run", run.id), "run": url("api_run", run.id),
                     "series": url("api_series", run.id), "window": url("api_window", run.id),
                     "ws": url("api_ws", run.id), "stop": url("api_stop_run", run.id)},
            # the seconds the page opens zoomed to (?from=&to=), or null: the whole run
            "window": None if window is None else {"from": window[0], "to": window[1]},
            "following": [{"id": r.id, "status": r.status.value, "api": url("api_run", r.id)}
                          for r in following]}
    return await render(request, "runs/show.html", {
        "run": run, "page": page, "following": following, "spec_rows": _spec_rows(run.spec),
        "endpoints": endpoints,
        "compare_ids": ",".join(map(str, [run.id, *(r.id for r in following)])),
    })


async def run_report(request: web.Request) -> web.StreamResponse:
    """The run as one file to download (app/report): its summary, thresholds, spec
    (masked), endpoints and charts, for a ticket or a mail."""
    run = await _run_or_none(request, request.match_info["id"])
    if run is None:
        return await error_page(request, 404, "Run not found",
                                f"There is no run {request.match_info['id']!r}; it may have "
                                "been deleted.")
    built = await reports.run_report(request.app[DB], run, request.app[MANAGER].pending(run.id))
    return _report_file(built, reports.filename("run", [run.id]))


def _page_run(run: store.RunRecord) -> dict[str, Any]:
    """A run as a page embeds it for its script: without the targets, which a list can hold
    by the thousand and which the scripts do not use (the spec table shows them masked)."""
    data = run.to_dict()
    data["spec"] = {k: v for k, v in run.spec.items() if k != "targets"}
    return data


def _spec_rows(spec: dict[str, Any]) -> list[tuple[str, str]]:
    values = form.values_from_spec(spec)
    if values["mode"] == "list":
        seed = f" (seed {values['seed']})"
        data = spec.get("data")
        data_text = "—" if not data else (
            f"{data['rows']:,} rows: {', '.join(data['columns'])}; {values['data_order']} "
            f"order{seed if values['data_order'] == 'random' else ''}")
        rows = [("Targets", display.targets_text(spec["targets"])),
                ("Order", values["order"] + (seed if values["order"] == "weighted" else "")),
                ("Data", data_text)]
    else:
        rows = [("URL", values["url"]), ("Method", values["method"]),
                ("Headers", values["headers"] or "—"), ("Body", values["body"] or "—")]
    rows += [("Requests", values["requests"] or "—"), ("Duration", values["duration"] or "—"),
             ("Model", values["model"]), ("Concurrency", values["concurrency"])]
    if values["model"] == "open":
        rows += [("Rate", f"{values['rate']} req/s" if values["rate"] else "—"),
                 ("Stages", values["stages"] or "—")]
    rows += [("Engine", values["engine"]), ("Workers", values["workers"]),
             ("Timeout", values["timeout"]), ("Connect timeout", values["connect_timeout"]),
             ("Keep-alive", "yes" if values["keepalive"] else "no"),
             ("Verify TLS", "yes" if values["verify_tls"] else "no")]
    return rows


async def _run_or_none(request: web.Request, raw_id: str) -> store.RunRecord | None:
    run_id = parse_run_id(raw_id)
    return await store.get_run(request.app[DB], run_id) if run_id is not None else None


# --- History ---------------------------------------------------------------------------

async def history(request: web.Request) -> web.Response:
    # the API's parser, so a bad filter is a 400 naming it here too, not silently ignored
    params = {k: v for k in ("q", "status", "thresholds", "sort", "order")
              if (v := request.query.get(k, ""))}
    page_raw = request.query.get("page", "1")
    page = int(page_raw) if page_raw.isascii() and page_raw.isdigit() and len(page_raw) < 9 else 0
    try:
        if page < 1:
            raise SpecError({"page": f"{page_raw!r} is not a page number (1, 2, …)"})
        query = parse_list_query({**params, "limit": str(PAGE_SIZE),
                                  "offset": str((page - 1) * PAGE_SIZE)})
    except SpecError as exc:
        return await error_page(request, 400, "Bad history query", _errors_text(exc))
    records, total = await store.list_runs(request.app[DB], **query)
    records = [run_view(r) for r in records]      # secrets in URLs masked, as everywhere
    text, status = query["text"].strip(), params.get("status", "")
    sort, order = query["sort"], "desc" if query["descending"] else "asc"
    pages = max(1, -(-total // PAGE_SIZE))
    params = {"q": text, "status": status, "thresholds": params.get("thresholds", ""),
              "sort": sort, "order": order}
    settings = request.app[SETTINGS]
    return await render(request, "runs/index.html", {
        "runs": records, "total": total, "page": page, "pages": pages, "params": params,
        # imported runs (run.py import, bench --push): "imported from HOST"
        "origins": await store.get_origins(request.app[DB], [r.id for r in records]),
        "db_mb": await store_db.size_bytes(request.app[DB]) / 2**20, "db_path": settings.db_path,
        "retention": display.retention(settings.keep_days, settings.keep_runs),
        "columns": HISTORY_COLUMNS, "statuses": [s.value for s in RunStatus],
        "query": lambda **changes: _query({**params, "page": page, **changes}),
    })


def _query(params: dict[str, Any]) -> str:
    """A query string for the history page, defaults left out."""
    defaults = {"q": "", "status": "", "thresholds": "", "sort": "created", "order": "desc",
                "page": 1}
    kept = {k: v for k, v in params.items() if defaults.get(k) != v}
    return "?" + urlencode(kept) if kept else "?"


# --- Compare ---------------------------------------------------------------------------

async def compare(request: web.Request) -> web.Response:
    compared = await _compared(request)
    if isinstance(compared, web.Response):
        return compared
    runs, window, summaries = compared
    ids = [r.id for r in runs]
    db, manager = request.app[DB], request.app[MANAGER]
    lo, hi = window or (1, None)
    results, rows, endpoint_verdicts = await _verdicts_and_rows(request, runs, summaries, window)
    # one step for every run's series (the longest's default), so their points line up
    ends = [await timeline.last_second(db, r.id, manager.pending(r.id)) for r in runs]
    end = max([min(hi or e, e) for e in ends] + [lo])
    query = {"from": lo, **({"to": hi} if hi else {}), "step": default_step(lo, end)}
    series = [str(request.app.router["api_series"].url_for(id=str(r.id)).with_query(query))
              for r in runs]
    return await render(request, "compare.html", {
        "runs": runs, "rows": rows, "method": verdicts.method(), "verdict_keys": VERDICT_KEYS,
        "effects": verdicts.effects_text(),
        # per column, the verdict of each metric (none for the baseline's)
        "verdicts": [{}] + [{r.metric.key: r for r in rs} for rs in results],
        "endpoint_rows": display.compare_endpoints(summaries),
        # per endpoint, per column, its tested metrics' verdicts (compare.ENDPOINT_KEYS)
        "endpoint_verdicts": endpoint_verdicts, "max_endpoints": verdicts.MAX_ENDPOINTS,
        "window": None if window is None else display.window_text(lo, hi),
        # each run's page opens at the same window
        "window_query": "" if window is None else "?" + urlencode(
            {"from": lo, **({"to": hi} if hi else {})}),
        "whole_url": f"{request.app.router['compare'].url_for()}?ids={','.join(map(str, ids))}",
        # the same runs and window as one file (compare_report)
        "report_query": {"ids": ",".join(map(str, ids)),
                         **({"from": lo, **({"to": hi} if hi else {})} if window else {})},
        "page": {"runs": [{**_page_run(r), "summary": summary}
                          for r, summary in zip(runs, summaries)],
                 "series": series, "window": {"from": lo, "to": hi} if window else None},
    })


async def compare_report(request: web.Request) -> web.StreamResponse:
    """The compare page as one file to download (app/report), same ids and window."""
    compared = await _compared(request)
    if isinstance(compared, web.Response):
        return compared
    runs, window, summaries = compared
    manager = request.app[MANAGER]
    results, rows, endpoint_verdicts = await _verdicts_and_rows(request, runs, summaries,
                                                                window)
    label_of = {key: label for label, key in VERDICT_KEYS.items()}
    # the page's verdicts, per column a row's label (an endpoint's row: (name, label)) ->
    # verdict: the file colours exactly the deltas the page colours
    columns = [{}] + [{label_of[r.metric.key]: r.verdict.value for r in rs
                       if r.metric.key in label_of} for rs in results]
    for name, per_column in endpoint_verdicts.items():
        for column, found in zip(columns, per_column):
            column.update({(name, label_of[key]): r.verdict.value
                           for key, r in found.items() if key in label_of})
    built = await reports.compare_report(
        request.app[DB], runs, summaries, window, rows=rows,
        endpoint_rows=display.compare_endpoints(summaries),
        pendings=[manager.pending(r.id) for r in runs], verdicts=columns)
    return _report_file(built, reports.filename("compare", [r.id for r in runs]))


# the compare table's rows that have a verdict: their label -> the metric's key
VERDICT_KEYS = {"Req/s": "rps", "Mean": "mean", "p50": "p50", "p90": "p90", "p99": "p99",
                "p99.9": "p999", "Max": "max", "Error %": "error_rate"}


async def _verdicts_and_rows(request: web.Request, runs: list[store.RunRecord],
                             summaries: list[dict | None], window: tuple[int, int | None] | None):
    """Each later run's verdicts against the first over the window (a run without a
    summary yet: untested), the table's rows (a Mean row, since mean is tested), and per
    endpoint every run has, each column's verdicts ([{}, {metric key: Result}, ...])."""
    db, manager = request.app[DB], request.app[MANAGER]
    lo, hi = window or (1, None)
    names, rest = verdicts.endpoints_to_test(summaries)
    sides = [await run_samples.side(db, r.id, lo, hi or MAX_SECOND, manager.pending(r.id),
                                    summary or {}, names) for r, summary in zip(runs, summaries)]
    results = await asyncio.to_thread(verdicts.compare, sides)
    by_endpoint = await asyncio.to_thread(verdicts.compare_endpoints, sides, names, rest)
    endpoint_verdicts = {name: [{}] + [{r.metric.key: r for r in column[name]}
                                       for column in by_endpoint] for name in [*names, *rest]}
    rows = display.compare_rows(summaries)
    mean = display.Metric("Mean", ("latency_ms", "mean"), display.fmt_ms, "lower")
    at = next((k for k, (m, _) in enumerate(rows) if m.label == "p50"), len(rows))
    rows[at:at] = display.compare_rows(summaries, (mean,))
    return results, rows, endpoint_verdicts


async def _compared(request: web.Request
                    ) -> tuple[list[store.RunRecord], tuple[int, int | None] | None,
                               list[dict | None]] | web.Response:
    """The runs ?ids= names (masked), the window (?from=&to=, None: the whole runs) and
    each run's summary over it; or the error page saying what is wrong."""
    raw = request.query.get("ids", "")
    ids = _parse_ids(raw)
    if ids is None or not COMPARE_MIN <= len(ids) <= COMPARE_MAX:
        return await error_page(
            request, 400, "Cannot compare",
            f"The ids parameter must list {COMPARE_MIN} to {COMPARE_MAX} different run ids "
            f"separated by commas, e.g. /compare?ids=3,4 (got {raw!r}).")
    try:
        window = _window_query(request.query)
    except SpecError as exc:
        return await error_page(request, 400, "Cannot compare", _errors_text(exc))
    found = {r.id: r for r in await store.get_runs(request.app[DB], ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        return await error_page(request, 404, "Run not found",
                                "The ids parameter names runs that do not exist: "
                                + ", ".join(map(str, missing)) + ".")
    runs = [run_view(found[i]) for i in ids]      # the page shows URLs and embeds specs
    db, manager = request.app[DB], request.app[MANAGER]
    lo, hi = window or (1, None)
    if window is None:
        summaries = [r.summary for r in runs]
    else:          # the exact summary of those seconds of each run, merged from its rows
        summaries = [(await timeline.window(db, r.id, lo, hi or MAX_SECOND,
                                            manager.pending(r.id))).to_dict() for r in runs]
    return runs, window, summaries


def _report_file(built: Report, filename: str) -> web.Response:
    """A report as a download. Attachment: a browser saves it rather than showing it in
    the dashboard's origin; should one show it, its CSP lets only its own inline scripts
    run (by hash), loads nothing, and sandboxes it into an opaque origin, so its script
    can neither read the dashboard's cookie nor call its API. Opened from the disk it has
    no CSP (file://), which is what it is made for."""
    return web.Response(text=built.html, content_type="text/html", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Content-Security-Policy": built.content_security_policy(),
        "Cache-Control": "no-store"})


def _window_query(query: Mapping[str, str]) -> tuple[int, int | None] | None:
    """The seconds of a run a page shows: (from, to), or None when neither is given (the
    whole run); no `to`: to the end. SpecError naming each bad one."""
    lo, hi, _ = parse_window(query)
    return None if lo is None and hi is None else (lo or 1, hi)


def _errors_text(exc: SpecError) -> str:
    return "; ".join(f"{k}: {v}" for k, v in exc.errors.items())


def _parse_ids(raw: str) -> list[int] | None:
    """"3,4,5" -> [3, 4, 5]; None if any part is not a run id or repeats."""
    ids = [parse_run_id(p.strip()) for p in raw.split(",") if p.strip()]
    if None in ids:
        return None
    return ids if len(set(ids)) == len(ids) else None
