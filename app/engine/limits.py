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


TIME_WAIT_S = 60    # Linux keeps a closed client port unusable this long


def ephemeral_ports() -> int | None:
    """How many local ports outgoing connections to one address can use."""
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(hi) - int(lo) + 1
    except (OSError, ValueError):
        return None


def port_exhaustion_warning(keepalive: bool, planned_requests: int | None) -> str | None:
    """Without keep-alive every request takes a fresh local port, which then sits
    in TIME_WAIT for a minute: more requests than ports within that minute fail
    with EADDRNOTAVAIL, the article's "cannot assign requested address".
    `planned_requests` None means unbounded (a duration)."""
    ports = ephemeral_ports()
    if keepalive or ports is None:
        return None
    if planned_requests is not None and planned_requests <= ports:
        return None
    return (f"keep-alive is off: each request uses a new local port and only {ports:,} exist "
            f"(a closed one waits {TIME_WAIT_S} s in TIME_WAIT); above {ports:,} requests a "
            f"minute expect address_not_available errors, or turn keep-alive on / widen "
            f"net.ipv4.ip_local_port_range")
