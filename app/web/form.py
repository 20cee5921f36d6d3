"""The New-run form as plain data: spec -> form values, posted form -> parse_spec input (pure).

The form shows every RunSpec field as text the person can edit and post back;
validation stays in app.spec.parse_spec. The form-level concepts are two radios whose
unchosen side is ignored, so hidden leftovers cannot silently change a run: the
closed/open model (the closed model drops rate and stages) and the requests mode (one
request: url, method, headers, body; a list: targets, order, seed and data).

A list's targets and data come from a textarea, an uploaded file (the pages read it and
pass its bytes), or, for "Run again" of a run whose files are too big to edit in a
textarea, the stored run they were kept from (`*_from`: the pages load it).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.engine.pacing import Pacer
from app.spec import LoadModel, RunSpec

TEXT_FIELDS = ("url", "method", "headers", "body", "requests", "duration", "concurrency",
               "rate", "stages", "engine", "workers", "timeout", "connect_timeout", "name",
               "targets_text", "targets_format", "targets_host", "order", "seed", "data_csv",
               "data_order", "thresholds")
BOOL_DEFAULTS = {"keepalive": True, "verify_tls": True, "abort_on_fail": False}
BOOL_FIELDS = tuple(BOOL_DEFAULTS)
OPEN_ONLY = ("rate", "stages")
MODELS = ("closed", "open")
MODES = ("one", "list")
ONE_ONLY = ("url", "method", "headers", "body")
LIST_ONLY = ("targets_text", "targets_format", "targets_host", "order", "seed", "data_csv",
             "data_order")
# the textareas a file can fill, and the file input posted for each (without JS, or when
# the file is too big to edit)
FILE_INPUTS = {"targets_text": "targets_file", "data_csv": "data_file"}
TARGETS_FORMATS = ("vegeta", "jsonl", "har")
ORDERS = ("sequence", "weighted")
DATA_ORDERS = ("sequence", "random")
# Text above this size is not put in a textarea: Chromium takes about 0.75 s a MiB to lay
# one out (7.5 s for 10 MiB, measured), so a bigger file is sent as the file, and Run
# again keeps a bigger one from the stored run instead of printing it into the page.
EDIT_MAX_BYTES = 256 * 2**10
# what a target's JSON line leaves out: the values targets_from_json assumes
_TARGET_DEFAULTS = {"name": "", "headers": [], "body": "", "weight": 1.0}

ENGINE_HELP = {
    "aiohttp": "aiohttp ClientSession on an event loop: the article's client, good up to "
               "thousands in flight.",
    "fast": "asyncio protocol + httptools: the least Python per request, for the biggest runs.",
    "sync": "requests in threads, one request per thread at a time: the article's slow baseline.",
}


def default_values(target_url: str) -> dict[str, Any]:
    """Values that finish in about ten seconds against the demo target."""
    return {
        "url": target_url.rstrip("/") + "/{i}?delay=0-1", "method": "GET", "headers": "",
        "body": "", "requests": "1000", "duration": "", "model": "closed",
        "concurrency": "100", "rate": "", "stages": "", "engine": "aiohttp", "workers": "1",
        "timeout": "30s", "connect_timeout": "10s", "keepalive": True, "verify_tls": True,
        "name": "", "thresholds": "", "abort_on_fail": False, **_list_defaults(),
    }


def _list_defaults() -> dict[str, Any]:
    return {"mode": "one", "targets_text": "", "targets_format": "vegeta", "targets_host": "",
            "order": "sequence", "seed": "1", "data_csv": "", "data_order": "sequence",
            "targets_from": "", "data_from": "", "kept": {}, "file_notes": {}}


def values_from_spec(spec: Mapping[str, Any], *, data_csv: str | None = None,
                     run_id: int | None = None) -> dict[str, Any]:
    """Form values that post back to the same spec ("Run again"), from RunSpec.to_dict()
    and the run's data CSV (stored apart; a spec from to_dict(with_data=True) holds it).
    With `run_id`, text too big for a textarea is kept from that run instead."""
    values = {**_one_values(spec), **_list_defaults()}
    targets = spec.get("targets") or []
    if targets:
        csv = data_csv if data_csv is not None else spec.get("data_csv")
        values.update(mode="list", targets_format="jsonl",
                      order=_text(spec.get("order") or "sequence"),
                      seed=_text(spec.get("seed", 1)),
                      data_order=_text(spec.get("data_order") or "sequence"))
        kept: dict[str, str] = {}
        for field, content, what in (
                ("targets_text", targets_jsonl(targets), f"{len(targets):,} targets"),
                ("data_csv", csv or "", _rows_text(spec))):
            if run_id is not None and len(content.encode()) > EDIT_MAX_BYTES:
                values[_FROM[field]] = str(run_id)
                kept[field] = f"{what} ({format_size(len(content.encode()))})"
            else:
                values[field] = content
        values["kept"] = kept
    return values


# the hidden input naming the run a textarea's content is kept from
_FROM = {"targets_text": "targets_from", "data_csv": "data_from"}


def _rows_text(spec: Mapping[str, Any]) -> str:
    data = spec.get("data") or {}
    rows = data.get("rows")
    return f"{rows:,} data rows" if isinstance(rows, int) else "the data"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _seconds(value: Any) -> str:
    return "" if value is None else format_seconds(float(value))


def _one_values(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Every field but the list's: the one request and the load."""
    text, seconds = _text, _seconds
    return {
        "url": text(spec.get("url")), "method": text(spec.get("method") or "GET"),
        "headers": "\n".join(str(h) if isinstance(h, str) else f"{h[0]}: {h[1]}"
                             for h in spec.get("headers") or ()),
        "body": text(spec.get("body")), "requests": text(spec.get("requests")),
        "duration": seconds(spec.get("duration")),
        "model": spec.get("model") if spec.get("model") in MODELS else "closed",
        "concurrency": text(spec.get("concurrency")),
        "rate": "" if spec.get("rate") is None else format_number(spec["rate"]),
        "stages": ", ".join(f"{format_seconds(float(d))}:{format_number(r)}"
                            for d, r in spec.get("stages") or ()),
        "engine": text(spec.get("engine") or "aiohttp"), "workers": text(spec.get("workers")),
        "timeout": seconds(spec.get("timeout")),
        "connect_timeout": seconds(spec.get("connect_timeout")),
        "keepalive": bool(spec.get("keepalive", True)),
        "verify_tls": bool(spec.get("verify_tls", True)),
        "name": text(spec.get("name")),
        "thresholds": "\n".join(str(t) for t in spec.get("thresholds") or ()),
        "abort_on_fail": bool(spec.get("abort_on_fail", False)),
    }


def targets_jsonl(targets: list[Mapping[str, Any]]) -> str:
    """JSON lines that parse back to these targets (RunSpec.to_dict()'s "targets"), one a
    line, without the fields that hold their default, so a person can read and edit them."""
    lines = []
    for target in targets:
        item = {k: v for k, v in target.items()
                if not (k in _TARGET_DEFAULTS and v == _TARGET_DEFAULTS[k])}
        lines.append(json.dumps(item, ensure_ascii=False))
    return "\n".join(lines) + "\n" if lines else ""


def read_form(form: Any, files: Mapping[str, tuple[str, bytes]] | None = None
              ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(parse_spec input, values to show again, form-level errors) from a posted MultiDict.

    A checkbox follows a hidden input of the same name holding "false", so the
    posted list is ["false"] or ["false", "true"]: the last value is the answer.
    `files` holds the uploads the page read, by the textarea they stand for:
    {"targets_text": (file name, bytes)}; an empty file input is left out.
    """
    values: dict[str, Any] = {name: str(form.get(name, "")) for name in TEXT_FIELDS}
    model = str(form.get("model", "closed"))
    values["model"] = model if model in MODELS else "closed"
    mode = str(form.get("mode", "one"))
    values["mode"] = mode if mode in MODES else "one"
    data: dict[str, Any] = {k: v for k, v in values.items() if k not in ("model", "mode")}
    for name in BOOL_FIELDS:
        posted = form.getall(name, [])
        data[name] = str(posted[-1]) if posted else None   # absent: the spec's default
        values[name] = (BOOL_DEFAULTS[name] if data[name] is None
                        else data[name].strip().lower() in ("true", "on", "1"))
    errors: dict[str, str] = {}
    if values["model"] == "closed":
        for name in OPEN_ONLY:
            data[name] = None
    elif not values["rate"].strip() and not values["stages"].strip():
        errors["rate"] = "the open model needs a rate or stages"
    _read_kept(form, values, files or {})
    for name in ONE_ONLY if values["mode"] == "list" else LIST_ONLY:
        data[name] = None
    if values["mode"] == "list":
        _read_files(files or {}, data, values, errors)
    return data, values, errors


def _read_kept(form: Any, values: dict[str, Any], files: Mapping[str, Any]) -> None:
    """The stored run a textarea's content is kept from, unless the person pasted text or
    chose a file instead (hidden inputs: the run's id, and what to say about it)."""
    values["kept"], values["file_notes"] = {}, {}
    for field, from_field in _FROM.items():
        run_id = str(form.get(from_field, "")).strip()
        if not run_id or values[field].strip() or field in files:
            values[from_field] = ""
            continue
        values[from_field] = run_id
        values["kept"][field] = str(form.get(f"{from_field}_text", ""))[:200]


def _read_files(files: Mapping[str, tuple[str, bytes]], data: dict[str, Any],
                values: dict[str, Any], errors: dict[str, str]) -> None:
    """An uploaded file stands for its textarea: its bytes go to parse_spec as they are
    (the parsers read bytes, and name the line of a bad one). Shown again in the textarea
    when it is small text; a bigger one must be chosen again (no page can refill a file
    input), and the form says so."""
    for field, (filename, content) in files.items():
        if values[field].strip():
            errors[field] = (f"you pasted text and chose the file {filename!r}: keep one of "
                             f"them (clear the text to use the file)")
            continue
        data[field] = content
        try:
            shown = content.decode("utf-8") if len(content) <= EDIT_MAX_BYTES else None
        except UnicodeDecodeError:
            shown = None
        if shown is not None:
            values[field] = shown
        else:
            values["file_notes"][field] = (f"The file {filename} ({format_size(len(content))}) "
                                           f"is not kept after an error: choose it again.")


def kept_sources(data: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, int]:
    """{textarea: run id} for the list fields to take from a stored run ("Run again" of a
    run whose targets or data were too big to print into the form): only where nothing
    was pasted or uploaded instead."""
    if values.get("mode") != "list":
        return {}
    sources = {}
    for field, from_field in _FROM.items():
        raw = str(values.get(from_field, ""))
        if raw.isascii() and raw.isdigit() and len(raw) < 12 and not data.get(field):
            sources[field] = int(raw)
    return sources


def field_errors(errors: Mapping[str, str], mode: str) -> dict[str, str]:
    """parse_spec's errors placed on the form's inputs: in list mode, the targets' errors
    (JSON `targets`, which Run again's kept targets are, and a missing list, which
    parse_spec calls a missing url) go next to the targets textarea."""
    if mode != "list":
        return dict(errors)
    placed: dict[str, str] = {}
    for name, message in errors.items():
        if name == "url":
            name, message = "targets_text", "paste a list of targets or choose a file"
        elif name == "targets":
            name = "targets_text"
        placed.setdefault(name, message)
    return placed


def schedule_warning(spec: RunSpec) -> str | None:
    """Why an open run would stop before its schedule ends, or None.

    `requests` and the schedule (duration, or the end of the stages) are both stop
    conditions, whichever comes first: a count left in from the closed model can cut a
    staged run short (1,000 requests end `10s:100, 10s:500` from 50/s after 11.8 s,
    never reaching 500/s). That is a valid run, so the form asks instead of refusing.
    """
    if spec.model is not LoadModel.OPEN or spec.requests is None or spec.run_seconds is None:
        return None
    scheduled = Pacer(spec.rate, spec.stages).count_before(spec.run_seconds)
    last_due = Pacer(spec.rate, spec.stages).due_s(spec.requests - 1)
    # less than a second short (the charts' resolution) is the count the person meant
    if spec.requests >= scheduled or spec.run_seconds - last_due < 1.0:
        return None
    what = "its stages end" if spec.duration is None else "its duration ends"
    after = f"{last_due:.1f} s" if last_due >= 1 else f"{1000 * last_due:.0f} ms"
    return (f"{spec.requests:,} requests end this run after about {after}, before "
            f"{what} at {spec.run_seconds:g} s (about {scheduled:,} requests are scheduled "
            "by then). Clear Requests to follow the schedule, or start anyway.")


def format_seconds(seconds: float) -> str:
    """A duration parse_duration reads back exactly: 3600 -> "1h", 90 -> "90s", 0.5 -> "500ms"."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    if seconds < 1 and round(seconds * 1000, 6) == int(round(seconds * 1000, 6)):
        return f"{int(round(seconds * 1000))}ms"
    return f"{format_number(seconds)}s"


def format_size(size: int) -> str:
    """Bytes for people: 980 B, 12.5 KiB, 48.2 MiB (as static/js/new.js writes them)."""
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def format_number(value: float | int) -> str:
    """Plain decimal text without exponent: 100.0 -> "100", 2.5 -> "2.5"."""
    value = float(value)
    if value == int(value):
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")
