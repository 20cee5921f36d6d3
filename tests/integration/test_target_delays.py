"""Seeded delays are reproducible: separately started `run.py target` processes, any request
order, one worker or two give a URL the same Delay header; another seed gives other delays.

The Delay header is read, nothing is timed; ranges of at most 10 ms keep the sleeps short.
"""

from __future__ import annotations

import random
import socket
import statistics
import subprocess
from collections.abc import Iterator

import pytest
import requests

from app.target.delays import delay_for
from tests.conftest import free_port, start_process, stop_process, wait_for_port

pytestmark = pytest.mark.timeout(60)

TARGETS = [f"/{i}" for i in range(40)] + [f"/{i}?delay=0-0.01&status=201" for i in range(10)]


@pytest.fixture(scope="module")
def targets() -> Iterator[dict[str, str]]:
    """Four target processes, started together: name -> base URL."""
    flags = {
        "seed5-a": ["--seed", "5"],
        "seed5-b": ["--seed", "5"],
        "seed5-two-workers": ["--seed", "5", "--workers", "2"],
        "seed6": ["--seed", "6"],
    }
    ports = {name: free_port() for name in flags}
    processes = [
        start_process("target", "--port", str(ports[name]), "--delay", "0-0.01", *extra, stdout=subprocess.DEVNULL)
        for name, extra in flags.items()
    ]
    try:
        for process, port in zip(processes, ports.values()):
            wait_for_port(port, timeout=20, process=process)
        yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    finally:
        for process in processes:
            stop_process(process)


def delays_on_one_connection(base: str, order: list[str]) -> dict[str, str]:
    with requests.Session() as session:
        return {target: session.get(base + target, timeout=5).headers["Delay"] for target in order}


def delays_on_fresh_connections(base: str, order: list[str]) -> dict[str, str]:
    # a connection per request, so SO_REUSEPORT spreads them over the workers
    return {target: requests.get(base + target, timeout=5).headers["Delay"] for target in order}


def test_same_seed_same_delays_in_any_order_and_worker_count(targets: dict[str, str]) -> None:
    shuffled = TARGETS[:]
    random.Random(0).shuffle(shuffled)
    first = delays_on_one_connection(targets["seed5-a"], TARGETS)
    assert len(set(first.values())) > 5  # they vary from URL to URL
    assert delays_on_one_connection(targets["seed5-b"], TARGETS[::-1]) == first
    assert delays_on_fresh_connections(targets["seed5-two-workers"], shuffled) == first
    # and they are the documented function of seed and request target
    assert first == {target: f"{delay_for(5, target.encode(), 0.0, 0.01):.3f}" for target in TARGETS}


def test_another_seed_gives_other_delays(targets: dict[str, str]) -> None:
    five = delays_on_one_connection(targets["seed5-a"], TARGETS)
    six = delays_on_one_connection(targets["seed6"], TARGETS)
    assert sum(five[target] != six[target] for target in TARGETS) > len(TARGETS) // 2


def test_delays_spread_over_the_range() -> None:
    # The mapping itself, for 1,000 URLs of the article's 0-3 s: computed, not slept.
    delays = [delay_for(1, f"/{i}?delay=0-3".encode(), 0.0, 3.0) for i in range(1000)]
    assert min(delays) < 0.1 and max(delays) > 2.9
    assert abs(statistics.fmean(delays) - 1.5) < 0.2
    assert all(sum(k <= d < k + 0.5 for d in delays) > 100 for k in (0, 0.5, 1, 1.5, 2, 2.5))


def test_the_server_spreads_1000_urls_over_the_range(targets: dict[str, str]) -> None:
    # Pipelined on one connection (0-10 ms each): the headers the server sends, not timings.
    port = int(targets["seed6"].rsplit(":", 1)[1])
    count = 1000
    pipeline = b"".join(b"GET /%d?delay=0-0.01 HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(count))
    delays = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, sock.makefile("rb") as reader:
        sock.sendall(pipeline)
        while len(delays) < count:
            line = reader.readline()
            assert line, "connection closed early"
            if line.startswith(b"Delay: "):
                delays.append(float(line[7:]))
            elif line.startswith(b"Content-Length: "):
                length = int(line[16:])
            elif line == b"\r\n":
                reader.read(length)
    assert min(delays) == 0.0 and max(delays) >= 0.009
    assert abs(statistics.fmean(delays) - 0.005) < 0.0007
