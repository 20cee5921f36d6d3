"""Open the SQLite database and bring its schema up to date.

The schema lives in migrations/NNNN_name.sql, applied in numeric order, each in
its own transaction and recorded in schema_migrations, so an older database
upgrades in place and a migration that fails leaves the database as it was.
"""
from __future__ import annotations

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

_MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")
# SQL name of fold(): SQLite's LIKE, lower() and NOCASE fold ASCII letters only
FOLD_FUNCTION = "stampede_fold"


class MigrationError(RuntimeError):
    """A migration file could not be applied; its transaction was rolled back."""


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
    except BaseException:
        await db.close()
        raise
    return db


async def _configure(db: aiosqlite.Connection) -> None:
    # busy_timeout first, so that switching to WAL waits for another process's lock.
    await db.execute("PRAGMA busy_timeout = 5000")
    # WAL: the pages read while a run writes every second, without blocking it.
    await db.execute("PRAGMA journal_mode = WAL")
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
    statements = split_statements(migration.path.read_text(encoding="utf-8"))
    try:
        async with transaction(db):
            # Another process opening the same file may have applied it while we waited.
            if migration.version in await applied_versions(db):
                return False
            for sql in statements:
                await db.execute(sql)
            await db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()))
    except Exception as exc:
        raise MigrationError(f"migration {migration.path.name} failed: {exc}") from exc
    return True
