"""The Ray backend's costs (issue #9): the owner's merge, and CPU per request vs local.

    .venv/bin/python benchmarks/cluster.py --merge [--workers 1000] [--rate 5000]
    .venv/bin/python benchmarks/cluster.py --cpu [--rounds 3] [--duration 8] [--together]
    .venv/bin/python benchmarks/cluster.py --stream [--frames 2000] [--frame-kb 57]

`--merge`: what the run owner does each second with 1,000 workers' frames, on synthetic
but realistic frames (each worker's second: `--rate` requests binned into its latency and
service histograms, a few status codes, an error class now and then, health), pickled as
the wire carries them. Timed per second: pickle.loads + NodeBoard.add + Merger.add of
every frame, in a shuffled order, and Summary.add of the merged second (process CPU time,
and wall). Prints the median `merge_ms` (one core; goal <= 100), frame bytes per
worker-second and the bytes per second into the owner.

`--cpu`: CPU per request of the fast engine, 2 workers, on a 2-node local Ray cluster
(ray.cluster_utils.Cluster, loopback only) vs 2 local processes, the same spec in the same
script run, rounds interleaved (the order alternates). nginx on core 0, the owner, the
workers and the Ray daemons on core 1 (the affinity they inherit from this process).
Workers' CPU: the sum of their Snapshots' health.cpu_seconds (a Ray actor's includes its
process's Ray threads) over requests; goal <= 1.05x. The full figure adds the owner's CPU
(this process: the Ray driver's threads for Ray) and, for Ray, the daemons' (raylet,
gcs_server, the agents, idle workers: psutil), taken from the first merged second to the
last, so that start-up and teardown stay out. The actors run at nice 0 like the local
workers (`--ray-niceness`; Ray's own default is 15, which on a shared core loses its
share to anything else and with it the comparison).
Noise: the machine is shared. Each run says how much of core 1 others took (/proc/stat
less our processes' CPU), and of core 0 (less nginx's): a busier nginx core slows the
target, and fewer requests a wake-up cost more CPU each. A run waits (5 s at most) for
both cores to be quiet first, and a round where others took more than `--max-noise` of
either is redone (`--redo` times, within `--budget` seconds). `--together` runs both backends at once in each round instead, so that noise
falls on both alike (4 workers then share the core).

`--stream`: the Ray streaming generator's cost a frame on the owner's side: one actor
yields `--frames` byte strings of `--frame-kb` KB (and of 1 KB) as fast as it can, the
driver consumes them as backends/ray.py does (`await gen.__anext__()`, `await ref`).
Driver CPU a frame: the whole process (Ray's C++ threads too), and its main thread (the
one that holds the GIL, and that the merge runs on). Best of 3.

Each prints one JSON line last.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pickle
import random
import statistics
import sys
import time
from collections import Counter

# every Ray node and the driver on 127.0.0.1 (loopback only): before ray is imported
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, nginx_target  # noqa: E402

sys.path.insert(0, str(ROOT))
import numpy as np  # noqa: E402
import psutil  # noqa: E402

from app.engine.histogram import Histogram  # noqa: E402
from app.engine.merge import Merger  # noqa: E402
from app.engine.nodes import NodeBoard, Place  # noqa: E402
from app.engine.snapshot import Health, Snapshot, Summary  # noqa: E402

# --- merge ---------------------------------------------------------------------------


def worker_second(rng: np.random.Generator, second: int, rate: int) -> Snapshot:
    """One worker's share of one second, as worker_main sends it (recorder.py's shape):
    latencies log-normal around 2 ms with a 1 % tail to 200 ms; the service time a
    little shorter than the latency for a third of the requests (open model: some leave
    late); 0.5 % 503s, 0.1 % 404s, a timeout now and then."""
    n = max(1, int(rng.poisson(rate)))
    lat = rng.lognormal(np.log(2e6), 0.5, n)
    tail = rng.random(n) < 0.01
    lat[tail] = rng.uniform(10e6, 200e6, int(tail.sum()))
    lat = lat.astype(np.int64)
    service = lat - np.where(rng.random(n) < 0.33, rng.integers(0, 300_000, n), 0)
    errors = int(rng.random() < 0.2)
    r = rng.random(n - errors)          # the errors got no response: no status
    status = Counter({200: int((r >= 0.006).sum()), 503: int((r < 0.005).sum()),
                      404: int(((r >= 0.005) & (r < 0.006)).sum())})
    status = Counter({k: v for k, v in status.items() if v})
    latency, svc = Histogram(), Histogram()
    latency.record_ns(lat[:n - errors])
    svc.record_ns(service[:n - errors])
    failed = sum(v for k, v in status.items() if k >= 400)
    return Snapshot(
        second=second, elapsed_s=1.0 + float(rng.normal(0, 0.0005)), started=n, completed=n,
        ok=n - errors - failed, failed=failed, errors=errors, bytes_received=n * 1_150,
        in_flight=int(rng.integers(0, 50)), max_in_flight=50, late_starts=0,
        status_codes=status,
        error_classes=Counter({"timeout": errors}) if errors else Counter(),
        error_samples={"timeout": "TimeoutError: no response within 30 s"} if errors else {},
        latency=latency, service=svc,
        health=Health(rss_bytes=int(rng.integers(60, 70)) * 2**20,
                      loop_lag_ms=float(rng.uniform(0.1, 3.0)),
                      cpu_seconds=float(rng.uniform(0.5, 0.95))))


def frames_of(rng: np.random.Generator, second: int, workers: int, rate: int) -> list[bytes]:
    return [pickle.dumps(("snapshot", worker_second(rng, second, rate)),
                         pickle.HIGHEST_PROTOCOL) for _ in range(workers)]


def merge(args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(9)
    workers, per_node = args.workers, args.workers_per_node
    places = {w: Place(f"node{w // per_node:03d}", f"host{w // per_node:03d}")
              for w in range(workers)}
    nodes, merger, summary = NodeBoard(places), Merger(workers), Summary()
    order = list(range(workers))
    cpu_ms, wall_ms, sizes = [], [], []
    # a few distinct sets of frames (made untimed), each used for seconds in turn: a
    # second's numbers are in its frames, so each second gets its own copy of its set
    sets = [[pickle.loads(f)[1] for f in frames_of(rng, 1, workers, args.rate)]
            for _ in range(args.sets)]
    print(f"{workers} workers on {len(set(p.node for p in places.values()))} nodes, "
          f"~{args.rate:,} requests per worker-second, {args.seconds} seconds", flush=True)
    for second in range(1, args.seconds + 1):
        snaps = sets[second % len(sets)]
        frames = []
        for snap in snaps:
            snap.second = second
            frames.append(pickle.dumps(("snapshot", snap), pickle.HIGHEST_PROTOCOL))
        sizes.extend(len(f) for f in frames)
        random.Random(second).shuffle(order)
        c0, w0 = time.process_time(), time.perf_counter()
        out: list[Snapshot] = []
        for index in order:
            msg = pickle.loads(frames[index])
            nodes.add(index, msg[1])
            out += merger.add(index, msg[1])
        for snap in out:
            summary.add(snap)
        c1, w1 = time.process_time(), time.perf_counter()
        assert len(out) == 1 and out[0].second == second, "one second comes out per second"
        cpu_ms.append(1000 * (c1 - c0))
        wall_ms.append(1000 * (w1 - w0))
        print(f"  second {second:>2}: {cpu_ms[-1]:6.1f} ms CPU, {wall_ms[-1]:6.1f} ms wall, "
              f"{out[0].completed:,} requests merged", flush=True)
    frame = statistics.median(sizes)
    result = {
        "what": "merge", "workers": workers, "nodes": len(set(p.node for p in places.values())),
        "requests_per_worker_s": args.rate, "seconds": args.seconds,
        "merge_ms": round(statistics.median(cpu_ms), 1),
        "merge_ms_wall": round(statistics.median(wall_ms), 1),
        "merge_ms_range": [round(min(cpu_ms), 1), round(max(cpu_ms), 1)],
        "frame_bytes": int(frame),
        "owner_bytes_per_s": int(sum(sizes) / args.seconds),
        "goal_ms": 100, "met": statistics.median(cpu_ms) <= 100}
    if args.profile:
        result["profile"] = profile_parts(sets[0], places, workers)
    return result


def profile_parts(snaps: list[Snapshot], places: dict[int, Place], workers: int) -> dict:
    """The merge's parts timed apart, in the timed loop's order (ms of one second)."""
    frames = [pickle.dumps(("snapshot", s), pickle.HIGHEST_PROTOCOL) for s in snaps]
    nodes, merger, summary = NodeBoard(places), Merger(workers), Summary()
    parts = dict.fromkeys(("loads", "nodeboard", "merger", "summary"), 0)
    clock = time.perf_counter_ns
    out: list[Snapshot] = []
    for index, frame in enumerate(frames):
        t0 = clock()
        msg = pickle.loads(frame)
        t1 = clock()
        nodes.add(index, msg[1])
        t2 = clock()
        out += merger.add(index, msg[1])
        t3 = clock()
        parts["loads"] += t1 - t0
        parts["nodeboard"] += t2 - t1
        parts["merger"] += t3 - t2
    t0 = clock()
    for snap in out:
        summary.add(snap)
    parts["summary"] = clock() - t0
    return {f"{k}_ms": round(v / 1e6, 1) for k, v in parts.items()}


# --- a local Ray cluster -----------------------------------------------------------------


@contextlib.contextmanager
def ray_cluster(nodes: int = 2, niceness: int | None = None):
    """A local cluster of `nodes` nodes of 1 CPU each, this process its driver. Ray starts
    its worker processes (the actors) at nice 15 unless told otherwise (raylet's
    worker_niceness, read from RAY_worker_niceness when the raylet starts)."""
    if niceness is not None:
        os.environ["RAY_worker_niceness"] = str(niceness)
    import ray
    from ray.cluster_utils import Cluster

    from app.engine.backends import ray as ray_backend
    small = {"num_cpus": 1, "object_store_memory": 200 * 2**20}
    cluster = Cluster(initialize_head=True,
                      head_node_args={**small, "include_dashboard": False})
    try:
        for _ in range(nodes - 1):
            cluster.add_node(**small)
        cluster.wait_for_nodes()
        ray_backend.connect(cluster.address)
        yield ray_backend
    finally:
        ray.shutdown()
        cluster.shutdown()


def descendants_cpu(daemons: bool) -> tuple[dict[int, float], float]:
    """CPU seconds of this process's descendants: of those that are Ray's own (when
    `daemons`; not a local worker, nor a worker actor, whose CPU its snapshots carry),
    by pid; and of nginx, in all."""
    ray, nginx = {}, 0.0
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            name = p.name()
            if name == "nginx":
                t = p.cpu_times()
                nginx += t.user + t.system
                continue
            cmd = " ".join(p.cmdline())
            if not daemons or "app.engine.worker_main" in cmd or "WorkerActor" in cmd:
                continue
            t = p.cpu_times()
            ray[p.pid] = t.user + t.system
    return ray, nginx


# --- cpu -----------------------------------------------------------------------------------


def core_busy_s(core: int | None) -> float:
    """Seconds core `core` was busy since boot, whoever ran (/proc/stat), or 0."""
    if core is None:
        return 0.0
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(
                    int, line.split()[1:9])
                return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    return 0.0


def wait_quiet(core: int | None, until: float, busy_max: float = 0.1) -> None:
    """Wait (till the monotonic `until` at most) for a second in which our core and
    nginx's (0) were both busy less than busy_max (our Ray daemons idle take ~3 %)."""
    while core is not None:
        b0, t0 = (core_busy_s(core), core_busy_s(0)), time.monotonic()
        time.sleep(1.0)
        dt = time.monotonic() - t0
        if max(core_busy_s(core) - b0[0], core_busy_s(0) - b0[1]) / dt < busy_max \
                or time.monotonic() >= until:
            return


async def drain(run, daemons: bool, core: int | None) -> dict:
    """Iterate a started run to its end. Its workers' CPU a request over the run; the
    owner's (this process's) and the Ray daemons' over its steady seconds (the first
    merged second to the last: start-up and teardown stay out); and how much of our
    core, and of nginx's (core 0), others took meanwhile (the noise)."""
    seconds: list[Snapshot] = []
    sampling = 0.0                   # the owner's CPU spent here, looking at the others

    def look() -> dict:
        nonlocal sampling
        c = time.process_time()
        owner = c - sampling         # the owner's CPU less what looking cost
        ray, nginx = descendants_cpu(daemons)
        out = {"wall": time.perf_counter(), "owner": owner, "ray": ray, "nginx": nginx,
               "ours": core_busy_s(core), "nginx_core": core_busy_s(0 if core else None)}
        sampling += time.process_time() - c
        return out

    async for snap in run:
        seconds.append(snap)
        if len(seconds) == 1:
            first = look()
        else:
            last = look()
    assert len(seconds) >= 2, run.error
    steady = seconds[1:]
    steady_requests = max(sum(s.completed for s in steady), 1)
    total = run.summary
    requests = total.total.completed
    wall = max(last["wall"] - first["wall"], 1e-9)
    owner_s = last["owner"] - first["owner"]
    daemon_s = sum(cpu - first["ray"].get(pid, 0.0) for pid, cpu in last["ray"].items())
    ours_s = sum(s.health.cpu_seconds for s in steady) + owner_s + daemon_s
    noise = None
    if core:
        noise = (max(0.0, (last["ours"] - first["ours"] - ours_s) / wall),
                 max(0.0, (last["nginx_core"] - first["nginx_core"]
                           - (last["nginx"] - first["nginx"])) / wall))
    return {
        "outcome": run.outcome.value, "requests": requests,
        "errors": total.total.errors + total.total.failed,
        "rps": round(requests / max(total.duration_s, 1e-9)),
        "workers_us": 1e6 * total.cpu_seconds / max(requests, 1),
        "owner_us": 1e6 * owner_s / steady_requests,
        "daemons_us": 1e6 * daemon_s / steady_requests,
        "nginx_share": round((last["nginx"] - first["nginx"]) / wall, 3),
        "noise": noise, "nodes": len(run.result()["nodes"])}


async def one_run(spec, backend, daemons: bool, core: int | None) -> dict:
    from app.engine import start
    return await drain(await start(spec, backend), daemons, core)


async def both_at_once(spec, backends: dict, core: int | None) -> dict[str, dict]:
    """Both backends' runs at the same time on the same core: noise falls on both alike.
    Ray's starts first (it takes longer to start). The owner's CPU and the noise are
    the two runs' together here, so neither is reported."""
    from app.engine import start
    ray_run = await start(spec, backends["ray"]())
    local_run = await start(spec, backends["local"]())
    ray_r, local_r = await asyncio.gather(drain(ray_run, True, core),
                                          drain(local_run, False, core))
    for r in (ray_r, local_r):
        r["owner_us"], r["noise"] = 0.0, None
    return {"ray": ray_r, "local": local_r}


def cpu(args: argparse.Namespace) -> dict:
    from app.engine.backends.local import LocalBackend
    from app.spec import parse_spec

    began = time.monotonic()
    core = None
    if len(os.sched_getaffinity(0)) > 1 and 1 in os.sched_getaffinity(0):
        os.sched_setaffinity(0, {1})    # owner, workers, Ray: core 1 (inherited)
        core = 1
    rounds: list[dict[str, dict]] = []
    redone = 0
    with nginx_target(core=0) as url, ray_cluster(2, args.ray_niceness) as ray_backend:
        spec = parse_spec({"url": url, "duration": f"{args.duration:g}s",
                           "concurrency": args.concurrency, "workers": 2, "engine": "fast",
                           "rate": args.open_rate})
        backends = {"local": LocalBackend, "ray": ray_backend.RayBackend}
        print(f"nginx on core 0; owner, workers and Ray on core {core}; fast engine, 2 workers "
              f"a backend, {args.concurrency} connections, {args.duration:g} s, "
              f"{args.rounds} rounds, {'both at once' if args.together else 'interleaved'}; "
              f"Ray: {len(ray_backend.cluster_view()['nodes'])} nodes, actors at nice "
              f"{args.ray_niceness}", flush=True)
        asyncio.run(one_run(parse_spec({**spec.to_dict(), "duration": "2s"}),
                            ray_backend.RayBackend(), False, core))     # warm Ray's worker pool
        k = 0
        while len(rounds) < args.rounds:
            order = ["local", "ray"] if k % 2 == 0 else ["ray", "local"]
            k += 1
            if args.together:
                wait_quiet(core, min(time.monotonic() + 5, began + args.budget))
                row = asyncio.run(both_at_once(spec, backends, core))
            else:
                row = {}
                for name in order:
                    wait_quiet(core, min(time.monotonic() + 5, began + args.budget))
                    row[name] = asyncio.run(one_run(spec, backends[name](), name == "ray", core))
            for name in order:
                r = row[name]
                r["full_us"] = r["workers_us"] + r["owner_us"] + r["daemons_us"]
                noise = "" if r["noise"] is None else (
                    f"; others took {r['noise'][0]:.0%} of core 1, {r['noise'][1]:.0%} of core 0")
                print(f"  round {k} {name:<5} {r['requests']:>9,} requests "
                      f"({r['rps']:,}/s, {r['errors']} errors, {r['nodes']} node(s)): "
                      f"workers {r['workers_us']:.2f} µs/req, owner {r['owner_us']:.3f}, "
                      f"daemons {r['daemons_us']:.3f}, full {r['full_us']:.2f}; nginx "
                      f"{r['nginx_share']:.0%} busy{noise}",
                      flush=True)
            worst = max(max(r["noise"] or (0.0,)) for r in row.values())
            if worst > args.max_noise and redone < args.redo \
                    and time.monotonic() - began < args.budget:
                redone += 1
                print(f"  round {k} is redone: others took {worst:.0%} of a core "
                      f"(--max-noise {args.max_noise:.0%})", flush=True)
                continue
            rounds.append(row)
    ratios = [r["ray"]["workers_us"] / r["local"]["workers_us"] for r in rounds]
    full = [r["ray"]["full_us"] / r["local"]["full_us"] for r in rounds]
    med = {name: {key: round(statistics.median(r[name][key] for r in rounds), 3)
                  for key in ("workers_us", "owner_us", "daemons_us", "full_us", "rps")}
           for name in ("local", "ray")}
    out = {"what": "cpu", "mode": "together" if args.together else "interleaved",
           "rounds": args.rounds, "redone": redone,
           "duration_s": args.duration, "concurrency": args.concurrency, "workers": 2,
           "open_rate": args.open_rate, "ray_niceness": args.ray_niceness,
           "ratio_workers": [round(x, 3) for x in ratios],
           "ratio_full": [round(x, 3) for x in full],
           "median_ratio_workers": round(statistics.median(ratios), 3),
           "median_ratio_full": round(statistics.median(full), 3),
           "median": med,
           "errors": sum(r[n]["errors"] for r in rounds for n in r),
           "goal": 1.05, "met": statistics.median(ratios) <= 1.05,
           "wall_s": round(time.monotonic() - began, 1)}
    if not args.together:
        out["noise"] = [round(max(max(r[n]["noise"] or (0.0,)) for n in r), 3) for r in rounds]
    return out


# --- stream --------------------------------------------------------------------------------


def stream(args: argparse.Namespace) -> dict:
    with ray_cluster(2):
        import ray

        @ray.remote(num_cpus=1)
        class Source:
            async def run(self, n: int, size: int):
                blob = os.urandom(size)
                for _ in range(n):
                    yield blob

        async def consume(n: int, size: int) -> tuple[float, float, float, int]:
            actor = Source.remote()
            gen = actor.run.options(num_returns="streaming").remote(n, size)
            first = await (await gen.__anext__())
            c0, t0, w0, got = time.process_time(), time.thread_time(), time.perf_counter(), 1
            while True:
                try:
                    ref = await gen.__anext__()
                except StopAsyncIteration:
                    break
                blob = await ref
                got += 1
            c1, t1, w1 = time.process_time(), time.thread_time(), time.perf_counter()
            ray.kill(actor)
            assert got == n and len(first) == len(blob) == size
            return c1 - c0, t1 - t0, w1 - w0, got - 1

        asyncio.run(consume(50, 1024))                 # warm
        rows = {}
        for kb in sorted({1, args.frame_kb}):
            runs = [asyncio.run(consume(args.frames, kb * 1024)) for _ in range(3)]
            c, t, w, n = min(runs)
            rows[f"{kb}KB"] = {"owner_cpu_us_per_frame": round(1e6 * c / n, 1),
                               "main_thread_us_per_frame": round(1e6 * t / n, 1),
                               "frames_per_s_one_core": int(n / c) if c else None,
                               "wall_frames_per_s": int(n / w)}
            print(f"  {kb} KB frames: {rows[f'{kb}KB']}", flush=True)
    return {"what": "stream", "frames": args.frames, "per_size": rows}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    what = p.add_mutually_exclusive_group()
    what.add_argument("--merge", action="store_true", help="the owner's merge cost (default)")
    what.add_argument("--cpu", action="store_true", help="CPU per request: Ray vs local")
    what.add_argument("--stream", action="store_true", help="Ray's cost a frame, owner side")
    p.add_argument("--workers", type=int, default=1000)
    p.add_argument("--workers-per-node", type=int, default=10)
    p.add_argument("--rate", type=int, default=5000,
                   help="requests per worker-second (100 nodes x 50,000 / 1,000 workers)")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--sets", type=int, default=3)
    p.add_argument("--profile", action="store_true", help="--merge: time the parts apart")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--open-rate", type=float, default=None,
                   help="--cpu: the open model at this many requests/s in all (default: "
                        "closed, as fast as they go)")
    p.add_argument("--ray-niceness", type=int, default=0,
                   help="--cpu: the actors' nice (Ray's default is 15; the local workers run "
                        "at 0, and on a shared core nice 15 loses its share)")
    p.add_argument("--max-noise", type=float, default=0.15,
                   help="--cpu: a round where others took more of core 1 than this is redone")
    p.add_argument("--together", action="store_true",
                   help="--cpu: run both backends at once each round (noise hits both alike)")
    p.add_argument("--redo", type=int, default=2, help="--cpu: at most this many redone rounds")
    p.add_argument("--budget", type=float, default=100.0,
                   help="--cpu: no waiting for a quiet core, no round redone, after this "
                        "many seconds")
    p.add_argument("--frames", type=int, default=2000)
    p.add_argument("--frame-kb", type=int, default=57)
    a = p.parse_args()
    if a.cpu:
        result = cpu(a)
    elif a.stream:
        result = stream(a)
    else:
        result = merge(a)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
