"""Fan-out of a run's live messages to its WebSocket clients, never waiting for any of them.

Every client gets its own bounded queue. Publishing is `put_nowait`: a client whose
queue is full is dropped on the spot (its handler is told through `on_drop` and closes
it), so a slow or stuck browser costs the run and the other clients nothing.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

DEFAULT_QUEUE_SIZE = 64


class Subscription:
    """One client's view of one run's messages (pre-encoded JSON text)."""

    def __init__(self, run_id: int, queue_size: int):
        self.run_id = run_id
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.dropped = False
        self._on_drop: Callable[[], object] | None = None

    def on_drop(self, callback: Callable[[], object]) -> None:
        self._on_drop = callback
        if self.dropped:
            callback()

    def _offer(self, message: str) -> bool:
        try:
            self.queue.put_nowait(message)
            return True
        except asyncio.QueueFull:
            return False

    def _drop(self) -> None:
        self.dropped = True
        while not self.queue.empty():      # free its backlog now, not when its handler ends
            self.queue.get_nowait()
        if self._on_drop is not None:
            self._on_drop()


class Hub:
    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE):
        self.queue_size = queue_size
        self.dropped_total = 0
        self._subscriptions: dict[int, set[Subscription]] = {}

    def subscribe(self, run_id: int) -> Subscription:
        subscription = Subscription(run_id, self.queue_size)
        self._subscriptions.setdefault(run_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        clients = self._subscriptions.get(subscription.run_id)
        if clients is not None:
            clients.discard(subscription)
            if not clients:
                del self._subscriptions[subscription.run_id]

    def clients(self, run_id: int) -> int:
        return len(self._subscriptions.get(run_id, ()))

    def publish(self, run_id: int, message: str) -> None:
        for subscription in list(self._subscriptions.get(run_id, ())):
            if not subscription._offer(message):
                self.unsubscribe(subscription)
                self.dropped_total += 1
                subscription._drop()


# -- the messages (encoded once, sent to every client as is) ---------------------------

def snapshot_message(run_id: int, sample_json: str, totals_json: str,
                     nodes_json: str = "null") -> str:
    """A second, the totals so far (the summary's form: the last live totals equal the
    stored summary), and each node's last second (the health panel's, live only)."""
    return (f'{{"type": "snapshot", "run_id": {int(run_id)}, "sample": {sample_json}, '
            f'"totals": {totals_json}, "nodes": {nodes_json}}}')


def event_message(run_id: int, kind: str, event: dict) -> str:
    """Something that happened to a live run (a worker lost), as it happens; the totals
    that follow list it too (`lost_workers`), so a page that joins later sees it."""
    return json.dumps({"type": "event", "run_id": run_id, "kind": kind, "event": event})


def is_done(message: str) -> bool:
    return message.startswith(_DONE_PREFIX)


def status_message(run_id: int, status: str) -> str:
    return json.dumps({"type": "status", "run_id": run_id, "status": status})


_DONE_PREFIX = '{"type": "done"'


def done_message(run_id: int, status: str, summary: dict | None, error: str | None) -> str:
    return json.dumps({"type": "done", "run_id": run_id, "status": status,
                       "summary": summary, "error": error})
