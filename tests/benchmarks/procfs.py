"""What /proc tells of a running process: its memory, threads, children and open files
(Linux only; the service section samples the service with these)."""

from __future__ import annotations

import os
from pathlib import Path


def proc_status(pid: int) -> dict[str, int] | None:
    """VmRSS, VmHWM (KiB) and Threads of a process, from /proc; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = int(value.split()[0])
    return out


def children(pid: int) -> list[int]:
    """Direct children of a process (the service's crawl subprocesses), from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry))
    return out


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
