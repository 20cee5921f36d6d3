"""The New-run form as plain data: spec -> form values, posted form -> parse_spec input (pure).

The form shows every RunSpec field as text the person can edit and post back;
validation stays in app.spec.parse_spec. The only form-level concept is the
closed/open model radio: in the closed model the rate and stages inputs are
ignored, so hidden leftovers cannot silently turn a run into an open one.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.engine.pacing import Pacer
from app.spec import LoadModel, RunSpec

TEXT_FIELDS = ("url", "method", "headers", "body", "requests", "duration", "concurrency",
               "rate", "stages", "engine", "workers", "timeout", "connect_timeout", "name")
BOOL_FIELDS = ("keepalive", "verify_tls")
OPEN_ONLY = ("rate", "stages")
MODELS = ("closed", "open")

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
        "name": "",
    }


def values_from_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Form values that post back to the same spec ("Run again"), from RunSpec.to_dict()."""
    def text(value: Any) -> str:
        return "" if value is None else str(value)

    def seconds(value: Any) -> str:
        return "" if value is None else format_seconds(float(value))

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
    }


def read_form(form: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(parse_spec input, values to show again, form-level errors) from a posted MultiDict.

    A checkbox follows a hidden input of the same name holding "false", so the
    posted list is ["false"] or ["false", "true"]: the last value is the answer.
    """
    values: dict[str, Any] = {name: str(form.get(name, "")) for name in TEXT_FIELDS}
    model = str(form.get("model", "closed"))
    values["model"] = model if model in MODELS else "closed"
    data: dict[str, Any] = dict(values)
    del data["model"]
    for name in BOOL_FIELDS:
        posted = form.getall(name, [])
        data[name] = str(posted[-1]) if posted else None   # absent: the spec's default
        values[name] = data[name] is None or data[name].strip().lower() in ("true", "on", "1")
    errors: dict[str, str] = {}
    if values["model"] == "closed":
        for name in OPEN_ONLY:
            data[name] = None
    elif not values["rate"].strip() and not values["stages"].strip():
        errors["rate"] = "the open model needs a rate or stages"
    return data, values, errors


def schedule_warning(spec: RunSpec) -> str | None:
    """Why an open run would stop before its schedule ends, or None.

    `requests` and the schedule (duration, or the end of the stages) are both stop
    conditions, whichever comes first: a count left in from the closed model can cut a
    staged run short (1,000 requests end `10s:100, 10s:500` from 50/s after 11.8 s,
    never reaching 500/s). That is a valid run, so the form asks instead of refusing.
    """
    if spec.model is not LoadModel.OPEN or spec.requests is None or spec.run_seconds is None:
        return None
    scheduled = _due_before(spec, spec.run_seconds)
    last_due = Pacer(spec.rate, spec.stages).due_s(spec.requests - 1)
    # less than a second short (the charts' resolution) is the count the person meant
    if spec.requests >= scheduled or spec.run_seconds - last_due < 1.0:
        return None
    what = "its stages end" if spec.duration is None else "its duration ends"
    after = f"{last_due:.1f} s" if last_due >= 1 else f"{1000 * last_due:.0f} ms"
    return (f"{spec.requests:,} requests end this run after about {after}, before "
            f"{what} at {spec.run_seconds:g} s (about {scheduled:,} requests are scheduled "
            "by then). Clear Requests to follow the schedule, or start anyway.")


def _due_before(spec: RunSpec, seconds: float) -> int:
    """How many requests the schedule makes due before `seconds` (binary search on the
    pacer, so the schedule is computed in one place)."""
    def due_before(index: int) -> bool:
        due = Pacer(spec.rate, spec.stages).due_s(index)   # a fresh pacer: any index order
        return due is not None and due < seconds
    low, high = 0, 1        # due_before(low) holds (index 0 is due at 0), find the first miss
    while due_before(high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if due_before(middle) else (low, middle)
    return high


def format_seconds(seconds: float) -> str:
    """A duration parse_duration reads back exactly: 3600 -> "1h", 90 -> "90s", 0.5 -> "500ms"."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    if seconds < 1 and round(seconds * 1000, 6) == int(round(seconds * 1000, 6)):
        return f"{int(round(seconds * 1000))}ms"
    return f"{format_number(seconds)}s"


def format_number(value: float | int) -> str:
    """Plain decimal text without exponent: 100.0 -> "100", 2.5 -> "2.5"."""
    value = float(value)
    if value == int(value):
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")
