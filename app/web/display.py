"""How numbers look on the pages, and the compare table's rows and deltas (pure).

The formats match static/js/common.js, so a number rendered by the server and
the same number rendered live by the browser read the same.
"""
from __future__ import annotations

import base64
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.redact import mask_header, mask_url
from app.workload import WorkloadError, targets_from_json


def fixed(value: float, digits: int, group: bool = False) -> str:
    """JavaScript's toFixed: the exact binary value rounded half away from zero
    (Python's own format rounds half to even), with optional thousands commas."""
    rounded = Decimal(float(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    rounded = abs(rounded) if rounded == 0 else rounded     # no "-0.00"
    return f"{rounded:,f}" if group else f"{rounded:f}"


def fmt_int(value: Any) -> str:
    return "—" if value is None else fixed(value, 0, group=True)


def fmt_num(value: Any, digits: int = 1) -> str:
    return "—" if value is None else fixed(value, digits, group=True)


def fmt_ms(value: Any) -> str:
    """Latency in ms with about three significant digits."""
    if value is None:
        return "—"
    value = float(value)
    if value >= 100:
        return f"{fixed(value, 0, group=True)} ms"
    return f"{fixed(value, 1 if value >= 10 else 2)} ms"


def fmt_duration(seconds: Any) -> str:
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 60:
        return f"{fixed(seconds, 1)} s"
    minutes, secs = divmod(int(fixed(seconds, 0)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def fmt_percent(fraction: Any, digits: int = 2) -> str:
    return "—" if fraction is None else f"{fixed(100 * float(fraction), digits)}%"


def fmt_time(epoch: Any, seconds: bool = True) -> str:
    if epoch is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M",
                         time.localtime(float(epoch)))


def short_url(url: str, limit: int = 30) -> str:
    """At most `limit` characters of a URL: its host and the end of its path, where runs of
    one sweep differ ("127.0.0.1:8081/…y=0-1&size=10"); an end ellipsis would cut every
    URL to the same prefix. Pages put the whole URL in a title attribute."""
    if len(url) <= limit:
        return url
    without_scheme = url.partition("://")[2]
    if len(without_scheme) <= limit:
        return without_scheme
    host, _, path = without_scheme.partition("/")
    keep = limit - len(host) - 2                 # the "/…" between them
    if keep >= limit // 3:
        return f"{host}/…{path[-keep:]}"
    half = (limit - 1) // 2                      # a long host: its start and the URL's end
    return f"{url[:limit - 1 - half]}…{url[-half:]}"


def window_text(lo: int, hi: int | None) -> str:
    """The seconds a page shows of a run: "seconds 61–120", "seconds 61–end" (show.js
    words a window the same)."""
    return f"seconds {lo}–{'end' if hi is None else hi}"


def setup_filters(env: Any) -> None:
    env.filters.update(int=fmt_int, num=fmt_num, ms=fmt_ms, duration=fmt_duration,
                       percent=fmt_percent, time=fmt_time, short_url=short_url)


@dataclass(frozen=True)
class Metric:
    label: str
    path: tuple[str, ...]      # where it is in the summary dict
    fmt: Any
    better: str                # "lower", "higher" or "" (neither: no colour)
    points: bool = False       # delta in percentage points (rates), not relative


COMPARE_METRICS = (
    Metric("Requests", ("requests",), fmt_int, ""),
    Metric("Req/s", ("rps",), fmt_num, "higher"),
    Metric("Duration", ("duration_s",), fmt_duration, "lower"),
    Metric("p50", ("latency_ms", "p50"), fmt_ms, "lower"),
    Metric("p90", ("latency_ms", "p90"), fmt_ms, "lower"),
    Metric("p99", ("latency_ms", "p99"), fmt_ms, "lower"),
    Metric("p99.9", ("latency_ms", "p999"), fmt_ms, "lower"),
    Metric("Max", ("latency_ms", "max"), fmt_ms, "lower"),
    Metric("Error %", ("error_rate",), fmt_percent, "lower", points=True),
    Metric("Peak RSS", ("peak_rss_mb",), lambda v: f"{fmt_num(v)} MB", "lower"),
    Metric("CPU (of one core)", ("cpu_percent",), lambda v: f"{fmt_num(v)}%", "lower"),
)


@dataclass(frozen=True)
class Cell:
    text: str
    delta: str = ""            # "+12.3%", "−4.0%", "+0.50 pp"; empty for the baseline
    verdict: str = ""          # "better", "worse" or "same"


def summary_value(summary: dict | None, path: tuple[str, ...]) -> float | None:
    value: Any = summary
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return None if value is None else float(value)


# an endpoint's row of a summary ("endpoints": {name: ...}): the run's metrics it has too
ENDPOINT_METRICS = tuple(m for m in COMPARE_METRICS if m.label in (
    "Requests", "Req/s", "p50", "p90", "p99", "Max", "Error %"))


def compare_rows(summaries: list[dict | None],
                 metrics: tuple[Metric, ...] = COMPARE_METRICS
                 ) -> list[tuple[Metric, list[Cell]]]:
    """One row per metric, one cell per run; deltas against the first run (the baseline)."""
    rows = []
    for metric in metrics:
        values = [summary_value(s, metric.path) for s in summaries]
        base = values[0]
        cells = [Cell("—" if values[0] is None else metric.fmt(values[0]))]
        for value in values[1:]:
            if value is None:
                cells.append(Cell("—"))
                continue
            delta, change = _delta(metric, base, value)
            cells.append(Cell(metric.fmt(value), delta, _verdict(metric, change)))
        rows.append((metric, cells))
    return rows


def _delta(metric: Metric, base: float | None, value: float) -> tuple[str, float | None]:
    if base is None:
        return "", None
    if metric.points:
        change = 100 * (value - base)
        return f"{_sign(change)}{abs(change):.2f} pp", change
    if base == 0:
        return ("±0%", 0.0) if value == 0 else ("new", math.inf)
    change = 100 * (value - base) / abs(base)
    return f"{_sign(change)}{abs(change):.1f}%", change


def _sign(change: float) -> str:
    return "+" if change > 0 else "−" if change < 0 else "±"


def _verdict(metric: Metric, change: float | None) -> str:
    if change is None or not metric.better:
        return ""
    if abs(change) < 0.05:
        return "same"
    improved = change > 0 if metric.better == "higher" else change < 0
    return "better" if improved else "worse"


def compare_endpoints(summaries: list[dict | None]
                      ) -> list[tuple[str, list[tuple[Metric, list[Cell]]]]]:
    """Per-endpoint rows for the names every run has (in the baseline's order), each
    against the baseline's same endpoint: [(name, compare_rows of that endpoint)]."""
    endpoints = [(s or {}).get("endpoints") or {} for s in summaries]
    shared = [name for name in endpoints[0] if all(name in e for e in endpoints[1:])]
    return [(name, compare_rows([endpoint_view(e[name]) for e in endpoints],
                                ENDPOINT_METRICS)) for name in shared]


def endpoint_view(stats: Mapping[str, Any]) -> dict[str, Any]:
    """An endpoint's summary with its error rate: (failed + errors) / requests, as the
    run's own (no request: no rate)."""
    requests = stats.get("requests") or 0
    failed = (stats.get("failed") or 0) + (stats.get("errors") or 0)
    return {**stats, "error_rate": failed / requests if requests else None}


def endpoint_names(spec: Mapping[str, Any]) -> list[str]:
    """The names a run's statistics are split by, in the order of its targets: none for a
    run of one name (it has no per-endpoint statistics)."""
    try:
        targets = targets_from_json(spec.get("targets")) if spec.get("targets") else []
    except WorkloadError:        # stored by an older or newer validator: no table then
        return []
    names = list(dict.fromkeys(t.display_name for t in targets))
    return names if len(names) > 1 else []


def targets_text(targets: list[Mapping[str, Any]], limit: int = 20) -> str:
    """A run's targets for its spec table, one `name: METHOD URL` line each (headers under
    it), secrets masked as everywhere (app/redact.py), the first `limit` of them."""
    lines = []
    for target in targets[:limit]:
        name = f"{target['name']}: " if target.get("name") else ""
        lines.append(f"{name}{target.get('method', 'GET')} {mask_url(str(target.get('url')))}")
        lines += [f"    {k}: {mask_header(str(k), str(v))}" for k, v in target.get("headers") or ()]
        body, body_b64 = target.get("body") or "", target.get("body_b64") or ""
        if body or body_b64:
            size = len(body.encode()) if body else len(base64.b64decode(body_b64))
            lines.append(f"    (a body of {size:,} bytes)")
    if len(targets) > limit:
        lines.append(f"… and {len(targets) - limit:,} more")
    return "\n".join(lines)


def retention(keep_days: float | None, keep_runs: int | None) -> str:
    """What the dashboard deletes by itself, in words, for the history page."""
    kept = ([f"runs from the last {keep_days:g} day{'s' if keep_days != 1 else ''}"]
            if keep_days is not None else [])
    kept += [f"the {keep_runs} newest run{'s' if keep_runs != 1 else ''}"] if keep_runs else []
    if not kept:
        return "every run is kept until deleted; --keep-days and --keep-runs bound it"
    return "keeping " + " and ".join(kept) + ", with active runs always kept"
