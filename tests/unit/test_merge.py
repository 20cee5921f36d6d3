"""The owner's merge of workers' seconds (engine/merge.py) and its per-node figures
(engine/nodes.py): exact whatever order the shares come in."""
from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from app.engine.histogram import Histogram
from app.engine.merge import Merger
from app.engine.nodes import NodeBoard, Place
from app.engine.snapshot import Health, Snapshot


def share(second: int, worker: int, n: int, *, cpu: float = 0.1, lag: float = 1.0) -> Snapshot:
    hist = Histogram()
    hist.record_ns(np.arange(1, n + 1, dtype=np.int64) * 1_000_000 * (worker + 1))
    return Snapshot(second=second, elapsed_s=1.0, started=n, completed=n, ok=n,
                    status_codes=Counter({200: n}), latency=hist, service=hist.copy(),
                    health=Health(rss_bytes=50 * 2**20, loop_lag_ms=lag, cpu_seconds=cpu))


def test_a_second_comes_out_once_every_worker_sent_it_and_is_their_exact_sum():
    merger = Merger(3)
    assert merger.add(0, share(1, 0, 10)) == []
    assert merger.add(1, share(1, 1, 20)) == []
    waiting = merger.waiting()
    assert waiting is not None
    partial, missing = waiting
    assert (partial.second, partial.completed, missing) == (1, 30, [2])
    out = merger.add(2, share(1, 2, 30))
    assert [(s.second, s.completed, s.latency.total) for s in out] == [(1, 60, 60)]
    assert merger.waiting() is None


def test_late_shares_in_any_order_give_the_same_exact_seconds():
    expected = {k: sum(5 * w + k for w in range(4)) for k in range(1, 6)}
    rng = random.Random(7)
    for _ in range(20):
        # each worker's frames stay in order (one stream each); the workers interleave
        # (fresh shares each time: the merge adds into the first share of a second)
        streams = {w: [share(k, w, 5 * w + k) for k in range(1, 6)] for w in range(4)}
        merger, out = Merger(4), []
        while any(streams.values()):
            w = rng.choice([w for w, rest in streams.items() if rest])
            out += merger.add(w, streams[w].pop(0))
        assert {s.second: s.completed for s in out} == expected
        assert [s.second for s in out] == [1, 2, 3, 4, 5]


def test_an_ended_worker_holds_nothing_back_and_its_later_frames_are_dropped():
    merger = Merger(2)
    merger.add(0, share(1, 0, 1))
    merger.add(0, share(2, 0, 2))
    assert merger.behind() == {0: 0, 1: 2}
    out = merger.end(1)                       # lost before it sent anything
    assert [s.second for s in out] == [1, 2] and merger.live == [0]
    assert merger.add(1, share(3, 1, 9)) == []
    assert [s.completed for s in merger.add(0, share(3, 0, 3))] == [3]


def test_a_frame_for_a_second_already_out_is_refused():
    merger = Merger(1)
    merger.add(0, share(1, 0, 1))
    with pytest.raises(ValueError):
        merger.add(0, share(1, 0, 1))


def test_nodes_add_up_and_the_saturated_node_is_the_bottleneck():
    board = NodeBoard({0: Place("a", "host-a"), 1: Place("a", "host-a"), 2: Place("b", "host-b")})
    for k in (1, 2):
        board.add(0, share(k, 0, 100, cpu=0.2))
        board.add(1, share(k, 1, 100, cpu=0.2))
        board.add(2, share(k, 2, 300, cpu=0.97, lag=30.0))
    view = {n["id"]: n for n in board.view()}
    assert view["a"]["workers"] == 2 and view["a"]["rps"] == 200.0
    assert view["a"]["cpu_percent"] == 40.0 and view["b"]["cpu_percent"] == 97.0
    assert view["b"]["busiest"] and view["b"]["bottleneck"] and not view["a"]["busiest"]
    summary = board.summary()
    assert summary["a"] == {"host": "host-a", "workers": 2, "requests": 400,
                            "cpu_percent": 40.0, "peak_rss_mb": 100.0, "max_loop_lag_ms": 1.0,
                            "lost_workers": 0}
    assert summary["b"]["requests"] == 600 and summary["b"]["max_loop_lag_ms"] == 30.0
    board.ended(2, lost=True)                # lost: no longer the bottleneck, nor running
    board.ended(0)                           # done: not lost
    assert board.summary()["b"]["lost_workers"] == 1 and board.summary()["a"]["lost_workers"] == 0
    view = {n["id"]: n for n in board.view()}
    assert view["b"]["alive"] == 0 and not view["b"]["bottleneck"] and view["a"]["busiest"]
    assert view["a"]["alive"] == 1
    assert not view["a"]["bottleneck"]       # 20 % of its cores: busiest, not saturated
