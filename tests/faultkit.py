"""What the fault modules (``tests/test_faults_*.py``) share: the campaign's knobs, killing
a command at an observed event, reading an archive after a fault, a corpus of dumps, a bare
TCP server on a loopback address, file systems that fill up or turn read-only, and
databases that refuse a write.

Everything is real: the command line in subprocesses, SQLite files, the ICESCO-like site
(``fakesite``) and the SMTP sink (``smtpsink.py``), both on 127.0.0.1 only.

``FAULT_RUNS`` (environment ``ICESCO_FAULT_RUNS``, default 20) is the number of kills of
each kill loop. A kill lands at an event the test observes, never after a guessed sleep:
after the archive has committed k more articles (replay), after the site has served k
requests (crawl), after the SMTP server has received k messages (digest); k is drawn from
``random.Random`` seeded with ``SEED`` (environment ``ICESCO_FAULT_SEED``, default fixed),
which every assertion message shows. So every kill interrupts a running process, on any
machine, and a run is reproducible.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakesite import SiteArticle
from helpers import DUMPS, run_cli, write_config, write_corpus

from crawler.dumpfiles import read_dump

FAULT_RUNS = int(os.environ.get("ICESCO_FAULT_RUNS") or 20)
SEED = int(os.environ.get("ICESCO_FAULT_SEED") or 20261126)
KILLS_PER_CYCLE = 2  # kills in a row on one database, then a clean run must finish the work
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)

Key = tuple[str, str]  # (lang, slug): an article's identity
Row = tuple[Any, ...]  # (url, title, body, partial)
DUMP_000 = DUMPS / "000_84405bf65da9c262.txt"
DUMP_001 = DUMPS / "001_5d01d3af697e6fda.txt"
# How Twisted describes a connection closed by a reset (TCP RST), as a crawl reports it.
CONNECTION_LOST = (
    "<twisted.python.failure.Failure twisted.internet.error.ConnectionLost:"
    " Connection to the other side was lost in a non-clean fashion.>"
)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds")


# --- processes ----------------------------------------------------------------------------


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of the live processes (zombies left out) of a process group."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            out.append((int(entry.name), state))
    return out


def reap_group(pgid: int) -> None:
    """SIGKILL whatever is left of the process group of a command we started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def kill_when(
    proc: subprocess.Popen[bytes], event: Callable[[], bool], snapshot: Callable[[], Any], timeout: float = 60.0
) -> tuple[int, Any]:
    """Wait for an observed event (or the end of the process), look at what is committed,
    SIGKILL the process; its exit status (-9 if the kill interrupted it) and the snapshot."""
    deadline = time.monotonic() + timeout
    while not event() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    before = snapshot()
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    rc = proc.wait(timeout=30)
    reap_group(proc.pid)  # parser workers it may have left (see the orphan test)
    return rc, before


# --- the archive ----------------------------------------------------------------------------


def committed_keys(db: Path) -> set[Key] | None:
    """Articles committed so far, read by another connection (None: could not look)."""
    if not db.exists():
        return set()
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return {(r[0], r[1]) for r in conn.execute("SELECT lang, slug FROM articles")}
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        return set() if "no such table" in str(exc) else None


def check_archive(db: Path, expected: dict[Key, Row], before: set[Key] | None, ctx: str) -> dict[Key, Row]:
    """The archive after a fault: sound, nothing committed lost, nothing twice, nothing
    stored that a complete run would not store. Returns its rows."""
    if not db.exists():
        assert not before, ctx
        return {}
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], ctx
        if not conn.execute("SELECT name FROM sqlite_master WHERE name = 'articles'").fetchall():
            assert not before, ctx
            return {}
        with conn:  # raises if the full-text index does not match the articles
            conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
        count, distinct = conn.execute("SELECT count(*), count(DISTINCT id) FROM articles").fetchone()
        assert count == distinct, f"{ctx}: duplicated ids"
        twice = conn.execute(
            "SELECT lang, slug, count(*) FROM articles GROUP BY lang, slug HAVING count(*) > 1"
        ).fetchall()
        assert twice == [], f"{ctx}: duplicated slugs"
        rows = {
            (r[0], r[1]): tuple(r[2:])
            for r in conn.execute("SELECT lang, slug, url, title, body, partial FROM articles")
        }
    unknown = sorted(set(rows) - set(expected))
    assert unknown == [], f"{ctx}: articles no complete run stores: {unknown[:5]}"
    wrong = {k: (rows[k], expected[k]) for k in rows if rows[k] != expected[k]}
    assert wrong == {}, f"{ctx}: articles stored differently from a complete run"
    if before is not None:
        lost = sorted(before - set(rows))
        assert lost == [], f"{ctx}: {len(lost)} committed articles lost, e.g. {lost[:3]}"
    return rows


def dump_rows(paths: list[Path]) -> dict[Key, Row]:
    """What a complete replay of these dumps stores, parsed in this process."""
    out: dict[Key, Row] = {}
    for path in paths:
        items, problem = read_dump(path)
        assert problem is None, problem
        for item in items:
            out[(item.lang, item.slug)] = (item.url, item.title, item.body, int(item.partial))
    return out


def archive_rows(db: Path) -> dict[Key, Row]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {
            (r[0], r[1]): tuple(r[2:])
            for r in conn.execute("SELECT lang, slug, url, title, body, partial FROM articles")
        }


# --- a corpus of dumps ------------------------------------------------------------------------

CORPUS_FILES, CORPUS_PER_FILE = 150, 10


@dataclass
class Corpus:
    folder: Path
    expected: dict[Key, Row]
    dumps: list[set[Key]]  # the articles of each dump, in file order

    def check_snapshots(self, rows: dict[Key, Row], ctx: str) -> None:
        """Each dump is stored in one transaction: all of its articles, or none."""
        half = [n for n, keys in enumerate(self.dumps) if keys & rows.keys() and not keys <= rows.keys()]
        assert half == [], f"{ctx}: dumps stored in part: {half[:5]}"


def build_corpus(folder: Path) -> Corpus:
    """150 listing dumps of 10 articles each, built from the bundled ones, every title unique."""
    write_corpus(folder, CORPUS_FILES, CORPUS_PER_FILE)
    files = sorted(folder.glob("*.txt"))
    expected = dump_rows(files)
    assert len(expected) == CORPUS_FILES * CORPUS_PER_FILE
    return Corpus(folder, expected, [set(dump_rows([f])) for f in files])


# --- a bare TCP server ----------------------------------------------------------------------


class LoopbackServer:
    """A TCP server on a loopback address that hands each connection to ``handle``."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.handle(conn)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        self.sock.close()
        self.thread.join(timeout=5)


# --- what the sites and digests hold -------------------------------------------------------


def fault_site_articles() -> list[SiteArticle]:
    return [
        SiteArticle(
            slug=f"fault-article-{k}",
            title=f"Fault Article {k}",
            published=NOW - dt.timedelta(hours=k + 1),
            paragraphs=[f"First paragraph of fault article {k}.", f"Second paragraph of fault article {k}."],
        )
        for k in range(12)
    ]


def digest_titles(message: Any) -> list[str]:
    """The article titles listed in a digest's text part ("3. Title")."""
    text = message.get_body(("plain",)).get_content()
    return re.findall(r"^\d+\. (.+)$", text, re.MULTILINE)


# --- file systems that fill up or turn read-only; databases that refuse a write -----------


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``path`` (root only), always unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {proc.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True, capture_output=True)


def clear_error(proc: subprocess.CompletedProcess[str], line: str) -> None:
    """A command that cannot use the database: exit 1, nothing on stdout, no traceback, and
    its last line on stderr is ``line`` (which names the file)."""
    last = proc.stderr.strip().splitlines()[-1:] or [""]
    assert (proc.returncode, proc.stdout, "Traceback" in proc.stderr, last[0]) == (1, "", False, line), proc.stderr[
        -3000:
    ]


@contextlib.contextmanager
def refusing(db: Path, event: str) -> Iterator[None]:
    """While the block runs, the database refuses ``event`` (for example ``INSERT ON runs``)
    with SQLite's disk-full message, as a full disk would at that write."""
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            f"CREATE TRIGGER full_disk BEFORE {event} BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    try:
        yield
    finally:
        with contextlib.closing(sqlite3.connect(db)) as conn, conn:
            conn.execute("DROP TRIGGER full_disk")


def subscribed_archive(folder: Path, **config: Any) -> Path:
    """A config with one immediate subscriber (digests to ``folder/outbox``), recorded before
    the first dump was replayed: the ten articles are due. Returns the config file."""
    cfg = write_config(
        folder,
        digest={"outbox": str(folder / "outbox")},
        subscribers=[{"address": "reader@example.org", "cadence": "immediate"}],
        **config,
    )
    assert run_cli("digest", "--json", "--now", iso(NOW - dt.timedelta(minutes=1)), config=cfg).returncode == 0
    assert run_cli("crawl", "--replay", str(DUMP_000), "--json", config=cfg).returncode == 0
    return cfg
