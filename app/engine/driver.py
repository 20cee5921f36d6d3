"""The request loop shared by coroutine engines: closed and open model, deadline, stop.

`concurrency` long-lived user coroutines pull global indices from one shared
iterator (never a task per request created up front: memory stays
O(concurrency) whatever the request count). In the open model each index has a
due time from the pacer; a user that picks an index up after it was due means
every slot was busy: a late start, and the latency still counts from the due
time.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from .plan import LATE_START_NS, WorkerPlan, now_ns, sleep_until
from .recorder import Recorder

Send = Callable[[str], Awaitable[tuple[int, int]]]   # url -> (status, bytes received)


async def drive(plan: WorkerPlan, recorder: Recorder, stopping: asyncio.Event, send: Send) -> None:
    indices = plan.indices()
    pacer = plan.pacer()
    url_for = plan.url_for()
    start_ns = plan.start_ns
    deadline = plan.deadline_ns

    async def user() -> None:
        if pacer is None:
            await sleep_until(start_ns)
        # open model: users exist before the start and wait for their first due time
        # themselves, so the first request is not a late start for the start-up's sake
        for index in indices:
            if pacer is not None:
                due_s = pacer.due_s(index)
                if due_s is None:
                    return
                due = start_ns + int(due_s * 1e9)
                if deadline is not None and due >= deadline:
                    return
                now = now_ns()
                if due > now:
                    await sleep_until(due)
                elif now - due > LATE_START_NS:
                    recorder.late_starts += 1
                sent = now_ns()
            else:
                sent = due = now_ns()
                if deadline is not None and sent >= deadline:
                    return
            recorder.sent()
            try:
                status, nbytes = await send(url_for(index))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure is counted and classified
                recorder.error(exc)
                continue
            recorder.response(status, nbytes, due, sent, now_ns())

    users = asyncio.gather(*(user() for _ in range(plan.concurrency)))
    stop_wait = asyncio.ensure_future(stopping.wait())
    waits: set[asyncio.Future] = {users, stop_wait}
    if deadline is not None:
        waits.add(asyncio.ensure_future(sleep_until(deadline)))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # at the deadline or on stop, requests still in flight are abandoned, as wrk does
        for fut in waits:
            fut.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await users

