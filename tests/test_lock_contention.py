"""Locks between processes (``monitor/locks.py``): a lock another process holds is refused
at once, naming that process; the database's other names meet the same lock; the setup lock
waits; the command line refuses a second crawl with exit 3. The holder is a real second
process that keeps the lock until the test closes its stdin."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import DUMPS, ROOT, cli_env, run_cli

from monitor.locks import LockError, database_setup_lock, file_lock, lock_path

pytestmark = pytest.mark.integration

HOLDER = """
import sys
from pathlib import Path
from monitor.locks import database_setup_lock, file_lock

kind, path, what = sys.argv[1:4]
with file_lock(Path(path), what) if kind == "file" else database_setup_lock(Path(path)):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes stdin
"""


@contextlib.contextmanager
def held(kind: str, path: Path, what: str = "") -> Iterator[subprocess.Popen[str]]:
    """Another process holding a lock (``file``: ``file_lock(path, what)``; ``setup``:
    ``database_setup_lock(path)``) until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, kind, str(path), what],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=cli_env(),
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline() == "held\n"
        yield proc
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0


def refusal(path: Path, what: str) -> str:
    with pytest.raises(LockError) as info, file_lock(path, what):
        pass
    return str(info.value)


def test_a_lock_another_process_holds_is_refused_naming_it(tmp_path: Path) -> None:
    lock = lock_path(tmp_path / "a.db", "crawl")
    with held("file", lock, "a crawl") as holder:
        assert refusal(lock, "a crawl") == f"a crawl is already running (pid {holder.pid}; lock file {lock})"
    with file_lock(lock, "a crawl"):  # released with its process
        assert lock.read_text() == f"{os.getpid()}\n"


def test_another_name_of_the_database_meets_the_other_process_s_lock(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    db.write_bytes(b"")
    other = tmp_path / "b.db"
    other.symlink_to(db)
    with held("file", lock_path(db, "crawl"), "a crawl"):
        assert refusal(lock_path(other, "crawl"), "a crawl") == (
            f"a crawl is already running on the same database file ({other}, maybe by another name: a symlink"
            " or hard link)"
        )


def test_the_setup_lock_waits_for_the_other_process(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    taken = threading.Event()

    def take() -> None:
        with database_setup_lock(db):
            taken.set()

    with held("setup", db):
        waiter = threading.Thread(target=take, daemon=True)
        waiter.start()
        assert taken.wait(0.5) is False  # blocked while the other process holds it
    assert taken.wait(10) is True  # then taken
    waiter.join(timeout=10)


def test_a_second_crawl_on_the_command_line_exits_3(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with held("file", lock_path(db, "crawl"), "a crawl") as holder:
        proc = run_cli("crawl", "--replay", str(DUMPS), "--json", db=db)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        3,
        "",
        f"icesco-monitor: a crawl of {db} is already running (pid {holder.pid}; lock file {db}.crawl.lock);"
        " not starting a second one\n",
    )
