"""One-click presets reproducing the article's experiments (pure data).

Each preset is one or more run specs (as parse_spec input) against the demo
target; several runs are queued one after another, ready to compare. The demo
target takes its per-request delay from the `delay=MIN-MAX` query parameter,
so a preset chooses the article's 0–3 s or 0–1 s without restarting it.
`{target}` is replaced with the demo target's base URL, in a run's url and in the
urls of its targets.
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
        specs = []
        for run in self.runs:
            spec = dict(run)
            if "url" in spec:
                spec["url"] = spec["url"].replace("{target}", base)
            if "targets" in spec:
                spec["targets"] = [dict(t, url=t["url"].replace("{target}", base))
                                   for t in spec["targets"]]
                # as in a stored spec (RunSpec.to_dict): every run has a url to show
                spec.setdefault("url", spec["targets"][0]["url"])
            specs.append(spec)
        return specs


def _run(name: str, requests: int, concurrency: int, delay: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "url": "{target}/{i}?delay=" + delay, "requests": requests,
            "concurrency": concurrency, "timeout": 60, **extra}


# A small API as the demo target plays it (it answers any method and path): a login POST
# with a JSON body, a list, a slower search whose terms come from the data rows, an item
# by a random id. Weighted like real traffic (reads far more often than logins), seeded,
# so two runs send the same sequence; about 3,000 requests in 10 s at 20 in flight.
_MIXED_API_TARGETS = (
    {"name": "POST /login", "method": "POST", "url": "{target}/login?delay=0.02-0.06",
     "headers": [["Content-Type", "application/json"]],
     "body": '{{"user": "{user}", "password": "demo"}}', "weight": 1},
    {"name": "GET /items", "method": "GET", "url": "{target}/items?page={rand:1-20}&delay=0-0.05",
     "weight": 4},
    {"name": "GET /search", "method": "GET", "url": "{target}/search?q={term}&delay=0.1-0.3",
     "weight": 2},
    {"name": "GET /items/:id", "method": "GET", "url": "{target}/items/{rand:1-100}?delay=0-0.03",
     "weight": 3},
)
_MIXED_API_DATA = ("user,term\nalice,shoes\nbob,red hats\ncarol,lamps\ndave,desk\n"
                   "erin,chair\nfrank,socks\ngrace,mugs\nheidi,books\n")

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
    Preset("mixed-api", "Mixed API: four endpoints",
           "A login POST with a JSON body, a list, a slower search (terms from a CSV) and an "
           "item by id, weighted like real traffic: 3,000 requests, 20 in flight, about 10 s. "
           "The run page splits every number by endpoint.",
           ({"name": "Mixed API", "targets": list(_MIXED_API_TARGETS), "order": "weighted",
             "seed": 1, "data_csv": _MIXED_API_DATA, "data_order": "random",
             "requests": 3_000, "concurrency": 20, "timeout": 10},)),
)


def get_preset(key: str) -> Preset | None:
    return next((p for p in PRESETS if p.key == key), None)
