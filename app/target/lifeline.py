"""A child that dies with its parent: the demo target with its dashboard, workers with the target.

Two mechanisms, because each alone has a hole:

- Linux: prctl(PR_SET_PDEATHSIG, SIGTERM) makes the kernel signal the child when the parent
  THREAD that forked it exits, so parents fork from their main thread (the dashboard's event loop,
  the target's worker group). A parent that dies before the child calls prctl sends nothing.
- Anywhere: a pipe whose write end only the parent holds. The kernel closes it however the
  parent dies (even SIGKILL), so the child sees EOF on its read end: also after that race.

The signal is SIGTERM, so the child stops as it would on `kill`; the pipe's EOF does the same.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass

# The read end's fd number, for a child started with exec (a forked child is handed it directly).
ENV_FD = "STAMPEDE_LIFELINE_FD"
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@dataclass(frozen=True)
class Lifeline:
    """A pipe: the parent keeps `write_fd` open for as long as the child may live."""

    read_fd: int
    write_fd: int

    @classmethod
    def open(cls) -> Lifeline:
        read_fd, write_fd = os.pipe()  # both close-on-exec; pass read_fd on purpose (pass_fds)
        return cls(read_fd, write_fd)

    def child_env(self) -> dict[str, str]:
        return {ENV_FD: str(self.read_fd)}

    def close_read_end(self) -> None:
        """In the parent once the child started: the read end is the child's alone."""
        os.close(self.read_fd)

    def cut(self) -> None:
        """The parent lets go: the child sees EOF and stops (also what its death does)."""
        os.close(self.write_fd)


def inherited_fd(environ: Mapping[str, str]) -> int | None:
    """The lifeline an exec'd child was started with, if any (a target run by hand has none)."""
    value = environ.get(ENV_FD, "")
    return int(value) if value.isdigit() else None


def die_with_parent() -> None:
    """Ask Linux for SIGTERM when the forking parent thread exits; elsewhere the pipe suffices."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # no prctl (an unusual libc): the pipe still ends us


def parent_gone(read_fd: int) -> bool:
    """True once the parent side closed (EOF); call it when read_fd is readable, or to poll."""
    if not select.select([read_fd], [], [], 0)[0]:
        return False
    try:
        return os.read(read_fd, 1) == b""  # nobody writes to it: readable means EOF
    except OSError:
        return True  # a broken lifeline counts as a cut one
