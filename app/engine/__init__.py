"""The engine: a run's owner (owner.py) starts its workers, each running the main loop
of worker_main.py in a process of its own, and merges the per-second snapshots they
send over the pipe protocol (protocol.py) exactly:

    run = await start(spec)
    async for snapshot in run: ...
    run.summary, run.outcome, run.error
"""
from .owner import Outcome, Run, start

__all__ = ["Outcome", "Run", "start"]
