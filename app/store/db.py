"""Open the SQLite database and bring its schema up to date.

The schema lives in migrations/NNNN_name.sql, applied in numeric order, each in
its own transaction and recorded in schema_migrations, so an older database
upgrades in place and a migration that fails leaves the database as it was. A
migration that SQL cannot express (re-encoding stored blobs) is NNNN_name.py with
`async def migrate(db)`, run the same way, in its transaction.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import re
import sqlite3
import time
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)
_INCREMENTAL = 2            # PRAGMA auto_vacuum's value for INCREMENTAL
PAGE_SIZE = 65536
_MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.(sql|py)$")
# SQL name of fold(): SQLite's LIKE, lower() and NOCASE fold ASCII letters only
FOLD_FUNCTION = "stampede_fold"


class MigrationError(RuntimeError):
    """A migration file could not be applied; its transaction was rolled back."""


class StorageError(RuntimeError):
    """The database file takes no more writes (full, read-only, failing disk); the message
    says so, names the file and what to do (see storage_error)."""


# SQLite's primary result codes (the low byte of an extended one) that are about the file,
# not the statement: every later write fails alike until someone acts on the disk
_CANNOT_WRITE = {
    sqlite3.SQLITE_FULL: ("the database is full", "free disk space on its drive"),
    sqlite3.SQLITE_READONLY: ("the database is read-only",
                              "make the file, its folder and its file system writable again"),
    sqlite3.SQLITE_IOERR: ("the database cannot be written", "check its disk"),
}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def default_migrations_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "migrations"


async def open_db(path: str | os.PathLike, *, migrations_dir: Path | None = None,
                  upto: int | None = None) -> aiosqlite.Connection:
    """Open (creating if needed) the database at `path` with its schema up to date.

    `upto` stops after that migration version (tests build older databases with it).
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # Autocommit (isolation_level=None): a statement outside an explicit BEGIN is
    # durable when it returns, and reads never leave a transaction — hence a WAL
    # snapshot that blocks checkpoints — open between awaits.
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        db.row_factory = aiosqlite.Row
        await _configure(db)
        await apply_migrations(db, migrations_dir or default_migrations_dir(), upto=upto)
        await _layout(db)
    except BaseException:
        await db.close()
        raise
    return db


async def _layout(db: aiosqlite.Connection) -> None:
    """An existing file gets the layout a new one is made with (_configure): 64 KiB
    pages and incremental vacuum, by one VACUUM out of WAL mode (page_size cannot change
    in WAL), which also compacts it (after migration 0005 dropped the old, 2 GB-a-day
    samples table). A VACUUM that cannot run (no room for its copy, another process
    using the file) leaves the file as it was, still usable."""
    page_size = (await db.execute_fetchall("PRAGMA page_size"))[0][0]
    mode = (await db.execute_fetchall("PRAGMA auto_vacuum"))[0][0]
    if mode == _INCREMENTAL and page_size == PAGE_SIZE:
        return
    try:
        await db.execute("PRAGMA journal_mode = DELETE")
        await db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        await db.execute(f"PRAGMA auto_vacuum = {_INCREMENTAL}")
        await db.execute("VACUUM")
    except sqlite3.OperationalError as exc:
        log.warning("could not VACUUM %s to 64 KiB pages and incremental vacuum (%s); it "
                    "stays usable as it is", await database_file(db), exc)
    finally:
        await db.execute("PRAGMA journal_mode = WAL")


async def free_pages(db: aiosqlite.Connection) -> None:
    """Give the pages of deleted rows back to the file system. executescript, which steps
    the statement to its end: execute() steps it once, and each step frees one page."""
    await db.executescript("PRAGMA incremental_vacuum")


async def size_bytes(db: aiosqlite.Connection) -> int:
    """The database's size: its pages in use and free (the WAL apart)."""
    rows = await db.execute_fetchall(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
    return rows[0][0]


async def _configure(db: aiosqlite.Connection) -> None:
    # busy_timeout first, so that switching to WAL waits for another process's lock.
    await db.execute("PRAGMA busy_timeout = 5000")
    if (await db.execute_fetchall("PRAGMA page_count"))[0][0] == 0:
        # A new file. 64 KiB pages: a stored second is 1-6 KB, and on 4 KiB pages each
        # went mostly to an overflow page of its own, 85 % empty (a 1.5 KB record took
        # 4.8 KB, measured); a 64 KiB page holds rows up to ~16 KB inline. Incremental
        # vacuum: deleted runs give their pages back to the file system (free_pages).
        await db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        await db.execute(f"PRAGMA auto_vacuum = {_INCREMENTAL}")
    # WAL: the pages read while a run writes every second, without blocking it.
    await db.execute("PRAGMA journal_mode = WAL")
    # A checkpoint every 4 MiB of WAL, as SQLite's default of 1,000 pages is on 4 KiB
    # pages: on 64 KiB pages that default would let the WAL file grow to 64 MiB.
    await db.execute(f"PRAGMA wal_autocheckpoint = {4 * 2**20 // PAGE_SIZE}")
    # NORMAL is durable across an application crash in WAL mode (only a power loss
    # can drop the last commits), at a fraction of FULL's fsyncs.
    await db.execute("PRAGMA synchronous = NORMAL")
    # Off by default in SQLite, per connection: needed for ON DELETE CASCADE.
    await db.execute("PRAGMA foreign_keys = ON")
    # Functions live per connection too; deterministic lets SQLite use them in indexes.
    await db.create_function(FOLD_FUNCTION, 1, fold, deterministic=True)


def fold(text: str | None) -> str | None:
    """Text as search compares it: Unicode case folding ("Ünïcödé" ~ "ÜNÏCÖDÉ", "ß" ~ "ss")
    after NFKC, so composed and decomposed accents, and width variants, match too."""
    if not isinstance(text, str):
        return text
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


async def storage_error(db: aiosqlite.Connection, exc: BaseException,
                        what: str) -> StorageError | None:
    """`exc` as a StorageError naming `db`'s file (see storage_problem), or None."""
    if _write_refusal(exc) is None:
        return None
    return storage_problem(exc, what, await database_file(db))


def storage_problem(exc: BaseException, what: str, path: str) -> StorageError | None:
    """`exc` (or an exception it was raised from) as a StorageError, if it means the database
    file takes no more writes: "the database is full: {what} in {path} (SQLite: …); free
    disk space on its drive". None for any other error.
    """
    cause = _write_refusal(exc)
    if cause is None:
        return None
    headline, remedy = _CANNOT_WRITE[cause.sqlite_errorcode & 0xFF]
    return StorageError(f"{headline}: {what} in {path} (SQLite: {cause}); {remedy}")


def _write_refusal(exc: BaseException | None) -> sqlite3.Error | None:
    while exc is not None:
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int):
            return exc if code & 0xFF in _CANNOT_WRITE else None
        exc = exc.__cause__
    return None


async def database_file(db: aiosqlite.Connection) -> str:
    """The path of the connection's database file (a read: it works on a full disk too)."""
    try:
        rows = await db.execute_fetchall("PRAGMA database_list")
    except (sqlite3.Error, ValueError):      # ValueError: the connection is closed
        return "the database file"
    return next((row[2] for row in rows if row[1] == "main" and row[2]), "the database file")


@asynccontextmanager
async def transaction(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """BEGIN IMMEDIATE … COMMIT, rolled back if the block raises.

    IMMEDIATE takes the write lock up front, so a concurrent writer waits on
    busy_timeout here instead of failing halfway through with SQLITE_BUSY.
    """
    await db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:   # some errors (disk full, I/O) already rolled back
            await db.execute("ROLLBACK")
        raise
    await db.execute("COMMIT")


def find_migrations(directory: Path) -> list[Migration]:
    """The NNNN_name.sql files of `directory`, in version order."""
    found = []
    for path in directory.iterdir():
        match = _MIGRATION_FILE.match(path.name)
        if match:
            found.append(Migration(int(match[1]), match[2], path))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version number in {directory}")
    return found


def split_statements(script: str) -> list[str]:
    """The statements of an SQL script, one string each.

    executescript() would COMMIT first, so a migration is run statement by
    statement inside its own transaction instead. A ';' only ends a statement
    where sqlite3.complete_statement agrees (not inside strings or trigger bodies).
    """
    statements, pending = [], ""
    *terminated, tail = script.split(";")
    for piece in terminated:
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    statements.append((pending + tail).strip())   # SQLite tolerates a missing last ';'
    return [s for s in statements if s.strip(";")]


async def applied_versions(db: aiosqlite.Connection) -> set[int]:
    rows = await db.execute_fetchall("SELECT version FROM schema_migrations")
    return {row[0] for row in rows}


async def apply_migrations(db: aiosqlite.Connection, directory: Path, *,
                           upto: int | None = None) -> list[int]:
    """Apply the migrations of `directory` not yet recorded; return their versions."""
    await db.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                     "version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)")
    done = await applied_versions(db)
    applied = []
    for migration in find_migrations(directory):
        if upto is not None and migration.version > upto:
            break
        if migration.version not in done and await _apply(db, migration):
            applied.append(migration.version)
    return applied


async def _apply(db: aiosqlite.Connection, migration: Migration) -> bool:
    if migration.path.suffix == ".py":
        statements, migrate = [], _load_migrate(migration)
    else:
        statements, migrate = split_statements(migration.path.read_text(encoding="utf-8")), None
    try:
        async with transaction(db):
            # Another process opening the same file may have applied it while we waited.
            if migration.version in await applied_versions(db):
                return False
            for sql in statements:
                await db.execute(sql)
            if migrate is not None:
                await migrate(db)
            await db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()))
    except Exception as exc:
        raise MigrationError(f"migration {migration.path.name} failed: {exc}") from exc
    return True


def _load_migrate(migration: Migration):
    spec = importlib.util.spec_from_file_location(f"stampede_migration_{migration.version}",
                                                  migration.path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.migrate
