"""The self-contained HTML report: one file with the data and the chart code inlined.

`build` renders it from data (a run, its series); `series` holds the report's step and
compact columns, and the bench's in-memory series; `store` reads a stored run's.
"""
from .build import MAX_BYTES, Report, build_compare, build_run, first_fitting
from .series import Columns, Ladder, report_step, steps_from

__all__ = ["MAX_BYTES", "Columns", "Ladder", "Report", "build_compare", "build_run",
           "first_fitting", "report_step", "steps_from"]
