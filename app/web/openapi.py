"""GET /api/openapi.json: the OpenAPI 3.1 document of every route in routes.py.

One row of OPERATIONS per route, keyed by the route's name (its operationId): adding a
route means adding a row here; tests/integration/test_openapi.py fails, naming the route,
until it is. The spec body of POST /api/runs and /api/preview lists the validator's own
fields (api.SPEC_FIELDS); SPEC_FIELD_SCHEMAS says only what type each field takes.
Enumerations (statuses, sort keys, engines, formats) come from the modules that own them.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from app.presets import PRESETS
from app.spec import METHODS, Engine
from app.status import RunStatus
from app.store.runs import SORT_KEYS
from app.store import transfer
from app.workload import DataOrder, TargetOrder, TargetsFormat

from .api import MAX_LIMIT, MAX_SECOND, SPEC_FIELDS

Schema = dict[str, Any]

# -- schemas --------------------------------------------------------------------------------


def _nullable(schema: Schema) -> Schema:
    kinds = schema["type"]
    return {**schema, "type": [*(kinds if isinstance(kinds, list) else [kinds]), "null"]}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


_STR, _INT, _NUM, _BOOL = ({"type": t} for t in ("string", "integer", "number", "boolean"))
_WHOLE = {"type": ["integer", "string"], "minimum": 1,
          "description": "a whole number above 0 (text too: \"1,000\")"}
_DURATION = {"type": ["number", "string"], "exclusiveMinimum": 0,
             "description": "seconds, or text: 500ms, 10s, 2m, 1h"}
_COUNTS = {"type": "object", "additionalProperties": _INT}
_LATENCY = {"type": "object", "additionalProperties": _nullable(_NUM),
            "description": "milliseconds (null: no response)"}
_HEADERS = {"description": "'Name: value' lines, a list of them or of [name, value], or an object",
            "type": ["string", "array", "object"],
            "items": {"anyOf": [_STR, {"type": "array", "items": _STR}]},
            "additionalProperties": _STR}

# What each of the validator's fields (api.SPEC_FIELDS) takes; null means its default.
SPEC_FIELD_SCHEMAS: dict[str, Schema] = {
    "url": {**_STR, "format": "uri",
            "description": "http(s) URL of the one request; {i} is the request's index"},
    "method": {**_STR, "description": f"one of {', '.join(METHODS)} (any case)"},
    "headers": _HEADERS,
    "body": {**_STR, "description": "sent as typed"},
    "requests": _WHOLE,
    "duration": _DURATION,
    "concurrency": _WHOLE,
    "rate": {"type": ["number", "string"], "description": "requests/s (open model)"},
    "stages": {"type": ["string", "array"], "description": "'30s:100, 1m:500' or "
               "[[duration, rate], ...] or [{duration, rate}, ...]: ramps (open model)",
               "items": {"type": ["array", "object"]}},
    "engine": {**_STR, "description": f"one of {', '.join(e.value for e in Engine)}"},
    "workers": {"type": ["integer", "string"], "description": "processes, or \"auto\""},
    "timeout": _DURATION,
    "connect_timeout": _DURATION,
    "keepalive": {"type": ["boolean", "string"]},
    "verify_tls": {"type": ["boolean", "string"]},
    "name": {**_STR, "maxLength": 200},
    "targets": {"type": "array", "description": "a workload: several requests",
                "items": {"type": "object", "additionalProperties": False, "properties": {
                    "name": _STR, "method": _STR, "url": _STR, "headers": _HEADERS,
                    "body": _STR, "body_b64": _STR, "weight": _NUM}, "required": ["url"]}},
    "targets_text": {**_STR, "description": "a targets file's text, in targets_format"},
    "targets_format": {**_STR, "description": "one of "
                       f"{', '.join(f.value for f in TargetsFormat)} (vegeta)"},
    "targets_host": {**_STR, "description": "keep only this host's requests (a HAR)"},
    "order": {**_STR, "description": f"one of {', '.join(o.value for o in TargetOrder)}"},
    "seed": {"type": ["integer", "string"], "description": "from 0 to 2^63 - 1"},
    "data_csv": {**_STR, "description": "a CSV file's text: one row per request"},
    "data_order": {**_STR, "description": f"one of {', '.join(o.value for o in DataOrder)}"},
    "data": {"type": "object", "description": "what a stored spec says of its data "
             "(ignored here: send data_csv)"},
    "model": {**_STR, "description": "what a stored spec says (ignored: rate or stages make "
              "a run open)"},
    "thresholds": {"type": ["array", "string"], "items": _STR,
                   "description": "pass/fail expressions (p99 < 200ms, error_rate < 1%), or "
                                  "text with one a line"},
    "abort_on_fail": {"type": ["boolean", "string"],
                      "description": "stop the run once a threshold fails"},
}


def undocumented_spec_fields() -> list[str]:
    """Fields the validator reads that SPEC_FIELD_SCHEMAS does not describe (test_openapi
    fails naming them; meanwhile the document says they take any value)."""
    return sorted(SPEC_FIELDS - SPEC_FIELD_SCHEMAS.keys())


def spec_schema() -> Schema:
    """The run spec, field by field as the validator reads them; any other field is a 400."""
    return {"type": "object", "additionalProperties": False, "allOf": [
                {"anyOf": [{"required": [name]} for name in ("url", "targets", "targets_text")]},
                {"anyOf": [{"required": [name]} for name in ("requests", "duration", "stages")]}],
            "properties": {name: _nullable(SPEC_FIELD_SCHEMAS[name])
                           if name in SPEC_FIELD_SCHEMAS else {}
                           for name in sorted(SPEC_FIELDS)}}


SCHEMAS: dict[str, Schema] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": _STR}},
    "Errors": {"type": "object", "required": ["errors"], "description": "a message per bad "
               "field or parameter", "properties": {
                   "errors": {"type": "object", "additionalProperties": _STR}}},
    "Summary": {"type": "object", "properties": {
        **{k: _INT for k in ("requests", "started", "ok", "failed", "errors", "bytes",
                             "late_starts", "max_in_flight")},
        **{k: _NUM for k in ("error_rate", "duration_s", "rps", "peak_rss_mb", "cpu_percent",
                             "max_loop_lag_ms")},
        "latency_ms": _LATENCY, "service_ms": _LATENCY, "status_codes": _COUNTS,
        "error_classes": _COUNTS, "error_samples": {"type": "object"},
        "endpoints": {"type": "object", "additionalProperties": _ref("Endpoint")}}},
    "Endpoint": {"type": "object", "properties": {
        **{k: _INT for k in ("requests", "ok", "failed", "errors")}, "rps": _NUM,
        "latency_ms": _LATENCY, "status_codes": _COUNTS, "error_classes": _COUNTS}},
    "Run": {"type": "object", "required": [
        "id", "name", "url", "spec", "engine", "model", "status", "created_at", "started_at",
        "finished_at", "summary", "error_message"], "properties": {
        "id": _INT, "name": _STR, "url": _STR, "spec": {"type": "object"}, "engine": _STR,
        "model": {"enum": ["closed", "open"]},
        "status": {"enum": [s.value for s in RunStatus]}, "created_at": _NUM,
        "started_at": _nullable(_NUM), "finished_at": _nullable(_NUM),
        "summary": {"anyOf": [_ref("Summary"), {"type": "null"}]},
        "error_message": _nullable(_STR)}},
    "Sample": {"type": "object", "required": ["second"], "properties": {
        "second": _INT, "elapsed_s": _NUM, "rps": _NUM, "latency_ms": _LATENCY,
        "service_ms": _LATENCY, "status_codes": _COUNTS, "error_classes": _COUNTS,
        **{k: _INT for k in ("started", "completed", "ok", "failed", "errors", "bytes",
                             "in_flight", "max_in_flight", "late_starts")}}},
    "Series": {"type": "object", "required": ["run", "from", "to", "step", "last", "samples"],
               "properties": {"run": _ref("Run"), "from": _INT, "to": _INT, "step": _INT,
                              "last": _INT,
                              "samples": {"type": "array", "items": _ref("Sample")}}},
    "Window": {"type": "object", "required": ["run_id", "from", "to", "summary"],
               "properties": {"run_id": _INT, "from": _INT, "to": _INT,
                              "summary": _ref("Summary")}},
    # app/analysis/compare.py: to_json
    "Comparison": {"type": "object", "required": ["ids", "from", "to", "method", "runs",
                                                   "comparisons"], "properties": {
        "ids": {"type": "array", "items": _INT}, "from": _INT, "to": _INT,
        "method": {"type": "object"},
        "runs": {"type": "array", "items": {
            "type": "object", "required": ["id", "figures", "units", "unit_s"], "properties": {
                "id": _INT, "figures": {"type": "object", "additionalProperties": _nullable(_NUM)},
                "units": _nullable(_INT), "unit_s": _nullable(_INT)}}},
        "comparisons": {"type": "array", "items": {
            "type": "object", "required": ["id", "baseline", "metrics"], "properties": {
                "id": _INT, "baseline": _INT, "metrics": {
                    "type": "object", "additionalProperties": _ref("Verdict")},
                # per endpoint every run has: p50, p99, rps, error_rate
                "endpoints": {"type": "object", "additionalProperties": {
                    "type": "object", "additionalProperties": _ref("Verdict")}}}}}}},
    "Verdict": {"type": "object", "required": ["verdict", "baseline", "value", "difference",
                                                "relative", "interval", "min_effect", "reason"],
                "properties": {
        "verdict": {"enum": ["better", "worse", "same", "untested"]},
        **{k: _nullable(_NUM) for k in ("baseline", "value", "difference", "relative",
                                         "min_effect")},
        "interval": {"type": ["array", "null"], "items": _NUM, "minItems": 2, "maxItems": 2},
        "reason": _STR}},
    "Endpoints": {"type": "object", "required": ["endpoints"], "properties": {
        "endpoints": {"type": "object", "additionalProperties": _ref("Endpoint")}}},
    "RunList": {"type": "object", "required": ["runs", "total"], "properties": {
        "runs": {"type": "array", "items": _ref("Run")}, "total": _INT}},
    "Preview": {"type": "object", "required": ["count", "targets", "names", "rows", "requests"],
                "properties": {
                    "count": _nullable(_INT), "targets": _INT,
                    "names": {"type": "array", "items": _STR}, "rows": _nullable(_INT),
                    "requests": {"type": "array", "maxItems": 5, "items": {
                        "type": "object",
                        "required": ["index", "name", "method", "url", "headers", "body_bytes"],
                        "properties": {
                            "index": _INT, "name": _STR, "method": _STR, "url": _STR,
                            "headers": {"type": "array", "items": {
                                "type": "array", "items": _STR, "minItems": 2, "maxItems": 2}},
                            "body": _STR, "body_b64": _STR, "body_bytes": _INT,
                            "body_truncated": _BOOL}}}}},
    "Presets": {"type": "object", "required": ["presets"], "properties": {"presets": {
        "type": "array", "items": {
            "type": "object", "required": ["key", "title", "runs"],
            "properties": {"key": _STR, "title": _STR, "description": _STR,
                           "runs": {"type": "array", "items": {"type": "object"}}}}}}},
    "Cluster": {"type": "object", "required": ["backend", "nodes"], "properties": {
        "backend": {"enum": ["local", "ray"]}, "address": _STR,
        "nodes": {"type": "array", "items": {
            "type": "object", "required": ["id", "host", "cpus", "alive"],
            "properties": {"id": _STR, "host": _STR, "cpus": _INT, "alive": _BOOL}}}}},
    "Health": {"type": "object", "required": ["ok", "active_run"],
               "properties": {"ok": _BOOL, "active_run": _nullable(_INT)}},
    "Origin": {"type": "object", "required": ["host", "source", "remote_id", "exported_at",
                                              "imported_at"], "properties": {
        "host": _STR, "source": {"enum": list(transfer.SOURCES)}, "remote_id": _nullable(_INT),
        "exported_at": _nullable(_NUM), "imported_at": _NUM}},
    "ImportedRun": {"allOf": [_ref("Run"), {
        "type": "object", "required": ["origin", "page"],
        "properties": {"origin": _ref("Origin"), "page": {**_STR, "description": "its page"}}}]},
    # app/store/transfer.py's document (`run.py export`); the members in this order
    "RunDocument": {"type": "object", "required": ["format", "version", "origin", "run"],
                    "additionalProperties": False, "properties": {
        "format": {"const": transfer.FORMAT}, "version": {"const": transfer.VERSION},
        "origin": {"type": "object", "required": ["host"], "properties": {
            "host": _STR, "source": {"enum": list(transfer.SOURCES)},
            "run_id": _nullable(_INT),
            "exported_at": _nullable(_NUM), "secrets": {"enum": ["masked", "included"]}}},
        "run": {"type": "object", "required": ["spec", "status", "created_at"], "properties": {
            "spec": {"type": "object", "description": "RunSpec.to_dict(), data_csv included"},
            "status": {"enum": [s.value for s in RunStatus]}, "created_at": _NUM,
            "started_at": _nullable(_NUM), "finished_at": _nullable(_NUM),
            "summary": {"type": ["object", "null"]}, "error": _nullable(_STR)}},
        "seconds": {"type": "array", "description": "[second, base64 of its stored record], "
                    "seconds increasing", "items": {"type": "array", "prefixItems": [
                        _INT, _STR], "minItems": 2, "maxItems": 2}}}},
}

# -- answers and parameters -------------------------------------------------------------------


def json_answer(description: str, schema: str | Schema) -> dict[str, Any]:
    body = _ref(schema) if isinstance(schema, str) else schema
    return {"description": description, "content": {"application/json": {"schema": body}}}


def html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": _STR}}}


def error(description: str) -> dict[str, Any]:
    return json_answer(description, "Error")


def errors(description: str) -> dict[str, Any]:
    return json_answer(description, "Errors")


def json_or_csv(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)},
                                                     "text/csv": {"schema": _STR}}}


def redirect(description: str) -> dict[str, Any]:
    return {"description": description, "headers": {"Location": {"schema": _STR}}}


def query(name: str, schema: Schema, description: str = "", *,
          required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            **({"description": description} if description else {})}


# path parameters by name: each {name} in an operation's path takes its schema from here
PATH_PARAMETERS = {
    "id": {"schema": {"type": "integer", "minimum": 1},
           "description": "a run id (digits; above 2^63 - 1, or no such run: 404)"},
    "key": {"schema": _STR, "description": "a preset's key: "
            + ", ".join(p.key for p in PRESETS)},
}
_SECOND = {"type": "integer", "minimum": 1, "maximum": MAX_SECOND}
WINDOW = (query("from", _SECOND, "first second (1-based, inclusive)"),
          query("to", _SECOND, "last second (inclusive; not before from)"))
FORMAT = query("format", {"enum": ["json", "csv"], "default": "json"})
LIST_QUERY = (query("q", {**_STR, "maxLength": 200}, "text in the name or URL"),
              query("status", {"enum": ["", *(s.value for s in RunStatus)]}),
              query("thresholds", {"enum": ["", "passed", "failed"]}),
              query("sort", {"enum": list(SORT_KEYS), "default": "created"}),
              query("order", {"enum": ["asc", "desc"], "default": "desc"}))
RUN_404 = error("no such run (or an id out of range)")
PAGE_404 = html("no such run (the error page)")
SPEC_BODY = {"required": True, "content": {"application/json": {"schema": _ref("Spec")}}}
# the new-run form's inputs (app/web/form.py reads them; a checkbox posts "false" then "true")
FORM_FIELDS = ("url", "method", "headers", "body", "requests", "duration", "concurrency",
               "rate", "stages", "engine", "workers", "timeout", "connect_timeout", "name",
               "targets_text", "targets_format", "targets_host", "order", "seed", "data_csv",
               "data_order", "keepalive", "verify_tls", "model", "mode", "targets_from",
               "data_from", "accept_warning")
_FORM = {"type": "object", "properties": {name: _STR for name in FORM_FIELDS}}
FORM_BODY = {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": _FORM},
    "multipart/form-data": {"schema": {**_FORM, "properties": {
        **_FORM["properties"],
        "targets_file": {**_STR, "contentMediaType": "application/octet-stream"},
        "data_file": {**_STR, "contentMediaType": "text/csv"}}}}}}


@dataclass(frozen=True)
class Operation:
    """One route: its name in routes.py (the operationId), method, path as an OpenAPI
    template, answers by status. 401 and 403 (and 413 with a body) are added to each."""
    name: str
    method: str
    path: str
    summary: str
    answers: dict[int, dict[str, Any]]
    parameters: tuple[dict[str, Any], ...] = ()
    body: dict[str, Any] | None = None
    page: bool = False            # HTML: its errors are the error page, not JSON
    public: bool = False          # no token needed (security.PUBLIC_PATHS)


OPERATIONS: tuple[Operation, ...] = (
    # pages (HTML)
    Operation("new_run", "GET", "/", "The new run form (?from=ID: filled from that run)",
              {200: html("the form"), 404: PAGE_404},
              (query("from", _STR, "a run id to run again"),), page=True),
    Operation("create_run", "POST", "/runs", "Start a run from the form",
              {303: redirect("started: to the run's page"),
               200: html("the form again, asking to confirm a warning"),
               400: html("the form with a message on each bad field"),
               409: html("the form: another run is active or queued")},
              body=FORM_BODY, page=True),
    Operation("start_preset", "POST", "/presets/{key}", "Start a preset's runs",
              {303: redirect("started: to the first run's page"),
               400: html("the preset cannot run here"), 404: html("no such preset"),
               409: html("the form: another run is active or queued")}, page=True),
    Operation("history", "GET", "/runs", "The history of runs",
              {200: html("the list"), 400: html("a bad filter, sort or page")},
              (*LIST_QUERY, query("page", {"type": "integer", "minimum": 1})), page=True),
    Operation("show_run", "GET", "/runs/{id}", "A run's page (live while it runs)",
              {200: html("the run"), 400: html("a bad window"), 404: PAGE_404},
              (*WINDOW, query("then", _STR, "ids of the runs queued after it: 3,4")),
              page=True),
    Operation("compare", "GET", "/compare", "Runs side by side",
              {200: html("the comparison"), 400: html("bad ids or window"),
               404: html("a run that does not exist")},
              (query("ids", _STR, "2 to 4 run ids: 3,4", required=True), *WINDOW), page=True),
    Operation("run_report", "GET", "/runs/{id}/report.html",
              "A run as one self-contained HTML file (a download: stampede-run-ID.html)",
              {200: html("the report, as an attachment"), 404: PAGE_404}, page=True),
    Operation("compare_report", "GET", "/compare/report.html",
              "The comparison as one self-contained HTML file (a download)",
              {200: html("the report, as an attachment"), 400: html("bad ids or window"),
               404: html("a run that does not exist")},
              (query("ids", _STR, "2 to 4 run ids: 3,4", required=True), *WINDOW), page=True),
    # JSON API
    Operation("api_runs", "GET", "/api/runs", "Runs, filtered, sorted, a page at a time",
              {200: json_answer("the runs and how many match", "RunList"),
               400: errors("a bad parameter")},
              (*LIST_QUERY, query("limit", {"type": "integer", "minimum": 1,
                                            "maximum": MAX_LIMIT, "default": 50}),
               query("offset", {"type": "integer", "minimum": 0, "maximum": 10**12 - 1}))),
    Operation("api_create_run", "POST", "/api/runs", "Start a run",
              {201: {**json_answer("the run (running, or queued)", "Run"),
                     "headers": {"Location": {"schema": _STR}}},
               400: errors("bad or unknown fields, each named"),
               409: error("another run is active or queued"),
               503: error("the database takes no writes (disk full, read-only)")},
              body=SPEC_BODY),
    Operation("api_import_run", "POST", "/api/runs/import",
              "Store a run exported elsewhere (run.py export, bench --push); it is never run",
              {201: {**json_answer("the run, under a new id, with where it came from",
                                   "ImportedRun"), "headers": {"Location": {"schema": _STR}}},
               400: errors("the document refused, where named: seconds[12], run.spec.url"),
               413: error(f"above {transfer.MAX_IMPORT_BYTES // 2**20} MiB"),
               503: error("the database takes no writes (disk full, read-only)")},
              body={"required": True, "content": {"application/json": {
                  "schema": _ref("RunDocument")}}}),
    Operation("api_preview", "POST", "/api/preview",
              "The first requests a spec would send; nothing is stored",
              {200: json_answer("the count and the first 5 requests", "Preview"),
               400: errors("bad or unknown fields, each named")}, body=SPEC_BODY),
    Operation("api_run", "GET", "/api/runs/{id}", "A run",
              {200: json_answer("the run, secrets masked", "Run"), 404: RUN_404}),
    Operation("api_delete_run", "DELETE", "/api/runs/{id}", "Delete an ended run",
              {204: {"description": "deleted"}, 404: RUN_404,
               409: error("the run is active")}),
    Operation("api_series", "GET", "/api/runs/{id}/series", "A run's seconds, per step",
              {200: json_or_csv("the samples", "Series"),
               400: errors("a bad from, to, step or format"), 404: RUN_404},
              (*WINDOW, query("step", _SECOND, "seconds per sample"), FORMAT)),
    Operation("api_window", "GET", "/api/runs/{id}/window", "The exact summary of seconds",
              {200: json_answer("the summary of from..to", "Window"),
               400: errors("a bad from or to"), 404: RUN_404}, WINDOW),
    Operation("api_compare", "GET", "/api/compare",
              "Verdicts of runs against the first: better, worse or same per metric",
              {200: json_answer("each run's figures, each metric's verdict, difference and "
                                "interval, and the method", "Comparison"),
               400: errors("bad ids, from or to"), 404: error("a run that does not exist")},
              (query("ids", _STR, "2 to 4 run ids, the baseline first: 3,4", required=True),
               *WINDOW)),
    Operation("api_endpoints", "GET", "/api/runs/{id}/endpoints", "The per-endpoint table",
              {200: json_or_csv("the table", "Endpoints"), 400: errors("a bad format"),
               404: RUN_404}, (FORMAT,)),
    Operation("api_stop_run", "POST", "/api/runs/{id}/stop", "Stop a run",
              {202: json_answer("stopping", {"anyOf": [_ref("Run"), {"type": "null"}]}),
               400: errors("a bad queued"), 404: RUN_404, 409: error("the run is not active")},
              (query("queued", {"enum": ["0", "1"], "default": "0"},
                     "1: also stop the runs queued after it"),)),
    Operation("api_ws", "GET", "/api/runs/{id}/ws", "Live seconds over a WebSocket",
              {101: {"description": "the WebSocket: history, snapshots, status, done"},
               400: error("not a WebSocket handshake"), 404: RUN_404}),
    Operation("api_presets", "GET", "/api/presets", "The presets",
              {200: json_answer("the presets and the runs each starts", "Presets")}),
    Operation("api_cluster", "GET", "/api/cluster", "Where runs go",
              {200: json_answer("the backend and its nodes", "Cluster")}),
    Operation("api_openapi", "GET", "/api/openapi.json", "This document",
              {200: json_answer("OpenAPI 3.1", {"type": "object"})}),
    Operation("healthz", "GET", "/healthz", "Liveness (no token needed)",
              {200: json_answer("alive, and the active run", "Health")}, public=True),
)

_TEMPLATE = re.compile(r"{(\w+)}")


def _operation(op: Operation) -> dict[str, Any]:
    answers = dict(op.answers)
    kind = html if op.page else error
    answers.setdefault(403, kind("unknown Host, or a cross-origin request"))
    if not op.public:
        answers.setdefault(401, kind("a token is required, or it is wrong"))
    if op.body is not None:
        answers.setdefault(413, kind("the body is above the limit"))
    path_parameters = [{"name": name, "in": "path", "required": True, **PATH_PARAMETERS[name]}
                       for name in _TEMPLATE.findall(op.path)]
    parameters = [*path_parameters, *op.parameters]
    return {
        "operationId": op.name, "summary": op.summary, "tags": ["pages" if op.page else "api"],
        **({"security": []} if op.public else {}),
        **({"parameters": parameters} if parameters else {}),
        **({"requestBody": op.body} if op.body is not None else {}),
        "responses": {str(status): answer for status, answer in sorted(answers.items())},
    }


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Stampede", "version": "1",
                 "description": "HTTP load-testing dashboard. Every GET also answers HEAD. "
                                "Errors under /api/ are JSON; pages answer HTML."},
        "paths": paths,
        "components": {"schemas": {**SCHEMAS, "Spec": spec_schema()}, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": "stampede_token"},
            "query": {"type": "apiKey", "in": "query", "name": "token"}}},
        # none when the dashboard runs without a token (loopback), else any one of these
        "security": [{}, {"bearer": []}, {"cookie": []}, {"query": []}],
    }


@functools.cache
def _text() -> str:
    return json.dumps(document(), indent=1)


async def openapi_json(request: web.Request) -> web.Response:
    """The document: the same for every dashboard, made once. Behind the token like the
    rest of /api/ (it tells nothing of this dashboard, but nothing is public that need not
    be; a client of the API has the token anyway)."""
    return web.Response(text=_text(), content_type="application/json")
