"""Runs and their per-second samples: the only SQL the rest of the app needs.

Every write is durable when its function returns (the connection is in
autocommit mode, see db.open_db), so a crash loses at most the samples that
had not been handed to append_rows yet.
"""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import aiosqlite

from app.status import RunStatus

from .db import FOLD_FUNCTION, fold, free_pages, transaction

_RUN_COLUMNS = ("id, name, url, spec_json, engine, model, status, created_at, started_at, "
                "finished_at, summary_json, error_message")
_ACTIVE = tuple(s.value for s in RunStatus if s.active)
_ACTIVE_PLACEHOLDERS = ", ".join("?" * len(_ACTIVE))
# Sort key -> ORDER BY expression. The only way a sort reaches the SQL text.
_SORT_COLUMNS = {
    "created": "created_at", "name": "name COLLATE NOCASE", "url": "url COLLATE NOCASE",
    "engine": "engine", "status": "status", "duration": "duration_s",
    "requests": "requests", "rps": "rps", "p50": "p50_ms", "p99": "p99_ms",
    "error_rate": "error_rate",
}
SORT_KEYS = tuple(_SORT_COLUMNS)
# 4 bound values a row: far below SQLite's variable limit (32766 since 3.32).
_ROWS_PER_STATEMENT = 1000
_KEYS_PER_QUERY = 5000
# The summary's headline numbers as sortable columns, from the JSON parameter :summary.
# Same JSON paths as the backfill in migrations/0002.
_SUMMARY_COLUMNS = (
    "requests = json_extract(:summary, '$.requests'),"
    " rps = json_extract(:summary, '$.rps'),"
    " p50_ms = json_extract(:summary, '$.latency_ms.p50'),"
    " p99_ms = json_extract(:summary, '$.latency_ms.p99'),"
    " error_rate = json_extract(:summary, '$.error_rate'),"
    " duration_s = json_extract(:summary, '$.duration_s'),"
    " passed = json_extract(:summary, '$.thresholds_passed')")
INTERRUPTED_MESSAGE = "the dashboard stopped while this run was active"


@dataclass(frozen=True)
class RunRecord:
    id: int
    name: str
    url: str
    spec: dict
    engine: str
    model: str
    status: RunStatus
    created_at: float
    started_at: float | None
    finished_at: float | None
    summary: dict | None
    error_message: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the status as its string value)."""
        return {**asdict(self), "status": self.status.value}

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> RunRecord:
        summary = row["summary_json"]
        return cls(id=row["id"], name=row["name"], url=row["url"],
                   spec=json.loads(row["spec_json"]), engine=row["engine"],
                   model=row["model"], status=RunStatus(row["status"]),
                   created_at=row["created_at"], started_at=row["started_at"],
                   finished_at=row["finished_at"],
                   summary=json.loads(summary) if summary is not None else None,
                   error_message=row["error_message"])


async def create_run(db: aiosqlite.Connection, spec: dict, *,
                     status: RunStatus = RunStatus.QUEUED) -> RunRecord:
    """Store a new run for `spec` (RunSpec.to_dict(with_data=True))."""
    return (await create_runs(db, [spec], first_status=status))[0]


async def create_runs(db: aiosqlite.Connection, specs: Sequence[dict], *,
                      first_status: RunStatus = RunStatus.RUNNING) -> list[RunRecord]:
    """Store a batch of runs at once (one transaction: all or none): the first
    `first_status`, the others `queued` behind it. A spec's `data_csv` goes to run_data."""
    if not specs:
        return []
    now = time.time()
    rows, data = [], []
    for index, spec in enumerate(specs):
        spec = dict(spec)
        data.append(spec.pop("data_csv", None))
        status = RunStatus(first_status) if index == 0 else RunStatus.QUEUED
        rows.append((spec.get("name") or "", spec["url"], json.dumps(spec), spec["engine"],
                     spec["model"], status.value, now,
                     now if status is RunStatus.RUNNING else None))
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
    insert = ("INSERT INTO runs (name, url, spec_json, engine, model, status, created_at,"
              f" started_at) VALUES {values} RETURNING {_RUN_COLUMNS}")
    params = [v for row in rows for v in row]
    if all(csv is None for csv in data):     # one statement: nothing to interleave with
        stored = await db.execute_fetchall(insert, params)
        return sorted((RunRecord.from_row(row) for row in stored), key=lambda r: r.id)
    async with transaction(db):              # no run without the data it needs
        stored = await db.execute_fetchall(insert, params)
        records = sorted((RunRecord.from_row(row) for row in stored), key=lambda r: r.id)
        await db.executemany("INSERT INTO run_data (run_id, csv) VALUES (?, ?)",
                             [(r.id, csv) for r, csv in zip(records, data) if csv is not None])
    return records


async def get_run_data(db: aiosqlite.Connection, run_id: int) -> str | None:
    """The run's CSV data file, as it ran ("Run again" sends exactly these rows)."""
    rows = await db.execute_fetchall("SELECT csv FROM run_data WHERE run_id = ?", (run_id,))
    return rows[0][0] if rows else None


async def mark_running(db: aiosqlite.Connection, run_id: int) -> None:
    await db.execute("UPDATE runs SET status = ?, started_at = ? WHERE id = ?",
                     (RunStatus.RUNNING.value, time.time(), run_id))


async def append_rows(db: aiosqlite.Connection, run_id: int,
                      rows: Sequence[tuple[int, int, bytes]]) -> None:
    """Store rows of a run's series, (span, start, record) each (app/engine/series.py),
    replacing any stored under the same key."""
    if not rows:
        return
    chunks = [rows[i:i + _ROWS_PER_STATEMENT] for i in range(0, len(rows), _ROWS_PER_STATEMENT)]
    if len(chunks) == 1:
        # One statement is atomic on its own and, unlike BEGIN … COMMIT, cannot
        # take in another coroutine's writes on this shared connection.
        await _insert_rows(db, run_id, chunks[0])
        return
    # Only a catch-up after a long stall is this big: it needs an explicit transaction.
    async with transaction(db):
        for chunk in chunks:
            await _insert_rows(db, run_id, chunk)


async def _insert_rows(db: aiosqlite.Connection, run_id: int,
                       rows: Sequence[tuple[int, int, bytes]]) -> None:
    values = ", ".join(["(?, ?, ?, ?)"] * len(rows))
    params = [value for span, start, record in rows for value in (run_id, span, start, record)]
    await db.execute("INSERT OR REPLACE INTO series (run_id, span, start, record)"
                     f" VALUES {values}", params)


async def read_rows(db: aiosqlite.Connection, run_id: int,
                    keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored rows among these (span, start) keys; missing ones are left out."""
    found: dict[tuple[int, int], bytes] = {}
    for i in range(0, len(keys), _KEYS_PER_QUERY):
        rows = await db.execute_fetchall(
            "SELECT span, start, record FROM series WHERE run_id = ? AND (span, start) IN"
            " (SELECT value ->> 0, value ->> 1 FROM json_each(?))",
            (run_id, json.dumps(keys[i:i + _KEYS_PER_QUERY])))
        found.update(((row[0], row[1]), row[2]) for row in rows)
    return found


async def read_seconds(db: aiosqlite.Connection, run_id: int, lo: int, hi: int,
                       *, chunk: int = 1000):
    """The run's seconds lo..hi in order, (second, record) a chunk at a time: a day-long
    run's 86,400 seconds are never all in memory (the CSV export streams them)."""
    at = lo
    while at <= hi:
        rows = await db.execute_fetchall(
            "SELECT start, record FROM series WHERE run_id = ? AND span = 1"
            " AND start BETWEEN ? AND ? ORDER BY start LIMIT ?", (run_id, at, hi, chunk))
        if not rows:
            return
        yield [(row[0], row[1]) for row in rows]
        at = rows[-1][0] + 1


async def get_overview(db: aiosqlite.Connection, run_id: int) -> tuple[int, int, str] | None:
    """(step, last second, samples JSON) of an ended run's stored overview, if any."""
    rows = await db.execute_fetchall(
        "SELECT step, last, samples FROM overviews WHERE run_id = ?", (run_id,))
    return (rows[0][0], rows[0][1], rows[0][2]) if rows else None


async def put_overview(db: aiosqlite.Connection, run_id: int, step: int, last: int,
                       samples: str) -> None:
    await db.execute("INSERT OR REPLACE INTO overviews (run_id, step, last, samples)"
                     " VALUES (?, ?, ?, ?)", (run_id, step, last, samples))


async def last_second(db: aiosqlite.Connection, run_id: int) -> int:
    """The run's last stored second (0: none)."""
    rows = await db.execute_fetchall(
        "SELECT max(start) FROM series WHERE run_id = ? AND span = 1", (run_id,))
    return rows[0][0] or 0


async def finish_run(db: aiosqlite.Connection, run_id: int, status: RunStatus,
                     summary: dict | None, error: str | None = None) -> None:
    """Record how a run ended; the summary's headline numbers become sortable columns."""
    status = RunStatus(status)
    if status.active:
        raise ValueError(f"{status.value!r} is not a final status")
    await db.execute(
        "UPDATE runs SET status = :status, finished_at = :now, summary_json = :summary,"
        " error_message = :error,"
        f" {_SUMMARY_COLUMNS} WHERE id = :id",
        {"status": status.value, "now": time.time(), "error": error, "id": run_id,
         "summary": json.dumps(summary) if summary is not None else None})


async def get_run(db: aiosqlite.Connection, run_id: int) -> RunRecord | None:
    rows = await db.execute_fetchall(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
    return RunRecord.from_row(rows[0]) if rows else None


async def get_runs(db: aiosqlite.Connection, ids: Sequence[int]) -> list[RunRecord]:
    """The runs with these ids, in the order given; unknown ids are skipped."""
    # One JSON parameter instead of one placeholder per id.
    rows = await db.execute_fetchall(
        f"SELECT {_RUN_COLUMNS} FROM runs WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps([int(i) for i in ids]),))
    by_id = {row["id"]: RunRecord.from_row(row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def list_runs(db: aiosqlite.Connection, *, text: str = "",
                    status: RunStatus | None = None, sort: str = "created",
                    descending: bool = True, limit: int = 50,
                    offset: int = 0, passed: bool | None = None) -> tuple[list[RunRecord], int]:
    """One page of runs and the number of runs matching the filters.

    `text` matches the name or the URL literally (case-insensitive); `passed` keeps the
    runs that met their thresholds (True) or failed one (False); runs without a value
    for the sort key come last in both directions.
    """
    if sort not in _SORT_COLUMNS:
        raise ValueError(f"unknown sort key {sort!r}; use one of {', '.join(SORT_KEYS)}")
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")
    where, params = _run_filter(text, status, passed)
    direction = "DESC" if descending else "ASC"
    rows = await db.execute_fetchall(
        f"SELECT {_RUN_COLUMNS} FROM runs {where}"
        f" ORDER BY {_SORT_COLUMNS[sort]} {direction} NULLS LAST, id {direction}"
        " LIMIT :limit OFFSET :offset",
        {**params, "limit": limit, "offset": offset})
    count = await db.execute_fetchall(f"SELECT COUNT(*) FROM runs {where}", params)
    return [RunRecord.from_row(row) for row in rows], count[0][0]


def _run_filter(text: str, status: RunStatus | None,
                passed: bool | None = None) -> tuple[str, dict[str, Any]]:
    clauses, params = [], {}
    if text.strip():
        # instr, not LIKE: a literal substring ("50%" finds "50%", not "500"), compared
        # Unicode-case-insensitively on both sides by the connection's fold function
        clauses.append(f"(instr({FOLD_FUNCTION}(name), :needle) > 0"
                       f" OR instr({FOLD_FUNCTION}(url), :needle) > 0)")
        params["needle"] = fold(text.strip())
    if status is not None:
        clauses.append("status = :status")
        params["status"] = RunStatus(status).value
    if passed is not None:
        clauses.append("passed = :passed")
        params["passed"] = int(passed)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


async def delete_run(db: aiosqlite.Connection, run_id: int) -> bool:
    """Delete a run and (by cascade) its series, giving their pages back to the file
    system; False if there is no such run.

    Raises ValueError for a queued or running run: its engine is still writing.
    """
    deleted = await db.execute_fetchall(
        f"DELETE FROM runs WHERE id = ? AND status NOT IN ({_ACTIVE_PLACEHOLDERS}) RETURNING id",
        (run_id, *_ACTIVE))
    if deleted:
        await free_pages(db)
        return True
    run = await get_run(db, run_id)
    if run is not None and run.status.active:
        raise ValueError(f"run {run_id} is {run.status.value}; stop it before deleting it")
    return False


async def prune(db: aiosqlite.Connection, *, keep_days: float | None = None,
                keep_runs: int | None = None) -> list[int]:
    """Retention: delete ended runs created more than keep_days ago, and all but the
    keep_runs newest ended runs; never an active one. Their pages go back to the file
    system. Returns the deleted ids."""
    if keep_days is None and keep_runs is None:
        return []
    ended = "status NOT IN (SELECT value FROM json_each(:active))"
    rows = await db.execute_fetchall(
        f"DELETE FROM runs WHERE {ended} AND ("
        "  (:cutoff IS NOT NULL AND created_at < :cutoff)"
        "  OR (:keep IS NOT NULL AND id NOT IN"
        f"      (SELECT id FROM runs WHERE {ended} ORDER BY id DESC LIMIT :keep)))"
        " RETURNING id",
        {"active": json.dumps(_ACTIVE),
         "cutoff": time.time() - keep_days * 86400 if keep_days is not None else None,
         "keep": keep_runs})
    if rows:
        await free_pages(db)
    return sorted(row[0] for row in rows)


async def interrupt_active(db: aiosqlite.Connection) -> list[int]:
    """Mark runs left queued or running by a previous dashboard as interrupted.

    Call once at start-up, before any run starts; the samples stored so far are kept.
    """
    rows = await db.execute_fetchall(
        "UPDATE runs SET status = ?, finished_at = ?, error_message = ?"
        f" WHERE status IN ({_ACTIVE_PLACEHOLDERS}) RETURNING id",
        (RunStatus.INTERRUPTED.value, time.time(), INTERRUPTED_MESSAGE, *_ACTIVE))
    return sorted(row[0] for row in rows)


async def store_summary(db: aiosqlite.Connection, run_id: int, summary: dict) -> None:
    """An interrupted run's summary, rebuilt from its stored rows: the same columns as
    finish_run, but the status and finished_at of interrupt_active stay."""
    await db.execute(
        f"UPDATE runs SET summary_json = :summary, {_SUMMARY_COLUMNS}"
        " WHERE id = :id AND status = :status",
        {"summary": json.dumps(summary), "id": run_id, "status": RunStatus.INTERRUPTED.value})


# -- imported runs (app/store/transfer.py) ---------------------------------------------

@dataclass(frozen=True)
class RunOrigin:
    """Where an imported run was measured (migration 0008, run_origins)."""
    host: str
    source: str                      # "dashboard" | "bench"
    remote_id: int | None            # its id in the database it was exported from
    exported_at: float | None
    imported_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def create_imported_run(db: aiosqlite.Connection, spec: dict, *, status: RunStatus,
                              created_at: float, started_at: float | None,
                              finished_at: float | None, error: str | None,
                              origin: RunOrigin) -> int:
    """Store a run from elsewhere, ended already, with its times, data and origin (its
    summary follows, store_imported_summary, once its seconds are in). Its id."""
    status = RunStatus(status)
    if status.active:
        raise ValueError(f"an imported run cannot be {status.value}")
    spec = dict(spec)
    data = spec.pop("data_csv", None)
    async with transaction(db):
        rows = await db.execute_fetchall(
            "INSERT INTO runs (name, url, spec_json, engine, model, status, created_at,"
            " started_at, finished_at, error_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " RETURNING id",
            (spec.get("name") or "", spec["url"], json.dumps(spec), spec["engine"],
             spec["model"], status.value, created_at, started_at, finished_at, error))
        run_id = rows[0][0]
        if data is not None:
            await db.execute("INSERT INTO run_data (run_id, csv) VALUES (?, ?)", (run_id, data))
        await db.execute(
            "INSERT INTO run_origins (run_id, host, source, remote_id, exported_at,"
            " imported_at) VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, origin.host, origin.source, origin.remote_id, origin.exported_at,
             origin.imported_at))
    return run_id


async def store_imported_summary(db: aiosqlite.Connection, run_id: int,
                                 summary: dict | None) -> None:
    """An imported run's summary, with the same sortable columns as finish_run."""
    await db.execute(
        f"UPDATE runs SET summary_json = :summary, {_SUMMARY_COLUMNS} WHERE id = :id",
        {"summary": json.dumps(summary) if summary is not None else None, "id": run_id})


async def get_origin(db: aiosqlite.Connection, run_id: int) -> RunOrigin | None:
    return (await get_origins(db, [run_id])).get(run_id)


async def get_origins(db: aiosqlite.Connection, ids: Sequence[int]) -> dict[int, RunOrigin]:
    """The origins of those of these runs that were imported (a page of the history)."""
    rows = await db.execute_fetchall(
        "SELECT run_id, host, source, remote_id, exported_at, imported_at FROM run_origins"
        " WHERE run_id IN (SELECT value FROM json_each(?))", (json.dumps([int(i) for i in ids]),))
    return {row[0]: RunOrigin(*tuple(row)[1:]) for row in rows}


async def copy_run(db: aiosqlite.Connection, source_path: str, source_id: int) -> int:
    """Copy a run, with everything stored for it (its row, series, data, origin), from the
    Stampede database file at source_path into db, under a new id, in one transaction:
    all of it or nothing. Every column of `runs` is copied, whichever migrations added
    them (both files are at this code's schema). Use a connection of its own: ATTACH."""
    await db.execute("ATTACH DATABASE ? AS source", (source_path,))
    try:
        names = [row[0] for row in await db.execute_fetchall(
            "SELECT name FROM pragma_table_info('runs', 'main') WHERE name <> 'id'"
            " ORDER BY cid")]
        columns = ", ".join(f'"{name}"' for name in names)   # from the schema, not from input
        async with transaction(db):
            rows = await db.execute_fetchall(
                f"INSERT INTO main.runs ({columns}) SELECT {columns} FROM source.runs"
                " WHERE id = ? RETURNING id", (source_id,))
            if not rows:
                raise LookupError(f"there is no run #{source_id} in {source_path}")
            run_id = rows[0][0]
            # in key order, as a run's rows are appended: the index pages fill whole
            await db.execute(
                "INSERT INTO main.series (run_id, span, start, record) SELECT ?, span, start,"
                " record FROM source.series WHERE run_id = ? ORDER BY span, start",
                (run_id, source_id))
            for table, rest in (("run_data", "csv"),
                                ("run_origins", "host, source, remote_id, exported_at,"
                                                " imported_at")):
                await db.execute(
                    f"INSERT INTO main.{table} (run_id, {rest}) SELECT ?, {rest}"
                    f" FROM source.{table} WHERE run_id = ?", (run_id, source_id))
    finally:
        await db.execute("DETACH DATABASE source")
    return run_id
