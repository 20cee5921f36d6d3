"""Run one server in several forked processes that share a port through SO_REUSEPORT.

Fork, not spawn: spawn re-imports the entry script in every child, which would re-run an
unguarded `run.py`. Stop signals are blocked across each fork, so a child never runs the
parent's handler; it resets them and its server installs its own.

The workers die with the parent (lifeline.py), however it dies, so a killed target never leaves
workers holding its port; and the parent stops them all when its own parent is gone.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from app.target.lifeline import Lifeline, die_with_parent, parent_gone

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0

# run_worker(index, port, on_listening, parent_fd) serves in the calling process until SIGINT/SIGTERM
# or EOF on parent_fd (the parent is gone) and calls on_listening(actual_port) once bound.
RunWorker = Callable[[int, int, Callable[[int], None], int | None], None]


def run_workers(
    count: int,
    host: str,
    port: int,
    run_worker: RunWorker,
    on_ready: Callable[[int], None],
    parent_fd: int | None = None,
) -> None:
    """Start `count` workers, call on_ready(port) once all listen, return after SIGINT/SIGTERM
    or once parent_fd (the read end of our own parent's lifeline) reaches EOF.

    Workers start one after another so that with port 0 worker 0 picks the port for the rest.
    Raises OSError if a worker cannot start, RuntimeError if one dies while serving.
    """
    ensure_port_free(host, port)
    _WorkerGroup(run_worker, parent_fd).run(count, port, on_ready)


def ensure_port_free(host: str, port: int) -> None:
    # SO_REUSEPORT lets our workers bind next to any other reuse-port server of the same user,
    # which would silently split its traffic with ours; a probe without it fails instead.
    if port == 0:
        return
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                raise OSError(error.errno, f"cannot bind {host}:{port}: {error.strerror}") from None


def _child_main(run_worker: RunWorker, index: int, port: int, ready: Connection, lifeline: Lifeline) -> None:
    os.close(lifeline.write_fd)  # forked with the parent's end: only the parent may hold it
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    die_with_parent()

    def on_listening(actual_port: int) -> None:
        ready.send(("ready", actual_port))
        ready.close()

    try:
        run_worker(index, port, on_listening, lifeline.read_fd)
    except Exception as error:
        if ready.closed:
            raise
        ready.send(("error", str(error)))
        sys.exit(1)


class _WorkerGroup:
    """The parent: starts the workers, waits for them, stops them all on a signal."""

    def __init__(self, run_worker: RunWorker, parent_fd: int | None):
        self.run_worker = run_worker
        self.parent_fd = parent_fd
        self.context = multiprocessing.get_context("fork")
        self.processes: list[BaseProcess] = []
        self.stopping = False
        self.lifeline: Lifeline | None = None  # to the workers, open while they run

    def run(self, count: int, port: int, on_ready: Callable[[int], None]) -> None:
        previous = {signum: signal.signal(signum, self._request_stop) for signum in STOP_SIGNALS}
        self.lifeline = Lifeline.open()
        try:
            for index in range(count):
                try:
                    port = self._start_worker(index, port)
                except OSError:
                    if self.stopping:
                        return
                    raise
                if self.stopping:
                    return
            on_ready(port)
            self._wait()
        finally:
            self._stop_all()
            self.lifeline.cut()
            self.lifeline.close_read_end()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stopping = True
        for process in self.processes:
            process.terminate()

    def _start_worker(self, index: int, port: int) -> int:
        receiver, sender = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=_child_main,
            args=(self.run_worker, index, port, sender, self.lifeline),
            name=f"stampede-target-{index}",
            daemon=True,
        )
        previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            process.start()
            self.processes.append(process)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        sender.close()
        with receiver:
            try:
                if not receiver.poll(STARTUP_TIMEOUT):
                    raise OSError(f"worker {index} did not start within {STARTUP_TIMEOUT:g} s")
                kind, detail = receiver.recv()
            except EOFError:
                raise OSError(f"worker {index} exited before listening") from None
        if kind != "ready":
            raise OSError(f"worker {index}: {detail}")
        return int(detail)

    def _wait(self) -> None:
        while not self.stopping:
            live: list[int] = [process.sentinel for process in self.processes if process.exitcode is None]
            if not live:
                return
            watched = live if self.parent_fd is None else [*live, self.parent_fd]
            multiprocessing.connection.wait(watched)
            if self.stopping or (self.parent_fd is not None and parent_gone(self.parent_fd)):
                return
            for process in self.processes:
                if process.exitcode is not None:
                    raise RuntimeError(f"{process.name} exited with code {process.exitcode}")

    def _stop_all(self) -> None:
        for process in self.processes:
            process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                process.kill()
                process.join()
