"""Process limits a load generator runs into: open files and ephemeral ports."""
from __future__ import annotations

import resource
from pathlib import Path


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (the 1,024 default is what
    gives "too many open files" at ~1,000 connections); return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def ephemeral_ports() -> int | None:
    """How many local ports outgoing connections to one address can use."""
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(hi) - int(lo) + 1
    except (OSError, ValueError):
        return None
