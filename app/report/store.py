"""Reports of stored runs: their series read through app/store/series.py (the one place
that decides where a second comes from), then app/report/build.py.

The series is the report's step (report_step: one point a second up to an hour); a step
equal to the run page's default is the kept overview of an ended run, read, not
computed. When the file would pass MAX_BYTES (a run of many endpoints), the next stored
span is tried.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite

from app.engine.series import default_step
from app.store import runs as store
from app.store import series as timeline

from .build import MAX_BYTES, Report, build_compare, build_run
from .series import MAX_VALUES, Columns, predicted_values, report_step, steps_from

MAX_SECOND = 10 * 366 * 86400       # "to the end" (the API's bound for a second)


async def series(db: aiosqlite.Connection, run: store.RunRecord, lo: int, hi: int, step: int,
                 pending: timeline.Pending | None = None) -> Columns:
    columns = Columns(step)
    last = await timeline.last_second(db, run.id, pending)
    whole = lo == 1 and hi >= last
    if whole and not run.status.active and step == default_step(1, max(last, 1)):
        kept_step, _, samples = await timeline.overview(db, run.id)
        if kept_step == step:
            return columns.extend(json.loads(samples))
    async for chunk in timeline.views(db, run.id, lo, hi, step, pending):
        columns.extend(chunk)
    return columns


async def run_report(db: aiosqlite.Connection, run: store.RunRecord,
                     pending: timeline.Pending | None = None) -> Report:
    """The report of a run (its spec masked by the builder)."""
    last = await timeline.last_second(db, run.id, pending)
    report = None
    for step in _likely_to_fit(steps_from(report_step(1, max(last, 1))),
                               lambda step: predicted_values(1, last, step, run.summary)):
        columns = await series(db, run, 1, last, step, pending)
        # off the event loop: rendering an hour of seconds takes ~0.1-0.5 s
        report = await asyncio.to_thread(build_run, run.to_dict(), columns)
        if report.size <= MAX_BYTES:
            break
    return report


async def compare_report(db: aiosqlite.Connection, runs: Sequence[store.RunRecord],
                         summaries: Sequence[dict | None], window: tuple[int, int | None] | None,
                         *, rows: list, endpoint_rows: list,
                         pendings: Sequence[timeline.Pending | None],
                         verdicts: Sequence[dict[str, str]] | None = None) -> Report:
    """The report of the compare page's runs over its window (None: the whole runs), its
    summaries, rows and verdicts (build_compare); every run's series at one step, so the
    points line up."""
    lo, hi = window or (1, None)
    ends = [await timeline.last_second(db, r.id, p) for r, p in zip(runs, pendings)]
    end = max([min(hi or e, e) for e in ends] + [lo])
    report = None
    for step in _likely_to_fit(steps_from(report_step(lo, end)), lambda step: sum(
            predicted_values(lo, min(hi or e, e), step, s) for e, s in zip(ends, summaries))):
        columns = [await series(db, r, lo, hi or MAX_SECOND, step, p)
                   for r, p in zip(runs, pendings)]
        report = await asyncio.to_thread(
            build_compare, [r.to_dict() for r in runs], summaries, columns, rows=rows,
            endpoint_rows=endpoint_rows, window=window, verdicts=verdicts)
        if report.size <= MAX_BYTES:
            break
    return report


def _likely_to_fit(steps: list[int], values: Callable[[int], int]) -> list[int]:
    """The steps from the first whose series would fit a report (by its summary: a step
    that cannot is not read at all), the last one whatever it holds."""
    for at, step in enumerate(steps):
        if values(step) <= MAX_VALUES or at == len(steps) - 1:
            return steps[at:]
    return steps


def filename(kind: str, ids: Sequence[Any]) -> str:
    """stampede-run-7.html, stampede-compare-3-4.html"""
    return f"stampede-{kind}-{'-'.join(map(str, ids))}.html"
