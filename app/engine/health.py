"""Generator health, sampled once a second: CPU, RSS, event-loop lag."""
from __future__ import annotations

import asyncio
import time

import psutil

from .snapshot import Health

_LAG_PROBE_S = 0.05


class HealthProbe:
    def __init__(self) -> None:
        self._process = psutil.Process()
        self._cpu = self._cpu_seconds()
        self._max_lag_s = 0.0

    def _cpu_seconds(self) -> float:
        t = self._process.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    async def watch_loop_lag(self) -> None:
        """How late a 50 ms sleep wakes up: the time the loop was busy elsewhere."""
        while True:
            before = time.monotonic()
            await asyncio.sleep(_LAG_PROBE_S)
            self._max_lag_s = max(self._max_lag_s, time.monotonic() - before - _LAG_PROBE_S)

    def sample(self) -> Health:
        cpu = self._cpu_seconds()
        health = Health(rss_bytes=self._process.memory_info().rss,
                        loop_lag_ms=self._max_lag_s * 1000.0, cpu_seconds=cpu - self._cpu)
        self._cpu, self._max_lag_s = cpu, 0.0
        return health
