"""The demo target over real sockets: each server runs on its own uvloop in a background thread."""

from __future__ import annotations

import asyncio
import http.client
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import uvloop

from app.target.delays import delay_for
from app.target.server import TargetConfig, parse_delay, start_target

pytestmark = pytest.mark.timeout(30)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


StartTarget = Callable[[TargetConfig], str]


@pytest.fixture
def start_server() -> Iterator[StartTarget]:
    """Start targets on a uvloop thread; fail the test if the loop reported any exception."""
    loop = uvloop.new_event_loop()
    loop_errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    servers: list[asyncio.AbstractServer] = []

    def start(config: TargetConfig) -> str:
        server = asyncio.run_coroutine_threadsafe(start_target(config), loop).result(5)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"  # type: ignore[attr-defined]

    yield start

    async def close_all() -> None:
        for server in servers:
            server.close()
            await server.wait_closed()

    asyncio.run_coroutine_threadsafe(close_all(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()
    assert loop_errors == []


@pytest.fixture
def base_url(start_server: StartTarget) -> str:
    return start_server(TargetConfig(port=0, delay_max=0.01))


def connect(url: str) -> socket.socket:
    port = int(url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def request_bytes(target: str = "/", method: str = "GET", version: str = "1.1", headers: str = "") -> bytes:
    return f"{method} {target} HTTP/{version}\r\nHost: test\r\n{headers}\r\n".encode()


def read_response(reader: Any, method: str = "GET") -> Response:
    status_line = reader.readline().decode()
    assert status_line, "connection closed before a response"
    _, status, reason = status_line.rstrip("\r\n").split(" ", 2)
    headers: dict[str, str] = {}
    while (line := reader.readline().decode()) not in ("\r\n", ""):
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    length = 0 if method == "HEAD" else int(headers.get("content-length", "0"))
    return Response(int(status), reason, headers, reader.read(length))


def is_closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(5)
    return sock.recv(1) == b""


# --- the seeded delays (across processes and workers: test_target_delays.py) ---


def test_a_delay_depends_on_seed_and_request_target_only(start_server: StartTarget) -> None:
    config = TargetConfig(port=0, delay_min=0.0, delay_max=0.01, seed=7)
    targets = [f"/{i}" for i in range(20)] + ["/?delay=0.002-0.004", "/x?delay=0.005", "/x?size=3"]
    expected = {target: f"{delay_for(7, target.encode(), *_range_of(target)):.3f}" for target in targets}
    assert len(set(expected.values())) > 5  # the delays do vary
    first, second = start_server(config), start_server(config)
    # a rejected request in between changes nothing (it used to skip a draw of a shared rng)
    for url, order in ((first, targets), (second, targets[::-1] + ["/?delay=bad"] + targets)):
        with requests.Session() as session:
            responses = [(target, session.get(url + target, timeout=5)) for target in order]
        assert [(t, r.headers.get("Delay")) for t, r in responses] == [(t, expected.get(t)) for t in order]
    assert responses[len(targets)][1].status_code == 400


def _range_of(target: str) -> tuple[float, float]:
    if "delay=" not in target:
        return 0.0, 0.01
    return parse_delay(target.split("delay=", 1)[1])


# --- connections ---


def test_keep_alive_answers_many_requests_then_honours_connection_close(base_url: str) -> None:
    with connect(base_url) as sock, sock.makefile("rb") as reader:
        for index in range(5):
            sock.sendall(request_bytes(f"/n{index}"))
            response = read_response(reader)
            assert response.status == 200 and "connection" not in response.headers
        sock.sendall(request_bytes(headers="Connection: close\r\n"))
        response = read_response(reader)
        assert response.status == 200
        assert response.headers["connection"] == "close"
        assert is_closed_by_server(sock)


def test_http_client_reuses_one_connection(base_url: str) -> None:
    connection = http.client.HTTPConnection(base_url.removeprefix("http://"), timeout=5)
    local_ports = set()
    for _ in range(5):
        connection.request("GET", "/")  # http.client silently reconnects if the server hung up
        response = connection.getresponse()
        assert response.status == 200 and len(response.read()) == 1000
        local_ports.add(connection.sock.getsockname()[1])
    connection.close()
    assert len(local_ports) == 1


def test_http_10_closes_unless_keep_alive(base_url: str) -> None:
    with connect(base_url) as sock, sock.makefile("rb") as reader:
        sock.sendall(request_bytes(version="1.0"))
        assert read_response(reader).headers["connection"] == "close"
        assert is_closed_by_server(sock)
    with connect(base_url) as sock, sock.makefile("rb") as reader:
        for _ in range(3):
            sock.sendall(request_bytes(version="1.0", headers="Connection: keep-alive\r\n"))
            response = read_response(reader)
            assert response.status == 200 and response.headers["connection"] == "keep-alive"


def test_pipelined_requests_are_answered_in_order(base_url: str) -> None:
    pipeline = b"".join(request_bytes(f"/?delay={delay}") for delay in ("0.3", "0", "0.1", "0"))
    started = time.monotonic()
    with connect(base_url) as sock, sock.makefile("rb") as reader:
        sock.sendall(pipeline)
        delays = [read_response(reader).headers["delay"] for _ in range(4)]
    assert delays == ["0.300", "0.000", "0.100", "0.000"]
    assert time.monotonic() - started < 3  # delays overlap; they are not served one after another


def test_request_body_is_read_and_discarded(base_url: str) -> None:
    upload = b"x" * 100_000
    with connect(base_url) as sock, sock.makefile("rb") as reader:
        head = request_bytes("/up", method="POST", headers=f"Content-Length: {len(upload)}\r\n")
        sock.sendall(head + upload + request_bytes("/after"))
        assert [read_response(reader).status for _ in range(2)] == [200, 200]


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_client_gone_while_response_pending_is_quiet(base_url: str, reset: bool) -> None:
    for _ in range(20):
        with connect(base_url) as sock:
            if reset:  # linger 0: close() sends RST, so the server sees connection_lost at once
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(request_bytes("/?delay=0.2") * 3)
    time.sleep(0.4)  # the timers would have fired by now; the fixture checks nothing was reported
    assert requests.get(base_url, timeout=5).status_code == 200


# --- bodies, statuses, overrides ---


def test_default_body_is_1000_bytes_of_text(base_url: str) -> None:
    response = requests.get(base_url + "/any/path", timeout=5)
    assert response.status_code == 200
    assert len(response.content) == 1000 == int(response.headers["Content-Length"])
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers["Server"] == "stampede-target"
    assert 0.0 <= float(response.headers["Delay"]) <= 0.01


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_any_method_is_answered(base_url: str, method: str) -> None:
    assert requests.request(method, base_url + "/x", data=b"abc", timeout=5).status_code == 200


def test_head_has_length_but_no_body(base_url: str) -> None:
    with connect(base_url) as sock, sock.makefile("rb") as reader:
        sock.sendall(request_bytes(method="HEAD") + request_bytes("/?size=5"))
        head = read_response(reader, method="HEAD")
        assert head.headers["content-length"] == "1000" and head.body == b""
        assert read_response(reader).body == b"01234"  # the next response starts right after


@pytest.mark.parametrize("size", [0, 1, 10, 70_000])
def test_size_override(base_url: str, size: int) -> None:
    response = requests.get(f"{base_url}/?size={size}", timeout=5)
    assert len(response.content) == size == int(response.headers["Content-Length"])


def test_body_file_is_served_as_html(start_server: StartTarget, tmp_path: Path) -> None:
    page = tmp_path / "frankenstein.html"
    content = ("<html><body>" + "It was on a dreary night of November. " * 2000 + "</body></html>").encode()
    page.write_bytes(content)
    url = start_server(TargetConfig(port=0, delay_max=0, body_file=str(page)))
    response = requests.get(url, timeout=5)
    assert response.content == content
    assert response.headers["Content-Type"] == "text/html"
    assert len(requests.get(url + "/?size=7", timeout=5).content) == 7


def test_status_override(base_url: str) -> None:
    response = requests.get(base_url + "/?status=503", timeout=5)
    assert (response.status_code, response.reason) == (503, "Service Unavailable")
    assert len(response.content) == 1000
    no_content = requests.get(base_url + "/?status=204", timeout=5)
    assert no_content.status_code == 204 and no_content.content == b""


def test_delay_override(base_url: str) -> None:
    assert requests.get(base_url + "/?delay=0.05", timeout=5).headers["Delay"] == "0.050"
    started = time.monotonic()
    ranged = requests.get(base_url + "/?delay=0.2-0.25&status=201", timeout=5)
    assert time.monotonic() - started >= 0.19
    assert ranged.status_code == 201 and 0.2 <= float(ranged.headers["Delay"]) <= 0.25


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("delay=abc", "delay"),
        ("delay=3-1", "delay"),
        ("delay=-1", "delay"),
        ("delay=", "delay"),
        ("status=99", "status"),
        ("status=abc", "status"),
        ("status=600", "status"),
        ("size=-1", "size"),
        ("size=1k", "size"),
        ("size=999999999999", "size"),
    ],
)
def test_bad_override_is_400_naming_the_parameter(base_url: str, query: str, parameter: str) -> None:
    with requests.Session() as session:
        response = session.get(f"{base_url}/?{query}", timeout=5)
        assert response.status_code == 400
        assert response.text.startswith(f"bad {parameter}")
        assert session.get(base_url, timeout=5).status_code == 200  # the connection stays usable


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"],
)
def test_invalid_http_gets_400_and_close(base_url: str, garbage: bytes) -> None:
    with connect(base_url) as sock, sock.makefile("rb") as reader:
        sock.sendall(garbage)
        response = read_response(reader)
        assert response.status == 400 and response.headers["connection"] == "close"
        assert is_closed_by_server(sock)


def test_valid_requests_before_garbage_are_still_answered(base_url: str) -> None:
    with connect(base_url) as sock, sock.makefile("rb") as reader:
        sock.sendall(request_bytes("/?delay=0.1") + b"\x00garbage\r\n\r\n")
        assert read_response(reader).status == 200
        assert read_response(reader).status == 400
        assert is_closed_by_server(sock)


def test_upgrade_request_is_answered_plainly_then_closed(base_url: str) -> None:
    with connect(base_url) as sock, sock.makefile("rb") as reader:
        sock.sendall(request_bytes(headers="Connection: Upgrade\r\nUpgrade: websocket\r\n") + b"\x81\x00")
        assert read_response(reader).status == 200
        assert is_closed_by_server(sock)


# --- configuration ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0-3", (0.0, 3.0)), ("0.5-1.5", (0.5, 1.5)), ("2", (2.0, 2.0)), (" 1 - 2 ", (1.0, 2.0)), ("1e-3", (0.001, 0.001))],
)
def test_parse_delay_accepts(text: str, expected: tuple[float, float]) -> None:
    assert parse_delay(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a number"),
        ("abc", "not a number"),
        ("1-x", "not a number"),
        ("1-2-3", "not a number"),
        ("-1", "negative"),
        ("0--1", "negative"),
        ("3-1", "greater than"),
        ("inf", "finite"),
        ("nan", "finite"),
    ],
)
def test_parse_delay_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_delay(text)


@pytest.mark.parametrize(
    "fields",
    [{"delay_min": 2, "delay_max": 1}, {"delay_min": -1}, {"body_size": -1}, {"workers": 0}, {"port": 70000}],
)
def test_config_rejects_impossible_values(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TargetConfig(**fields)


# --- serve() in a real process ---


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline()


def child_pids(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.parametrize(("workers", "stop_signal"), [(1, signal.SIGTERM), (2, signal.SIGTERM), (2, signal.SIGINT)])
def test_serve_answers_and_exits_cleanly_on_signal(workers: int, stop_signal: int) -> None:
    port = free_port()
    code = f"from app.target.server import serve, TargetConfig; serve(TargetConfig(port={port}, workers={workers}, delay_max=0))"
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = read_line(process, timeout=10)
        assert line == f"target listening on http://127.0.0.1:{port} (delay 0-0 s, seed 1)\n"
        children = child_pids(process.pid)
        assert len(children) == (workers if workers > 1 else 0)
        for _ in range(10):  # fresh connections, spread over the workers by SO_REUSEPORT
            response = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
            assert response.status_code == 200 and response.headers["Delay"] == "0.000"
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None and process.stderr.read() == ""
        assert not any(Path(f"/proc/{child}").exists() for child in children)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("fields", "message"),
    [("body_file='/nonexistent/page.html'", "No such file"), ("", "cannot bind")],
    ids=["missing-body-file", "port-taken-by-reuse-port-server"],
)
def test_serve_with_workers_fails_loudly_instead_of_listening(fields: str, message: str) -> None:
    with socket.socket() as other_server:
        # A reuse-port listener would happily share its port with our workers; serve must refuse.
        other_server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other_server.bind(("127.0.0.1", 0))
        other_server.listen()
        port = other_server.getsockname()[1] if not fields else free_port()
        code = f"from app.target.server import serve, TargetConfig; serve(TargetConfig(port={port}, workers=2, {fields}))"
        result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=20)
    assert result.returncode != 0 and result.stdout == ""
    assert message in result.stderr
