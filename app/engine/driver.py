"""The request loop shared by coroutine engines: closed and open model, deadline, stop.

`concurrency` long-lived user coroutines pull global indices from one shared
iterator (never a task per request created up front: memory stays
O(concurrency) whatever the request count). Which index, when it is due, and
what counts as late come from the one Schedule; a user that picks an index up
after it was due means every slot was busy: a late start, and the latency still
counts from the due time.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from app.workload import RenderedRequest

from .plan import WorkerPlan, now_ns, sleep_until
from .recorder import Recorder
from .schedule import Schedule

# a rendered request -> (status, bytes received)
Send = Callable[[RenderedRequest], Awaitable[tuple[int, int]]]


async def drive(plan: WorkerPlan, recorder: Recorder, stopping: asyncio.Event, send: Send) -> None:
    schedule = Schedule(plan)
    render = plan.workload.render
    indices = schedule.indices

    async def user() -> None:
        if not schedule.open:
            await sleep_until(schedule.start_ns)
        # open model: users exist before the start and wait for their first due time
        # themselves, so the first request is not a late start for the start-up's sake
        while True:
            if schedule.open:
                item = schedule.next_due()
                if item is None:
                    return
                index, due = item
                now = now_ns()
                if due > now:
                    await sleep_until(due)
                elif schedule.late(due, now):
                    recorder.late_starts += 1
                sent = now_ns()
            else:
                index = next(indices, None)
                sent = due = now_ns()
                if index is None or schedule.expired(sent):
                    return
            request = render(index)
            recorder.sent()
            try:
                status, nbytes = await send(request)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure is counted and classified
                recorder.error(exc, request.name_id)
                continue
            recorder.response(status, nbytes, due, sent, now_ns(), request.name_id)

    users = asyncio.gather(*(user() for _ in range(plan.concurrency)))
    stop_wait = asyncio.ensure_future(stopping.wait())
    waits: set[asyncio.Future] = {users, stop_wait}
    if schedule.deadline_ns is not None:
        waits.add(asyncio.ensure_future(sleep_until(schedule.deadline_ns)))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # at the deadline or on stop, requests still in flight are abandoned, as wrk does
        for fut in waits:
            fut.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await users
