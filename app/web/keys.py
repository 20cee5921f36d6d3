"""Every piece of application state, as typed keys (aiohttp's AppKey)."""
from __future__ import annotations

import aiosqlite
from aiohttp import web

from app.engine.backends import Cluster

from .hub import Hub
from .runs import RunManager
from .settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", aiosqlite.Connection)
MANAGER = web.AppKey("manager", RunManager)
HUB = web.AppKey("hub", Hub)
CLUSTER = web.AppKey("cluster", Cluster)      # where runs go: this machine or a Ray cluster
