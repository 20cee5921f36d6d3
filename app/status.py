"""The lifecycle of a stored run."""
from enum import Enum


class RunStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"        # the stop condition was reached
    STOPPED = "stopped"          # a person (Stop button, Ctrl-C, SIGTERM) ended it
    FAILED = "failed"            # the generator itself broke; error_message says why
    INTERRUPTED = "interrupted"  # the dashboard died while it ran: samples up to then kept

    @property
    def active(self) -> bool:
        return self in (RunStatus.QUEUED, RunStatus.RUNNING)
