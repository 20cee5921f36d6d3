"""One-click presets reproducing the article's experiments (pure data).

Each preset is one or more run specs (as parse_spec input) against the demo
target; several runs are queued one after another, ready to compare. The demo
target takes its per-request delay from the `delay=MIN-MAX` query parameter,
so a preset chooses the article's 0–3 s or 0–1 s without restarting it.
`{target}` is replaced with the demo target's base URL.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    description: str
    runs: tuple[dict[str, Any], ...]

    def specs(self, target: str) -> list[dict[str, Any]]:
        base = target.rstrip("/")
        return [dict(run, url=run["url"].replace("{target}", base)) for run in self.runs]


def _run(name: str, requests: int, concurrency: int, delay: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "url": "{target}/{i}?delay=" + delay, "requests": requests,
            "concurrency": concurrency, "timeout": 60, **extra}


PRESETS: tuple[Preset, ...] = (
    Preset("sync-vs-async", "Sync vs async, 100 requests",
           "The article's first experiment: 100 requests to a server that waits 0–3 s, "
           "first one after another with requests (about 2.5 min), then all at once with "
           "aiohttp (about 3 s). Both runs are queued; compare them when they end.",
           (_run("article: sync, 100 requests", 100, 1, "0-3", engine="sync"),
            _run("article: async, 100 requests", 100, 100, "0-3"))),
    Preset("async-1000", "1,000 requests at once",
           "1,000 concurrent requests, 0–3 s delay (the article: 7 s).",
           (_run("article: 1,000 requests", 1_000, 1_000, "0-3"),)),
    Preset("async-10000-limited", "10,000 requests, 1,000 in flight",
           "Where the article hit 'too many open files' and added a Semaphore(1000).",
           (_run("article: 10,000 requests, 1,000 in flight", 10_000, 1_000, "0-3"),)),
    Preset("async-100000", "100,000 requests",
           "100,000 requests, 1,000 in flight, 0–3 s delay (the article: 5 min).",
           (_run("article: 100,000 requests", 100_000, 1_000, "0-3"),)),
    Preset("async-1000000", "1,000,000 requests, 0–1 s delay",
           "The article's last run: 1,000,000 requests with a 0–1 s delay (52 min and "
           "5.2 GB there); here 10,000 in flight on the fast engine.",
           (_run("article: 1,000,000 requests", 1_000_000, 10_000, "0-1", engine="fast"),)),
)


def get_preset(key: str) -> Preset | None:
    return next((p for p in PRESETS if p.key == key), None)
