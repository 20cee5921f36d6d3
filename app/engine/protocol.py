"""The pipe protocol between a run's owner and its workers (pure framing, no process).

Owner to worker, JSON lines on the worker's stdin: the plan
`{"spec": …, "worker": k, "workers": n}`, then `{"go": start_ns}`, later `stop`; EOF
means stop too, so a dead owner never leaves a worker running.

Worker to owner, frames on its stdout: a 4-byte length and a pickled message —
("ready",), ("snapshot", Snapshot), ("done", None) or ("failed", message).
"""
from __future__ import annotations

import asyncio
import pickle
import struct
from typing import Any

_HEADER = struct.Struct("!I")


def encode_frame(message: tuple[Any, ...]) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[Any, ...] | None:
    try:
        header = await reader.readexactly(_HEADER.size)
        return pickle.loads(await reader.readexactly(_HEADER.unpack(header)[0]))
    except asyncio.IncompleteReadError:
        return None
