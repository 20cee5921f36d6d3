"""A run as one JSON document, out and in: how a run moves between machines
(`run.py export` / `run.py import`, `bench --push`, POST /api/runs/import).

The document, format "stampede-run" version 1, its members in this order:

    {"format": "stampede-run", "version": 1,
     "origin": {"host": "ci-7", "source": "bench", "run_id": null,
                "exported_at": 1732950000.5, "secrets": "masked"},
     "run": {"spec": {...}, "status": "finished", "created_at": 1732949990.1,
             "started_at": 1732949990.1, "finished_at": 1732950000.4,
             "summary": {...}, "error": null},
     "seconds": [[1, "eJy1V..."],
                 [2, "eJy1V..."]]}

- origin: where the run was measured (`host`; an imported run keeps the host it came
  from when exported again), by a `dashboard` or `bench --push`, its id there, when it
  was exported, and whether the spec's secrets are `masked` (the default) or `included`.
- run.spec: RunSpec.to_dict(with_data=True), the data file's CSV as `data_csv`. Masked by
  default as every outward view masks it (app/redact.py: credential headers, URL userinfo
  and secret query values; bodies and data are not masked, there as here): a file or a
  push leaves the machine, and a shared dashboard must not collect CI tokens. "Run again"
  of such a run shows the masks to type over. `run.py export --secrets` keeps the spec as
  typed (moving one's own history).
- seconds: [second, base64 of its stored record]: app/engine/record.py's exact form (zlib;
  counts as JSON, every histogram in its varint form), byte for byte, seconds increasing.
  The minute and hour rows are not sent: the importer merges them again from the seconds
  (exact: histograms added), so no document can carry rollups its seconds disagree with.

Reading is streamed, so the members come in that order: a reader must know the version
before the seconds, and the run before it stores them; `seconds` comes last. A day-long
run's 86,400 seconds are never in memory at once: the document is read a member, then a
second, at a time (the spool of an upload and a staging database are on disk).

Importing checks everything before anything is stored: the spec with the one validator
(parse_spec; this machine's worker and open-file limits are not applied, since the run
will not run here: "Run again" applies them), every second decoded (a corrupt one is
named), then the run and all its rows are copied into the database in one transaction.
Refusals are TransferError naming where: `seconds[12]: second 13: ...`, `run.spec.url: ...`.

An imported run never runs here: one exported while queued or running (its seconds so far)
is stored `interrupted`, as a dashboard that stopped under it would leave it. Its summary's
numbers are merged from its seconds (for any run that stored all its seconds: exactly the
original's); what seconds cannot give (backend, nodes, thresholds, ...) is the document's.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import json
import os
import socket
import sqlite3
import tempfile
import time
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, TextIO

import aiosqlite

from app.engine.record import RecordError, decode_record, encode_record
from app.engine.series import Rollups
from app.engine.snapshot import Snapshot, Summary
from app.redact import spec_view
from app.spec import RunSpec, SpecError, parse_spec
from app.status import RunStatus

from . import runs as store
from .db import open_db, storage_problem

FORMAT = "stampede-run"
VERSION = 1
# The largest document read (an upload, a file): a day at 20,000 req/s is ~0.55 GB
# (1 h measured: 22.4 MB of seconds), plus room for a data file. Checked before reading
# (Content-Length, a file's size) and while reading (a chunked upload, a pipe).
MAX_IMPORT_BYTES = 1 << 30
MAX_RECORD_BYTES = 1 << 20          # one second's record (real ones: 1-6 KB)
MAX_RECORD_RAW = 16 << 20           # ... decompressed: no zip bomb gets further
MAX_SECOND = 10 * 366 * 86400       # as app/web/api.py's: past any run, within SQLite's int
MAX_HOST_CHARS = 255
MAX_ERROR_CHARS = 100_000
SOURCES = ("dashboard", "bench")
EXPORT_CHUNK = 1000                 # seconds read from the store at once
IMPORT_BATCH = 500                  # seconds decoded (in a thread) between two writes
_READ_CHARS = 1 << 16
_ORIGIN_KEYS = frozenset({"host", "source", "run_id", "exported_at", "secrets"})
_RUN_KEYS = frozenset({"spec", "status", "created_at", "started_at", "finished_at",
                       "summary", "error"})
# what RunSpec.to_dict(with_data=True) writes; anything else in a spec is refused by name
_SPEC_KEYS = frozenset(RunSpec.__dataclass_fields__) | {"model", "data", "data_csv"}
# the run will not run here: this machine's limits on workers and open files do not apply
_ANY_CPUS = 1 << 20
_ANY_FDS = 1 << 40


class TransferError(ValueError):
    """A document refused: `where` names the member (`seconds[12]`, `run.spec.url`,
    `body` for the document as a whole), `message` what is wrong."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where, self.message = where, message


class TooLarge(TransferError):
    def __init__(self, limit: int):
        super().__init__("body", f"the document is above the limit of {limit / 2**20:g} MiB "
                                 "(MAX_IMPORT_BYTES)")


@dataclass(frozen=True)
class Imported:
    run_id: int
    origin: store.RunOrigin
    seconds: int


# -- out ----------------------------------------------------------------------------------

async def export_document(db: aiosqlite.Connection, run_id: int, *, secrets: bool = False,
                          source: str = "dashboard") -> AsyncIterator[str]:
    """The run as the document, in pieces (a second a line, EXPORT_CHUNK seconds read at
    once): write them to a file or a request body as they come. LookupError if there is
    no such run."""
    record = await store.get_run(db, run_id)
    if record is None:
        raise LookupError(f"there is no run #{run_id}")
    came_from = await store.get_origin(db, run_id)
    spec = dict(record.spec if secrets else spec_view(record.spec))
    data = await store.get_run_data(db, run_id)
    if data is not None:
        spec["data_csv"] = data
    origin = {"host": came_from.host if came_from else socket.gethostname(),
              "source": came_from.source if came_from else source, "run_id": run_id,
              "exported_at": time.time(), "secrets": "included" if secrets else "masked"}
    run = {"spec": spec, "status": record.status.value, "created_at": record.created_at,
           "started_at": record.started_at, "finished_at": record.finished_at,
           "summary": record.summary, "error": record.error_message}
    yield (f'{{"format": "{FORMAT}", "version": {VERSION},\n"origin": {json.dumps(origin)},\n'
           f'"run": {json.dumps(run)},\n"seconds": [')
    first = True
    async for chunk in store.read_seconds(db, run_id, 1, MAX_SECOND, chunk=EXPORT_CHUNK):
        lines = ",\n".join(f'[{second}, "{base64.b64encode(blob).decode()}"]'
                           for second, blob in chunk)
        yield ("\n" if first else ",\n") + lines
        first = False
    yield "]}\n"


# -- in -----------------------------------------------------------------------------------

async def import_document(db_path: str | os.PathLike, stream: TextIO) -> Imported:
    """Read the document from `stream` (text) and store its run in the database at
    `db_path`, under a new id; TransferError naming what is wrong, and then nothing is
    stored. The run is staged in a database of its own in a temporary folder first (the
    seconds checked and their rollups merged, a batch at a time), then copied in one
    transaction: the database's write lock is held for the copy only (~50 ms an hour of
    run at 20,000 req/s, measured)."""
    with tempfile.TemporaryDirectory(prefix="stampede-import-") as folder:
        staging_path = os.path.join(folder, "run.sqlite")
        with _as_storage_error("the run could not be staged", staging_path):
            staging = await open_db(staging_path)
            try:
                staged_id, origin, seconds = await _stage(staging, _Document(stream))
            finally:
                await staging.close()
        with _as_storage_error("the imported run could not be stored",
                               os.path.abspath(db_path)):
            db = await open_db(db_path)
            try:
                run_id = await store.copy_run(db, staging_path, staged_id)
            finally:
                await db.close()
    return Imported(run_id, origin, seconds)


@contextlib.contextmanager
def _as_storage_error(what: str, path: str) -> Iterator[None]:
    """A database that takes no writes (full, read-only) as the StorageError naming it."""
    try:
        yield
    except sqlite3.Error as exc:
        problem = storage_problem(exc, what, path)
        if problem is None:
            raise
        raise problem from exc


async def spool(chunks: AsyncIterable[bytes], declared: int | None,
                limit: int | None = None) -> BinaryIO:
    """An upload written to a temporary file (never held in memory), rewound; TooLarge as
    soon as it is past `limit` (MAX_IMPORT_BYTES), or at once when its declared length is."""
    limit = MAX_IMPORT_BYTES if limit is None else limit
    if declared is not None and declared > limit:
        raise TooLarge(limit)
    file = tempfile.TemporaryFile(prefix="stampede-upload-")
    try:
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise TooLarge(limit)
            file.write(chunk)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return file


def text_of(binary: BinaryIO, limit: int | None = None) -> TextIO:
    """A byte stream (a file, stdin, a spool) as the text `import_document` reads: UTF-8,
    and TooLarge past `limit` bytes (MAX_IMPORT_BYTES; a pipe has no size to check first)."""
    limit = MAX_IMPORT_BYTES if limit is None else limit
    return io.TextIOWrapper(io.BufferedReader(_Limited(binary, limit)), encoding="utf-8")


class _Limited(io.RawIOBase):
    def __init__(self, inner: BinaryIO, limit: int):
        self.inner, self.left, self.limit = inner, limit, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(min(len(buffer), self.left + 1))
        if len(data) > self.left:
            raise TooLarge(self.limit)
        self.left -= len(data)
        buffer[:len(data)] = data
        return len(data)


async def _stage(staging: aiosqlite.Connection, doc: _Document
                 ) -> tuple[int, store.RunOrigin, int]:
    origin, head = await asyncio.to_thread(_read_head, doc)
    run_id = await store.create_imported_run(
        staging, head.spec, status=head.status, created_at=head.created_at,
        started_at=head.started_at, finished_at=head.finished_at, error=head.error,
        origin=origin)
    seconds = _Seconds(doc)
    batches = seconds.batches()
    while (rows := await asyncio.to_thread(next, batches, None)) is not None:
        await store.append_rows(staging, run_id, rows)
    await store.store_imported_summary(staging, run_id, head.summary_with(seconds))
    return run_id, origin, seconds.count


@dataclass(frozen=True)
class _Head:
    spec: dict[str, Any]
    status: RunStatus
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    summary: dict[str, Any] | None
    was_active: bool

    def summary_with(self, seconds: _Seconds) -> dict[str, Any] | None:
        """The numbers merged from the seconds, the rest (backend, nodes, thresholds, ...)
        as the document has it; none if it had none (a run that failed before its first
        second), unless it was active (then like an interrupted run's: of its seconds)."""
        if self.summary is None and not self.was_active:
            return None
        return {**(self.summary or {}), **seconds.summary.to_dict()}


def _read_head(doc: _Document) -> tuple[store.RunOrigin, _Head]:
    """format, version, then origin and run (either order), up to `seconds`."""
    doc.start()
    seen: dict[str, Any] = {}
    while (name := doc.next_member()) is not None:
        if name in seen:
            raise TransferError(name, "appears twice")
        if len(seen) < 2 and name not in ("format", "version"):
            raise TransferError("format", 'the document must begin with "format" and '
                                '"version" (it is read as a stream: the version first)')
        if name == "seconds":
            doc.seconds_next = True
            break
        if name not in ("format", "version", "origin", "run"):
            raise TransferError(name, "unknown member")
        seen[name] = doc.value(name)
        if name in ("format", "version") and len(seen) == 2:
            _check_version(seen["format"], seen["version"])
    for name in ("origin", "run"):
        if name not in seen:
            raise TransferError(name, "is required" + (', before "seconds"' if doc.seconds_next
                                                       else ""))
    origin = _origin(seen["origin"])
    return origin, _run(seen["run"], origin)


def _check_version(fmt: Any, version: Any) -> None:
    if fmt != FORMAT:
        raise TransferError("format", f"{_short(fmt)} is not a Stampede run: expected "
                                      f'"{FORMAT}"')
    if type(version) is not int or version != VERSION:
        raise TransferError("version", f"{_short(version)} is not a version this dashboard "
                                       f"reads (it reads {VERSION}): update Stampede")


def _origin(raw: Any) -> store.RunOrigin:
    raw = _object(raw, "origin", _ORIGIN_KEYS)
    host = raw.get("host")
    if not isinstance(host, str) or not host.strip():
        raise TransferError("origin.host", "must be the name of the machine the run ran on")
    host = host.strip()
    if len(host) > MAX_HOST_CHARS or not host.isprintable():
        raise TransferError("origin.host", f"at most {MAX_HOST_CHARS} printable characters")
    source = raw.get("source", "dashboard")
    if source not in SOURCES:
        raise TransferError("origin.source", f"must be one of {', '.join(SOURCES)}")
    remote_id = raw.get("run_id")
    if remote_id is not None and not (type(remote_id) is int and 1 <= remote_id < 2**63):
        raise TransferError("origin.run_id", "must be a run id (a whole number from 1) or null")
    if raw.get("secrets", "masked") not in ("masked", "included"):
        raise TransferError("origin.secrets", "must be masked or included")
    return store.RunOrigin(host=host, source=source, remote_id=remote_id,
                           exported_at=_time(raw.get("exported_at"), "origin.exported_at",
                                             required=False),
                           imported_at=time.time())


def _run(raw: Any, origin: store.RunOrigin) -> _Head:
    raw = _object(raw, "run", _RUN_KEYS)
    spec = _spec(raw.get("spec"))
    try:
        status = RunStatus(raw.get("status"))
    except ValueError:
        raise TransferError("run.status", f"must be one of "
                                          f"{', '.join(s.value for s in RunStatus)}") from None
    error = raw.get("error")
    if error is not None and (not isinstance(error, str) or len(error) > MAX_ERROR_CHARS):
        raise TransferError("run.error", f"must be text of at most {MAX_ERROR_CHARS:,} "
                                         "characters, or null")
    summary = raw.get("summary")
    if summary is not None and not isinstance(summary, dict):
        raise TransferError("run.summary", "must be an object or null")
    created = _time(raw.get("created_at"), "run.created_at", required=True)
    started = _time(raw.get("started_at"), "run.started_at", required=False)
    finished = _time(raw.get("finished_at"), "run.finished_at", required=False)
    was_active = status.active
    if was_active:       # it never runs here: as a dashboard that stopped under it leaves it
        note = (f"it was {status.value} on {origin.host} when exported; an imported run "
                "keeps the seconds it had and never runs here")
        error = f"{error}; {note}" if error else note
        status = RunStatus.INTERRUPTED
        finished = finished or origin.exported_at or origin.imported_at
    return _Head(spec, status, created, started, finished, error, summary, was_active)


def _spec(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise TransferError("run.spec", "must be an object (RunSpec.to_dict)")
    unknown = sorted(set(raw) - _SPEC_KEYS)
    if unknown:
        raise TransferError(f"run.spec.{unknown[0]}", "unknown field")
    try:
        spec = parse_spec(raw, fd_limit=_ANY_FDS, cpus=_ANY_CPUS)
    except SpecError as exc:
        name, message = next(iter(exc.errors.items()))
        others = len(exc.errors) - 1
        raise TransferError(f"run.spec.{name}", message + (
            f" (and {others} more: {', '.join(list(exc.errors)[1:])})" if others else "")
        ) from None
    return spec.to_dict(with_data=True)


def _object(raw: Any, where: str, keys: frozenset[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise TransferError(where, "must be an object")
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise TransferError(f"{where}.{unknown[0]}", "unknown member")
    return raw


def _time(raw: Any, where: str, *, required: bool) -> float | None:
    if raw is None and not required:
        return None
    if type(raw) not in (int, float) or not 0 <= raw < 1e11:
        raise TransferError(where, "must be Unix seconds" + ("" if required else " or null"))
    return float(raw)


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Seconds:
    """The document's seconds, checked and decoded a batch at a time (in a thread), each
    stored as it came, with the minute and hour rows merged from them and the run's
    summary added up."""

    def __init__(self, doc: _Document):
        self.doc = doc
        self.rollups = Rollups()
        self.summary = Summary()
        self.count = 0
        self.last = 0

    def batches(self) -> Iterator[list[tuple[int, int, bytes]]]:
        rows: list[tuple[int, int, bytes]] = []
        elements = self.doc.elements("seconds") if self.doc.seconds_next else iter(())
        for index, raw in elements:
            second, blob, snap = self._second(index, raw)
            rows.append((1, second, blob))               # as it came: byte for byte
            rows += [(span, start, encode_record(merged))
                     for (span, start), merged in self.rollups.add(snap)[1:]]
            self.summary.add(snap)
            self.count += 1
            if self.count % IMPORT_BATCH == 0:
                yield rows
                rows = []
        rows += [(span, start, encode_record(merged))
                 for (span, start), merged in self.rollups.close()]
        if rows:
            yield rows

    def _second(self, index: int, raw: Any) -> tuple[int, bytes, Snapshot]:
        where = f"seconds[{index}]"
        if not (isinstance(raw, list) and len(raw) == 2 and isinstance(raw[1], str)):
            raise TransferError(where, 'must be [second, "base64 of its record"]')
        second, text = raw
        if type(second) is not int or not self.last < second <= MAX_SECOND:
            raise TransferError(where, f"{_short(second)}: seconds must be whole numbers from "
                                       f"1, increasing (the one before: {self.last})")
        self.last = second
        what = f"second {second}"
        if len(text) > MAX_RECORD_BYTES * 4 // 3 + 4:
            raise TransferError(where, f"{what}: a record above {MAX_RECORD_BYTES // 1024} KiB")
        try:
            blob = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TransferError(where, f"{what}: not base64 ({exc})") from None
        inflate = zlib.decompressobj()
        try:
            inflate.decompress(blob, MAX_RECORD_RAW)
        except zlib.error as exc:
            raise TransferError(where, f"{what}: a corrupt record ({exc})") from None
        if inflate.unconsumed_tail:
            raise TransferError(where, f"{what}: a record above "
                                       f"{MAX_RECORD_RAW >> 20} MiB decompressed")
        try:
            snap = decode_record(blob, second)
        except RecordError as exc:
            raise TransferError(where, f"{what}: a corrupt record ({exc})") from None
        problem = _second_problem(snap)
        if problem:
            raise TransferError(where, f"{what}: {problem}")
        return second, blob, snap


def _count(value: Any) -> bool:
    return type(value) is int and 0 <= value < 2**62


def _amount(value: Any, top: float = 1e15) -> bool:
    return type(value) in (int, float) and 0 <= value <= top


def _counter(counter: Any, keys: type) -> bool:
    return all(isinstance(k, keys) and _count(v) for k, v in counter.items())


def _second_problem(snap: Snapshot) -> str | None:
    """What a decoded record holds that no engine writes (its JSON can say anything)."""
    if not all(_count(n) for n in (snap.started, snap.completed, snap.ok, snap.failed,
                                   snap.errors, snap.bytes_received, snap.in_flight,
                                   snap.max_in_flight, snap.late_starts,
                                   snap.health.rss_bytes)):
        return "its counts must be whole numbers from 0"
    if not _amount(snap.elapsed_s, 3600.0):
        return "its length (elapsed_s) must be from 0 to 3600 seconds"
    if not (_amount(snap.health.loop_lag_ms) and _amount(snap.health.cpu_seconds)):
        return "its health figures must be numbers from 0"
    if not (_counter(snap.status_codes, int) and _counter(snap.error_classes, str)
            and all(isinstance(k, str) and isinstance(v, str)
                    for k, v in snap.error_samples.items())):
        return "its status codes and error classes must count from 0"
    for name, e in snap.endpoints.items():
        if not (isinstance(name, str) and all(_count(n) for n in (e.ok, e.failed, e.errors))
                and _counter(e.status_codes, int) and _counter(e.error_classes, str)):
            return f"endpoint {_short(name)}: its counts must be whole numbers from 0"
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)
# a value cut off at the end of what was read can only fail this close to the end (the
# longest literal, "false", or an escape \\uXXXX), or as an unterminated string
_CUT_MARGIN = 8


class _Document:
    """The document's top-level object read member by member, and an array member element
    by element, from a text stream: only the value being read is in memory (json's
    raw_decode on a buffer refilled as needed, doubling so that a big value costs linear
    time)."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.buf = ""
        self.pos = 0
        self.offset = 0           # characters before buf: positions in errors are the file's
        self.eof = False
        self.seconds_next = False     # the head was read up to "seconds": its array is next

    def start(self) -> None:
        if self._peek() != "{":
            raise TransferError("body", "must be a JSON object (the document)"
                                + ("" if self._peek() else ", and is empty"))
        self.pos += 1
        self.first = True

    def next_member(self) -> str | None:
        """The next member's name (its value is to be read next), or None at the end."""
        char = self._peek()
        if char == "}":
            self.pos += 1
            self._end()
            return None
        if not self.first:
            if char != ",":
                raise self._syntax("body", "expected , or } between members")
            self.pos += 1
        self.first = False
        if self._peek() != '"':
            raise self._syntax("body", "expected a member name")
        name = self.value("body")
        if self._peek() != ":":
            raise self._syntax(name, "expected : after the member name")
        self.pos += 1
        return name

    def elements(self, name: str) -> Iterator[tuple[int, Any]]:
        """(index, value) of the array member `name`, whose value comes next; then the
        document's end (`name` must be its last member)."""
        if self._peek() != "[":
            raise self._syntax(name, "must be an array")
        self.pos += 1
        index = 0
        while True:
            char = self._peek()
            if char == "]":
                self.pos += 1
                break
            if index:
                if char != ",":
                    raise self._syntax(f"{name}[{index}]", "expected , or ] between elements")
                self.pos += 1
            yield index, self.value(f"{name}[{index}]")
            index += 1
        char = self._peek()
        if char == ",":
            raise TransferError(name, f'must be the last member (the document is read as a '
                                      f'stream: format, version, origin, run, then {name})')
        if char != "}":
            raise self._syntax("body", "expected } at the end of the document")
        self.pos += 1
        self._end()

    def value(self, where: str) -> Any:
        if not self._peek():
            raise TransferError(where, "the document ends here (cut off?)")
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                cut = exc.pos >= len(self.buf) - _CUT_MARGIN or exc.msg.startswith(
                    "Unterminated string")
                if cut and self._more():
                    continue
                raise TransferError(where, f"not valid JSON: {exc.msg} at character "
                                           f"{self.offset + exc.pos}") from None
            except (ValueError, RecursionError) as exc:     # NaN, a 5,000-digit number
                raise TransferError(where, f"not valid JSON: {exc}") from None
            if end == len(self.buf) and self._more():        # 12 of 123? read on, then again
                continue
            self.pos = end
            return value

    def _end(self) -> None:
        if self._peek():
            raise self._syntax("body", "more after the end of the document")

    def _peek(self) -> str:
        """The next character that is not white space ("" at the end), not consumed."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf) or not self._more():
                return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def _more(self) -> bool:
        """Read on: at least as much again as is buffered from pos (so re-parsing a big
        value costs linear time). False at the end of the stream."""
        if self.eof:
            return False
        if self.pos > _READ_CHARS and self.pos * 2 > len(self.buf):      # drop what is read
            self.offset += self.pos
            self.buf, self.pos = self.buf[self.pos:], 0
        try:
            data = self.stream.read(max(_READ_CHARS, len(self.buf) - self.pos))
        except UnicodeDecodeError as exc:
            raise TransferError("body", f"not UTF-8 text ({exc.reason} at byte "
                                        f"{exc.start} of a chunk)") from None
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _syntax(self, where: str, message: str) -> TransferError:
        return TransferError(where, f"not valid JSON: {message} at character "
                                    f"{self.offset + self.pos}")
