"""Write one synthetic, finished long run into a database, through the project's own code.

    python benchmarks/long_run.py --seconds 86400 --db /tmp/long.sqlite \
        [--endpoints 10] [--rate 20000] [--pool 600] [--seed 1] [--append]

Each second is a realistic open-model second at about `--rate` requests: latencies over
0-200 ms from a log-normal whose median drifts slowly (two sines, periods 6 h and 45 min:
12-52 ms, p99 up to ~190 ms), and now and then a spike of 3-30 s (a slow tail, more 503s,
late starts, loop lag); service time a little below latency (the wait for a slot: a second
histogram, as in a real open-model run); mostly 200, some 503 and 404, rare transport
errors; with `--endpoints K`, K names share the requests (Zipf-like weights, each with
its own latency scale), each with its own histogram.

It is stored as the dashboard stores a run (app/web/runs.py): open_db, create_run, every
second through Rollups and encoded, append_rows about 1,000 rows at a time, and
finish_run with the summary added up second by second (never all seconds in memory).
Prints one JSON line: run_id, seconds, db_mb and bytes_per_second, the file's size after
a WAL checkpoint over the number of seconds (every byte of the file: rows, rollups, index,
free pages; the database should hold nothing else). `--append` adds the run to an existing
database instead (a second run to compare a long run with: the dashboard refuses to compare a
run with itself); bytes_per_second is then the growth of the file.

Speed: drawing a 20,000-request second (numpy draws, binning, the endpoint split) takes
~2.5 ms, about twice what storing it takes (encode, rollups, summary, SQLite), so by
default `--pool 600` seconds are drawn up front along one period of the drift, plus 60
spike seconds, and reused: second t takes the pool second of its phase (give or take up
to 3, at random) with its `second` changed, or a spike second during a spike. The drift
over hours, the spikes and the bytes per second are those of fresh seconds (a pool second
is encoded anew each time). `--pool 0` draws every second afresh (~2.5x slower).
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.engine.histogram import Histogram  # noqa: E402
from app.engine.series import Rollups  # noqa: E402
from app.engine.snapshot import EndpointStats, Health, Snapshot, Summary  # noqa: E402
from app.spec import parse_spec  # noqa: E402
from app.status import RunStatus  # noqa: E402
from app.store import runs as store  # noqa: E402
from app.store.db import open_db  # noqa: E402
from app.store.series import encoded  # noqa: E402

BATCH_ROWS = 1000
DRIFT_PERIOD_S = 6 * 3600          # the slow sine of the median
WOBBLE_PERIOD_S = 45 * 60          # a faster, smaller one on top (divides the drift's)
MAX_MS = 200.0
SPIKE_EVERY_S = 900                # a spike starts on average once in this many seconds
SPIKE_POOL = 60
ERROR_CLASSES = (("request_timeout", "no complete response within the timeout of 30 s"),
                 ("disconnected", "ServerDisconnectedError: Server disconnected"))


@dataclasses.dataclass(frozen=True)
class Params:
    """What makes one second: its latency shape and how troubled it is."""
    median_ms: float
    sigma: float
    spike: float = 0.0             # 0: a calm second; up to 1: a bad one


def params_at(t: float) -> Params:
    """The calm second at time t (seconds into the run): the drifting median."""
    median = (32.0 + 15.0 * math.sin(2 * math.pi * t / DRIFT_PERIOD_S)
              + 5.0 * math.sin(2 * math.pi * t / WOBBLE_PERIOD_S))
    sigma = 0.5 + 0.06 * math.sin(2 * math.pi * t / (DRIFT_PERIOD_S / 3))
    return Params(median, sigma)


class Generator:
    """Draws seconds: vectorised, a few ms each at 20,000 requests."""

    def __init__(self, rate: int, endpoints: int, seed: int):
        self.rate = rate
        self.rng = np.random.default_rng(seed)
        self.names = [f"GET /api/e{k}" for k in range(endpoints)]
        if endpoints:
            weights = 1.0 / np.arange(1, endpoints + 1) ** 0.8        # a few busy ones
            self.weights = weights / weights.sum()
            # each endpoint a little faster or slower than the run's median
            self.scale = np.exp(self.rng.normal(0.0, 0.35, endpoints))

    def second(self, p: Params, second: int) -> Snapshot:
        rng, rate = self.rng, self.rate
        started = int(rng.normal(rate, rate * 0.002)) if rate > 100 else rate
        n = max(0, started + int(rng.normal(0, max(1.0, rate * 0.003))))
        errors = int(rng.poisson(0.02 + 30 * p.spike ** 2))
        errors = min(errors, n)
        answered = n - errors
        group = (rng.choice(len(self.names), size=answered, p=self.weights)
                 if self.names else None)
        median = p.median_ms if group is None else p.median_ms * self.scale[group]
        service = median * np.exp(rng.normal(0.0, p.sigma, answered))
        if p.spike:
            slow = rng.random(answered) < 0.05 + 0.25 * p.spike
            service[slow] += rng.uniform(20, 150 * p.spike + 20, int(slow.sum()))
        # open model: a request waits a little for its slot (latency counts from due time)
        wait = rng.exponential(0.08 + 20 * p.spike, answered)
        service = np.clip(service, 0.25, MAX_MS)
        latency = np.minimum(service + wait, MAX_MS)
        latency_ns = (latency * 1e6).astype(np.int64)
        service_ns = (service * 1e6).astype(np.int64)
        lat, svc = Histogram(), Histogram()
        lat.record_ns(latency_ns)
        svc.record_ns(service_ns)

        u = rng.random(answered)
        p503 = 0.002 + 0.08 * p.spike
        status = np.where(u < p503, 503, np.where(u < p503 + 0.0005, 404, 200))
        codes = Counter({int(c): int(k) for c, k in zip(*np.unique(status, return_counts=True))})
        failed = int((status >= 400).sum())
        err_classes: Counter[str] = Counter()
        err_group = self.rng.integers(0, len(ERROR_CLASSES), errors)
        for k in err_group.tolist():
            err_classes[ERROR_CLASSES[k][0]] += 1
        samples = {cls: msg for cls, msg in ERROR_CLASSES if cls in err_classes}
        mean_latency_s = float(latency.mean()) / 1000 if answered else 0.0
        in_flight = int(rate * mean_latency_s * rng.uniform(0.9, 1.1))
        snap = Snapshot(
            second=second, elapsed_s=float(rng.uniform(0.998, 1.002)), started=started,
            completed=n, ok=answered - failed, failed=failed, errors=errors,
            bytes_received=int((answered - failed) * 1024 + failed * 180),
            in_flight=in_flight, max_in_flight=int(in_flight * rng.uniform(1.05, 1.3)),
            late_starts=int(rng.poisson(rate * 0.05 * p.spike)) if p.spike else 0,
            status_codes=codes, error_classes=err_classes, error_samples=samples,
            latency=lat, service=svc,
            health=Health(rss_bytes=int(rng.normal(64, 2) * 2**20),
                          loop_lag_ms=float(rng.gamma(2.0, 0.6 + 20 * p.spike)),
                          cpu_seconds=float(rate * rng.normal(18e-6, 1e-6))))
        if self.names:
            snap.endpoints = self._endpoints(group, latency_ns, status, err_group)
        return snap

    def _endpoints(self, group: np.ndarray, latency_ns: np.ndarray, status: np.ndarray,
                   err_group: np.ndarray) -> dict[str, EndpointStats]:
        out: dict[str, EndpointStats] = {}
        hists = Histogram.by_group(latency_ns, group)
        k = len(self.names)
        # (endpoint, status) counts in one bincount
        keys = group * 1000 + status
        per_key = np.bincount(keys)
        for key in np.nonzero(per_key)[0].tolist():
            e, code = divmod(key, 1000)
            stats = out.setdefault(self.names[e], EndpointStats())
            stats.status_codes[code] += int(per_key[key])
            if code < 400:
                stats.ok += int(per_key[key])
            else:
                stats.failed += int(per_key[key])
        for e, hist in hists.items():
            out[self.names[e]].latency = hist
        for cls_index in err_group.tolist():
            e = int(self.rng.integers(0, k))
            stats = out.setdefault(self.names[e], EndpointStats())
            stats.errors += 1
            stats.error_classes[ERROR_CLASSES[cls_index][0]] += 1
        return out


class Seconds:
    """Second t's Snapshot, from the pool (see the docstring) or drawn afresh."""

    def __init__(self, gen: Generator, pool: int, seed: int):
        self.gen, self.pool = gen, pool
        self.rng = np.random.default_rng(seed + 1)
        self.spike_left, self.spike_level = 0, 0.0
        if pool:
            self.calm = [gen.second(params_at(i * DRIFT_PERIOD_S / pool), 0) for i in range(pool)]
            self.spikes = [gen.second(dataclasses.replace(params_at(i * 997.0),
                                                          spike=self._spike_of(i)), 0)
                           for i in range(SPIKE_POOL)]

    @staticmethod
    def _spike_of(index: int) -> float:
        """The spike level of the pool's spike second `index` (0.15 to 1)."""
        return 0.15 + 0.85 * index / (SPIKE_POOL - 1)

    def at(self, t: int) -> Snapshot:
        if self.spike_left == 0 and self.rng.random() < 1 / SPIKE_EVERY_S:
            self.spike_left = int(self.rng.integers(3, 31))
            self.spike_level = float(self.rng.uniform(0.15, 1.0))
        spiking = self.spike_left > 0
        self.spike_left -= spiking
        if not self.pool:
            p = params_at(t)
            return self.gen.second(dataclasses.replace(p, spike=self.spike_level) if spiking
                                   else p, t)
        if spiking:
            level = max(0.15, self.spike_level * self.rng.uniform(0.7, 1.0))
            base = self.spikes[round((level - 0.15) / 0.85 * (SPIKE_POOL - 1))]
        else:
            phase = (t % DRIFT_PERIOD_S) / DRIFT_PERIOD_S * self.pool
            base = self.calm[(int(phase) + int(self.rng.integers(-3, 4))) % self.pool]
        # shares the pool's histograms and counters: nothing below mutates a stored second
        return dataclasses.replace(base, second=t)


async def write_run(path: str, seconds: int, rate: int, endpoints: int, pool: int,
                    seed: int, closed: bool = False) -> dict:
    before = os.path.getsize(path) if os.path.exists(path) else 0
    targets = [{"name": f"GET /api/e{k}", "method": "GET",
                "url": f"http://127.0.0.1:8080/api/e{k}?id={{i}}"} for k in range(endpoints)]
    raw = {"name": f"synthetic {seconds:,} s at {rate:,} req/s"
                   + (f", {endpoints} endpoints" if endpoints else ""),
           "duration": seconds, "rate": rate, "concurrency": 5000, "engine": "fast",
           "timeout": 30}
    if targets:
        raw["targets"] = targets
    else:
        raw["url"] = "http://127.0.0.1:8080/api/item?id={i}"
    spec = parse_spec(raw, fd_limit=1 << 20)
    t0 = time.monotonic()
    source = Seconds(Generator(rate, endpoints, seed), pool, seed)
    pool_s = time.monotonic() - t0
    db = await open_db(path)
    try:
        record = await store.create_run(db, spec.to_dict(with_data=True),
                                        status=RunStatus.RUNNING)
        rollups, summary, batch = Rollups(), Summary(), []
        for t in range(1, seconds + 1):
            snap = source.at(t)
            if closed:          # the closed model: no wait for a slot, service = latency
                snap.service = snap.latency.copy()
            summary.add(snap)
            batch += encoded(rollups.add(snap))
            if len(batch) >= BATCH_ROWS:
                await store.append_rows(db, record.id, batch)
                batch = []
        batch += encoded(rollups.close())
        await store.append_rows(db, record.id, batch)
        await store.finish_run(db, record.id, RunStatus.FINISHED, summary.to_dict())
        await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await db.close()
    size = os.path.getsize(path)
    return {"run_id": record.id, "seconds": seconds, "rate": rate, "endpoints": endpoints,
            "db_mb": round(size / 1e6, 2),
            "bytes_per_second": round((size - before) / seconds, 1),
            "wall_s": round(time.monotonic() - t0, 1), "pool_s": round(pool_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, required=True)
    parser.add_argument("--db", required=True, help="a new file: the size is the whole file's")
    parser.add_argument("--endpoints", type=int, default=0)
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--pool", type=int, default=600,
                        help="pre-generated seconds to reuse (0: draw every second)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--append", action="store_true",
                        help="add the run to an existing database (a second run to compare)")
    parser.add_argument("--closed", action="store_true",
                        help="the closed model: service time equals latency (stored once)")
    args = parser.parse_args()
    if args.seconds < 1 or args.rate < 1 or args.endpoints < 0 or args.pool < 0:
        parser.error("--seconds and --rate must be positive, --endpoints and --pool not negative")
    if args.endpoints == 1:
        parser.error("--endpoints 1 is a run of one name: give 0 or at least 2")
    if Path(args.db).exists() and not args.append:
        parser.error(f"{args.db} exists: give a new file (its size is what is measured) "
                     "or --append")
    if args.append and not Path(args.db).exists():
        parser.error(f"--append: {args.db} does not exist")
    print(json.dumps(asyncio.run(write_run(args.db, args.seconds, args.rate, args.endpoints,
                                           args.pool, args.seed, args.closed))))


if __name__ == "__main__":
    main()
