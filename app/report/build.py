"""The one-file HTML report of a run or of a comparison (pure, but for reading its assets).

One builder for the dashboard's downloads and `bench --report`, fed by data (a run as the
API shows it, its series as Columns), never by a request. The file holds everything it
needs: the numbers as server-rendered tables (readable without script), the series as
JSON in a <script type="application/json"> block, and uPlot, the dashboard's own
common.js and charts.js and static/js/report.js inlined as they are; it makes no request
when opened, from file:// too.

Escaping: everything users typed goes into the HTML through Jinja's autoescape, and into
the JSON block with <, > and & as \\u escapes, so a run name holding `</script>` can end
neither the block nor the document. Inlined assets are ours, but `</script`, `</style`
and `<!--` in them are escaped all the same (see _inline).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from app.redact import mask_url, spec_view
from app.web import display

from .series import Columns

ROOT = Path(__file__).resolve().parents[2]
MAX_BYTES = 2_000_000        # the most a report may weigh (one of an hour-long run fits)
# inlined in this order: uPlot, then the dashboard's helpers and charts, then the report's
SCRIPTS = ("static/vendor/uplot/uPlot.iife.min.js", "static/js/common.js",
           "static/js/charts.js", "static/js/report.js")
STYLES = ("static/vendor/uplot/uPlot.min.css", "static/css/app.css", "static/css/report.css")
TEMPLATE = "report.html"
SPEC_TEXT_MAX = 4000         # characters of one spec value shown (a body can be megabytes)


@dataclass(frozen=True)
class Report:
    html: str
    script_hashes: tuple[str, ...]       # 'sha256-…' of each inline script, for a CSP

    @property
    def size(self) -> int:
        return len(self.html.encode())

    def content_security_policy(self) -> str:
        """For serving the file from the dashboard: only its own inline scripts run, it
        loads nothing, and `sandbox` gives it an opaque origin (no cookie, no API of the
        dashboard) in case a browser shows it instead of saving it."""
        scripts = " ".join(f"'{h}'" for h in self.script_hashes)
        return (f"sandbox allow-scripts; default-src 'none'; script-src {scripts}; "
                "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'")


# --- the pieces of the file ----------------------------------------------------------

_CLOSERS = {"script": re.compile(r"</(script)|<!--", re.IGNORECASE),
            "style": re.compile(r"</(style)", re.IGNORECASE)}


def _inline(text: str, tag: str) -> str:
    """An asset's text made safe inside <tag>: `</script` -> `<\\/script` (the same in a
    JS string, regex or comment; in CSS `\\/` is `/`), `<!--` -> `<\\!--`."""
    return _CLOSERS[tag].sub(lambda m: f"<\\/{m[1]}" if m[1] else "<\\!--", text)


def json_for_script(data: Any) -> str:
    """JSON that cannot end its <script> block: <, > and & as \\u escapes (also what
    Jinja's tojson does), and the line separators JavaScript once refused."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROOT / "templates")),
                             autoescape=True, trim_blocks=False)
    display.setup_filters(env)
    return env


def _assets() -> tuple[Markup, Markup, tuple[str, ...]]:
    """The <style> and <script> blocks, read now (a dashboard serves its current files),
    and the hashes of the scripts."""
    styles = "".join(f"<style>{_inline(_read(p), 'style')}</style>\n" for p in STYLES)
    texts = [_inline(_read(p), "script") for p in SCRIPTS]
    hashes = tuple("sha256-" + base64.b64encode(hashlib.sha256(t.encode()).digest()).decode()
                   for t in texts)
    scripts = "".join(f"<script>{t}</script>\n" for t in texts)
    return Markup(styles), Markup(scripts), hashes


def _read(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def _render(context: dict[str, Any], data: dict[str, Any]) -> Report:
    styles, scripts, hashes = _assets()
    html = _environment().get_template(TEMPLATE).render(
        **context, styles=styles, scripts=scripts,
        data=Markup(f'<script type="application/json" id="page-data">'
                    f'{json_for_script(data)}</script>'))
    return Report(html, hashes)


# --- what it shows -------------------------------------------------------------------

def masked(run: Mapping[str, Any]) -> dict[str, Any]:
    """The run as a report may show it: url and spec masked (app/redact.py), whatever the
    caller passed (masking twice changes nothing)."""
    return {**run, "url": mask_url(str(run.get("url") or "")),
            "spec": spec_view(run.get("spec") or {})}


def title_of(run: Mapping[str, Any]) -> str:
    return run.get("name") or (f"Run #{run['id']}" if run.get("id") else "Run")


def label_of(run: Mapping[str, Any]) -> str:
    name = title_of(run)
    return f"{name} (#{run['id']})" if run.get("id") and run.get("name") else name


def spec_rows(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every field of a (masked) spec as (label, text): the record of what was run,
    fields added later included; long values cut at SPEC_TEXT_MAX characters."""
    rows = []
    for key, value in spec.items():
        if key == "data_csv":
            continue
        if key == "targets":
            text = display.targets_text(value) if value else "—"
        elif key == "data" and isinstance(value, Mapping):
            text = f"{value.get('rows', 0):,} rows: {', '.join(value.get('columns') or [])}"
        elif key == "headers" and isinstance(value, list):
            text = "\n".join(v if isinstance(v, str) else ": ".join(map(str, v))
                             for v in value) or "—"
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        elif value is None or value == "" or value == []:
            text = "—"
        elif isinstance(value, (list, dict)):
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = str(value)
        if len(text) > SPEC_TEXT_MAX:
            text = f"{text[:SPEC_TEXT_MAX]}… ({len(text) - SPEC_TEXT_MAX:,} more characters)"
        label, unit = _SPEC_LABELS.get(key, (key.replace("_", " ").capitalize(), ""))
        rows.append((label, f"{text}{unit}" if unit and text != "—" else text))
    return rows


# labels the generic one reads wrong, and the unit of a number of seconds
_SPEC_LABELS = {"url": ("URL", ""), "verify_tls": ("Verify TLS", ""),
                "duration": ("Duration", " s"), "timeout": ("Timeout", " s"),
                "connect_timeout": ("Connect timeout", " s"), "rate": ("Rate", " req/s")}


def step_text(step: int) -> str:
    """A point's span in words: "1 s", "1 minute", "2 hours"."""
    for size, unit in ((3600, "hour"), (60, "minute")):
        if step >= size and step % size == 0:
            n = step // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{step} s"


def threshold_rows(summary: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """A summary's thresholds ({"expr", "value", "pass", "unit"}) with the value as text."""
    rows = []
    for t in (summary or {}).get("thresholds") or []:
        rows.append({"expr": t.get("expr", ""), "passed": t.get("pass"),
                     "value": _threshold_value(t.get("value"), t.get("unit", ""))})
    return rows


def _threshold_value(value: Any, unit: str) -> str:
    if value is None:
        return "— (nothing to measure)"
    if unit == "ms":
        return display.fmt_ms(value)
    if unit == "fraction":
        return display.fmt_percent(value)
    return f"{display.fmt_num(value, 2)}{' ' + unit if unit else ''}"


def endpoint_rows(summary: Mapping[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    return [(name, display.endpoint_view(stats))
            for name, stats in ((summary or {}).get("endpoints") or {}).items()]


def _run_context(run: dict[str, Any]) -> dict[str, Any]:
    summary = run.get("summary") or {}
    nodes = summary.get("nodes") or {}
    return {"run": run, "title": title_of(run), "label": label_of(run), "summary": summary,
            "spec_rows": spec_rows(run["spec"]), "thresholds": threshold_rows(summary),
            "endpoints": endpoint_rows(summary),
            # one node on this machine says nothing a summary does not
            "nodes": nodes if summary.get("backend") == "ray" or len(nodes) > 1 else {},
            "lost_workers": summary.get("lost_workers") or []}


def _chart_run(run: dict[str, Any], series: Columns) -> dict[str, Any]:
    summary = run.get("summary") or {}
    return {"label": label_of(run), "model": run.get("model") or run["spec"].get("model"),
            "curve": summary.get("percentile_curve") or [] if summary.get("requests") else [],
            "series": series.to_json()}


def build_run(run: Mapping[str, Any], series: Columns, *, generated_at: float | None = None,
              source: str = "Stampede") -> Report:
    """The report of one run: `run` as the API's run (id may be None: a bench run not
    stored), `series` its points."""
    run = masked(run)
    context = {"kind": "run", **_run_context(run), "step_text": step_text(series.step),
               "points": len(series),
               "generated": display.fmt_time(generated_at or time.time()), "source": source}
    return _render(context, {"kind": "run", "runs": [_chart_run(run, series)], "window": None})


def build_compare(runs: Sequence[Mapping[str, Any]], summaries: Sequence[dict | None],
                  series: Sequence[Columns], *, rows: list, endpoint_rows: list,
                  window: tuple[int, int | None] | None = None,
                  verdicts: Sequence[Mapping[str, str]] | None = None,
                  generated_at: float | None = None, source: str = "Stampede") -> Report:
    """The report of a comparison: the runs (the first the baseline), each one's summary
    over the compared seconds, its series (all at one step), and the compare page's rows
    (display.compare_rows, compare_endpoints of those summaries). A delta is coloured only
    by `verdicts` (per run, a row's label -> "better", "worse", …, as the compare page
    decides them): without, every delta stays grey, never coloured for noise."""
    shown = [masked({**r, "summary": s}) for r, s in zip(runs, summaries)]
    context = {"kind": "compare", "runs": [_run_context(r) for r in shown],
               "title": f"Compare {len(shown)} runs", "rows": rows,
               "endpoint_rows": endpoint_rows,
               "verdicts": list(verdicts) if verdicts else [{} for _ in shown],
               "window": None if window is None else display.window_text(*window),
               "step_text": step_text(series[0].step if series else 1),
               "generated": display.fmt_time(generated_at or time.time()), "source": source}
    data = {"kind": "compare", "runs": [_chart_run(r, s) for r, s in zip(shown, series)],
            "window": None if window is None else {"from": window[0], "to": window[1]}}
    return _render(context, data)


def first_fitting(candidates: Iterable[Any], build: Callable[[Any], Report]) -> Report:
    """The report of the first candidate series (finest first) that fits MAX_BYTES, else
    of the last, the coarsest there is."""
    report = None
    for candidate in candidates:
        report = build(candidate)
        if report.size <= MAX_BYTES:
            return report
    if report is None:
        raise ValueError("no series to build a report from")
    return report
