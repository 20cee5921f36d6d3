"""GET /api/runs/{id}/ws: the series so far, then each second live, then `done`.

Message order for one client: a `history` of the run's older seconds, downsampled
(each point the exact merge of its seconds, under ~2,000 points however long the
run), one `snapshot` per recent second the dashboard holds, a `status`, the live
`snapshot`s, then `done` and a normal close. The client subscribes to the hub in the
same event-loop step in which it copies the recent seconds, so no second is missed
or sent twice; the history ends where they begin. Sending happens in a task of its own: when the
hub drops the client (its queue is full) that task is cancelled even if it is stuck
writing to a socket nobody reads, and the connection is closed with 1008.
"""
from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import WSCloseCode, WSMsgType, web

from app.engine.series import default_step
from app.store import runs as store
from app.store import series as timeline

from .api import path_run_id
from .hub import Subscription, done_message, is_done, status_message
from .keys import DB, HUB, MANAGER

HEARTBEAT_S = 20.0
CLOSE_TIMEOUT_S = 2.0
TOO_SLOW = b"too slow"


async def run_ws(request: web.Request) -> web.StreamResponse:
    run_id = path_run_id(request)
    db = request.app[DB]
    if await store.get_run(db, run_id) is None:
        raise web.HTTPNotFound(text=json.dumps({"error": f"run #{run_id} not found"}),
                               content_type="application/json")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=64 * 1024)
    await ws.prepare(request)
    transport = request.transport     # kept: aborting it is the last resort against a stuck peer
    hub = request.app[HUB]
    subscription = hub.subscribe(run_id)
    try:
        state = request.app[MANAGER].live_state(run_id)
        if state is not None:
            # same step as subscribe: the queue holds exactly what comes after this copy
            held_from, recent = state.replay()
            status, totals_json = status_message(run_id, state.status.value), state.totals_json
            first = [await history_message(db, run_id, held_from - 1, totals_json,
                                           state.pending), *recent, status]
            hub_feed: Subscription | None = subscription
        else:
            hub.unsubscribe(subscription)       # an ended run has nothing more to say
            first = await _ended_run_messages(db, run_id)
            hub_feed = None
        sender = asyncio.create_task(_send(ws, first, hub_feed))
        subscription.on_drop(sender.cancel)
        await _until_sent_or_gone(ws, sender)
        if subscription.dropped:
            await _close(ws, transport, WSCloseCode.POLICY_VIOLATION, TOO_SLOW)
        elif not ws.closed:
            await _close(ws, transport, WSCloseCode.OK, b"")
    finally:
        hub.unsubscribe(subscription)
    return ws


async def history_message(db, run_id: int, upto: int, totals_json: str,
                          pending: timeline.Pending | None = None) -> str:
    """Seconds 1..upto at the default step (empty when upto is 0)."""
    step = default_step(1, max(upto, 1))
    samples = json.dumps([v async for chunk in timeline.views(db, run_id, 1, upto, step,
                                                              pending) for v in chunk])
    return (f'{{"type": "history", "run_id": {int(run_id)}, "step": {step}, '
            f'"samples": {samples}, "totals": {totals_json}}}')


async def _ended_run_messages(db, run_id: int) -> list[str]:
    record = await store.get_run(db, run_id)
    if record is None:                          # deleted meanwhile
        return [json.dumps({"type": "done", "run_id": run_id, "status": "deleted",
                            "summary": None, "error": "the run was deleted"})]
    step, _, samples = await timeline.overview(db, run_id)
    status = record.status.value
    history = (f'{{"type": "history", "run_id": {int(run_id)}, "step": {step}, '
               f'"samples": {samples}, "totals": {json.dumps(record.summary)}}}')
    return [history,
            status_message(run_id, status),
            done_message(run_id, status, record.summary, record.error_message)]


async def _send(ws: web.WebSocketResponse, first: list[str],
                subscription: Subscription | None) -> None:
    """Send the replay, then the live messages until `done`."""
    for message in first:
        await ws.send_str(message)
    if subscription is not None:
        while True:
            message = await subscription.queue.get()
            await ws.send_str(message)
            if is_done(message):
                return


async def _until_sent_or_gone(ws: web.WebSocketResponse, sender: asyncio.Task) -> None:
    """Wait for the sender to finish (or be cancelled by a drop) while reading, and
    ignoring, what the client sends: reading is what notices a client that went away."""
    receiver = asyncio.create_task(_drain(ws))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, receiver):
            if not task.done():
                task.cancel()
        for task in (sender, receiver):
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                await task


async def _drain(ws: web.WebSocketResponse) -> None:
    async for message in ws:
        if message.type == WSMsgType.ERROR:
            break


async def _close(ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None, code: int,
                 message: bytes) -> None:
    """Close with a reason; a peer that does not take even that is cut off (its unsent
    backlog discarded), so a stuck client holds no buffers once dropped."""
    try:
        await asyncio.wait_for(ws.close(code=code, message=message), CLOSE_TIMEOUT_S)
    except (asyncio.TimeoutError, ConnectionError, RuntimeError):
        if transport is not None and hasattr(transport, "abort"):
            transport.abort()
