"""`bench --report FILE.html`: the report of a run the bench just made, from its result and
the series it kept in memory as the seconds came (series.Ladder), whether or not it was
stored: the same builder and the same points as the dashboard's download of that run."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .build import Report, build_run, first_fitting
from .series import Ladder

# what a bench result holds besides the summary (its --json keys)
_NOT_SUMMARY = ("spec", "histogram", "outcome", "error", "run_id", "pushed", "report")


def bench_run(result: dict[str, Any], spec: dict[str, Any], run_id: int | None,
              ended_at: float | None = None) -> dict[str, Any]:
    """A bench result as the API's run (the builder masks its spec)."""
    ended_at = ended_at or time.time()
    started_at = ended_at - (result.get("duration_s") or 0.0)
    return {"id": run_id, "name": spec.get("name") or "", "url": spec.get("url") or "",
            "spec": spec, "engine": spec.get("engine"), "model": spec.get("model"),
            "status": result.get("outcome") or "failed", "created_at": started_at,
            "started_at": started_at, "finished_at": ended_at,
            "summary": {k: v for k, v in result.items() if k not in _NOT_SUMMARY},
            "error_message": result.get("error")}


def write_report(path: str | Path, ladder: Ladder, result: dict[str, Any],
                 spec: dict[str, Any], run_id: int | None = None) -> Report:
    """Build and write the file (OSError when it cannot be written)."""
    run = bench_run(result, spec, run_id)
    report = first_fitting(ladder.candidates(), lambda series: build_run(
        run, series, source="Stampede bench"))
    Path(path).write_text(report.html, encoding="utf-8")
    return report
