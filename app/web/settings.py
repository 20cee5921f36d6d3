"""What the dashboard is told at start-up (from the command line or a test)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    db_path: str = "data/stampede.sqlite"
    token: str | None = None             # required by every request when set
    target_url: str = "http://127.0.0.1:8081/"
    start_target: bool = True
    target_port: int = 8081
    ws_queue_size: int = 64              # messages a WebSocket client may lag behind before it is dropped
    keep_days: float | None = None       # retention: ended runs older than this are deleted
    keep_runs: int | None = None         # retention: only this many newest ended runs are kept
    ray: str | None = None               # a Ray cluster's address: runs go there (issue #9)
