"""create_app(settings): the dashboard as an aiohttp Application.

Resources live in cleanup contexts, opened in order at start-up and closed in
reverse order at shutdown: the database (runs a previous dashboard left active
become `interrupted`, with the summary of the seconds they stored), the live hub,
then the RunManager. Shutdown (on_shutdown, so before aiohttp waits for open
WebSockets) stops the active run and waits until its last second and summary are stored.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from app.engine.backends import Cluster
from app.engine.backends.local import ThisMachine
from app.store import db as store_db
from app.store import runs as store
from app.store import series as timeline
from app.workload import MAX_DATA_BYTES, MAX_HAR_BYTES

from . import pages
from .api import json_errors
from .hub import Hub
from .keys import CLUSTER, DB, HUB, MANAGER, SETTINGS
from .routes import add_routes
from .runs import RunManager
from .security import setup_security
from .settings import Settings

ROOT = Path(__file__).resolve().parents[2]
RETENTION_EVERY_S = 60.0
log = logging.getLogger(__name__)
# The largest workload a run may carry, a 50 MiB HAR with a 100 MiB CSV, in one post,
# plus a quarter for how it travels: JSON escapes quotes and backslashes (a HAR is full of
# them), a form adds its other fields and multipart boundaries. A bigger post is a 413.
MAX_REQUEST_BYTES = (MAX_HAR_BYTES + MAX_DATA_BYTES) * 5 // 4


def create_app(settings: Settings, cluster: Cluster | None = None) -> web.Application:
    """`cluster`: where runs go, joined already (serve.py joins a --ray one before the
    dashboard listens); this machine if None."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[SETTINGS] = settings
    app[CLUSTER] = cluster or ThisMachine()
    setup_security(app)                 # first: nothing runs for a request it refuses
    app.middlewares.append(json_errors)
    app.middlewares.append(pages.html_errors)
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(str(ROOT / "templates")),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True))
    if hasattr(pages, "setup_jinja"):
        pages.setup_jinja(env)
    add_routes(app)
    app.router.add_static("/static", ROOT / "static", name="static")
    app.on_startup.append(_compile_templates)
    app.cleanup_ctx.extend((_database, _hub, _manager, _retention))
    app.on_shutdown.append(_stop_runs)
    return app


async def _compile_templates(app: web.Application) -> None:
    """Compile every template now: a first page view mid-run would otherwise hold the
    event loop for the compile (100-200 ms)."""
    env = aiohttp_jinja2.get_env(app)
    for name in env.list_templates(extensions=("html",)):
        env.get_template(name)


async def _database(app: web.Application) -> AsyncIterator[None]:
    db = await store_db.open_db(app[SETTINGS].db_path)
    try:
        interrupted = await store.interrupt_active(db)
        await timeline.close_interrupted(db, interrupted)
    except BaseException:
        # closed, or its thread keeps the process alive after the failed start (a full
        # disk here made the dashboard hang, deaf to SIGTERM)
        await db.close()
        raise
    app[DB] = db
    yield
    await db.close()


async def _retention(app: web.Application) -> AsyncIterator[None]:
    """--keep-days / --keep-runs: ended runs past them are deleted at start-up, then
    every RETENTION_EVERY_S (a run that ends is deleted by the next pass, not at once)."""
    settings = app[SETTINGS]
    if settings.keep_days is None and settings.keep_runs is None:
        yield
        return

    async def prune_now() -> None:
        deleted = await store.prune(app[DB], keep_days=settings.keep_days,
                                    keep_runs=settings.keep_runs)
        if deleted:
            log.info("retention: deleted run(s) %s", ", ".join(map(str, deleted)))

    async def every_while() -> None:
        while True:
            await asyncio.sleep(RETENTION_EVERY_S)
            try:
                await prune_now()
            except Exception:        # a full disk, a locked file: try again next time
                log.exception("retention")

    await prune_now()
    task = asyncio.create_task(every_while(), name="stampede-retention")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _hub(app: web.Application) -> AsyncIterator[None]:
    app[HUB] = Hub(queue_size=app[SETTINGS].ws_queue_size)
    yield


async def _manager(app: web.Application) -> AsyncIterator[None]:
    manager = RunManager(app[DB], app[HUB], app[CLUSTER])
    app[MANAGER] = manager
    yield
    await manager.shutdown()        # already done by _stop_runs unless startup failed later


async def _stop_runs(app: web.Application) -> None:
    """At shutdown, before aiohttp waits for open requests: stopping the run is what ends
    its WebSocket handlers (they send `done` and close)."""
    if MANAGER in app:
        await app[MANAGER].shutdown()
