"""The article's baseline: `requests`, one request after another.

Each of `concurrency` threads (1 reproduces the article) sends blocking
requests in turn. Results are handed to the recorder on the event loop's
thread, so the recorder needs no locks.
"""
from __future__ import annotations

import asyncio
import threading
import time

import requests

from .plan import LATE_START_NS, WorkerPlan, now_ns
from .recorder import Recorder


async def run(plan: WorkerPlan, recorder: Recorder, stopping: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    spec = plan.spec
    indices, pacer, url_for = plan.indices(), plan.pacer(), plan.url_for()
    take = threading.Lock()
    halt = threading.Event()
    deadline = plan.deadline_ns
    headers = dict(spec.headers)
    if not spec.keepalive and not any(k.lower() == "connection" for k in headers):
        # requests would announce keep-alive on the connection it is about to drop
        headers["Connection"] = "close"
    body = spec.body.encode() if spec.body else None
    timeout = (spec.connect_timeout, spec.timeout)

    def next_request() -> tuple[int, int] | None:
        """(index, due_ns) of the next request, or None when the run is over."""
        with take:
            index = next(indices, None)
            if index is None or halt.is_set():
                return None
            if pacer is None:
                return index, 0
            due_s = pacer.due_s(index)
        if due_s is None:
            return None
        return index, plan.start_ns + int(due_s * 1e9)

    finished = asyncio.Event()
    running = plan.concurrency

    def thread_done() -> None:
        nonlocal running
        running -= 1
        if running == 0:
            finished.set()

    def user() -> None:
        try:
            send_requests()
        finally:
            # queued behind this thread's own recorder callbacks (FIFO): once every
            # thread_done has run on the loop, every result has been recorded
            loop.call_soon_threadsafe(thread_done)

    def send_requests() -> None:
        session = requests.Session() if spec.keepalive else None
        if pacer is None:
            # threads start before the run does (so starting them is never a late start);
            # time.sleep never wakes early
            time.sleep(max(0.0, (plan.start_ns - now_ns()) / 1e9))
        while (item := next_request()) is not None:
            index, due = item
            now = now_ns()
            if deadline is not None and max(due, now) >= deadline:
                return
            if due > now:
                time.sleep((due - now) / 1e9)
            elif pacer is not None and now - due > LATE_START_NS:
                loop.call_soon_threadsafe(_late, recorder)
            sent = now_ns()
            due = due or sent
            loop.call_soon_threadsafe(recorder.sent)
            try:
                if session is not None:
                    response = session.request(spec.method, url_for(index), headers=headers,
                                               data=body, timeout=timeout, verify=spec.verify_tls,
                                               allow_redirects=False)
                else:
                    response = requests.request(spec.method, url_for(index), headers=headers,
                                                data=body, timeout=timeout,
                                                verify=spec.verify_tls, allow_redirects=False)
            except Exception as exc:  # counted and classified like any engine's
                loop.call_soon_threadsafe(recorder.error, exc)
                continue
            loop.call_soon_threadsafe(recorder.response, response.status_code,
                                      len(response.content), due, sent, now_ns())

    threads = [threading.Thread(target=user, daemon=True) for _ in range(plan.concurrency)]
    for thread in threads:
        thread.start()
    waits = {asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(finished.wait())}
    if deadline is not None:   # at the deadline, requests in flight are abandoned (as wrk does)
        waits.add(asyncio.ensure_future(asyncio.sleep(max(0.0, (deadline - now_ns()) / 1e9))))
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for fut in waits:
        fut.cancel()
    # threads still blocked in a request are daemons: the worker exits without them
    halt.set()


def _late(recorder: Recorder) -> None:
    recorder.late_starts += 1
