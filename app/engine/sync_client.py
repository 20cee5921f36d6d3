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

from .plan import WorkerPlan, now_ns, sleep_until
from .recorder import Recorder
from .schedule import Schedule


async def run(plan: WorkerPlan, recorder: Recorder, stopping: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    spec = plan.spec
    schedule, render = Schedule(plan), plan.workload.render
    take = threading.Lock()
    halt = threading.Event()
    timeout = (spec.connect_timeout, spec.timeout)

    def next_request() -> tuple[int, int] | None:
        """(index, due_ns) of the next request (due 0: when a thread is free), or None
        when the run is over. One lock: the schedule hands out indices in order."""
        with take:
            if halt.is_set():
                return None
            if schedule.open:
                return schedule.next_due()
            index = next(schedule.indices, None)
        return None if index is None else (index, 0)

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
        if not schedule.open:
            # threads start before the run does (so starting them is never a late start);
            # time.sleep never wakes early
            time.sleep(max(0.0, (plan.start_ns - now_ns()) / 1e9))
        while (item := next_request()) is not None:
            index, due = item
            now = now_ns()
            if schedule.expired(max(due, now)):
                return
            if due > now:
                time.sleep((due - now) / 1e9)
            elif schedule.open and schedule.late(due, now):
                loop.call_soon_threadsafe(_late, recorder)
            req = render(index)
            headers = dict(req.headers)
            if not spec.keepalive and not any(k.lower() == "connection" for k in headers):
                # requests would announce keep-alive on the connection it is about to drop
                headers["Connection"] = "close"
            sent = now_ns()
            due = due or sent
            loop.call_soon_threadsafe(recorder.sent)
            try:
                response = (session or requests).request(
                    req.method, req.url, headers=headers, data=req.body or None,
                    timeout=timeout, verify=spec.verify_tls, allow_redirects=False)
            except Exception as exc:  # counted and classified like any engine's
                loop.call_soon_threadsafe(recorder.error, exc, req.name_id)
                continue
            loop.call_soon_threadsafe(recorder.response, response.status_code,
                                      len(response.content), due, sent, now_ns(), req.name_id)

    threads = [threading.Thread(target=user, daemon=True) for _ in range(plan.concurrency)]
    for thread in threads:
        thread.start()
    waits = {asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(finished.wait())}
    if schedule.deadline_ns is not None:   # at the deadline, requests in flight are abandoned
        waits.add(asyncio.ensure_future(sleep_until(schedule.deadline_ns)))
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for fut in waits:
        fut.cancel()
    # threads still blocked in a request are daemons: the worker exits without them
    halt.set()


def _late(recorder: Recorder) -> None:
    recorder.late_starts += 1
