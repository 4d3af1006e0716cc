"""What the sections of ``run.py`` share: the paths, the options of a run, the command line
in a measured subprocess (wall time and peak RSS), configs, fake-site articles and traffic,
a prefilled archive, timing, and the plain-text table of the report.

Importing this module puts the repository root and ``tests/`` on ``sys.path`` (for
``crawler``/``monitor`` and the tests' ``fakesite``/``helpers``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent
for _p in (str(ROOT), str(TESTS)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from fakesite import Hit, SiteArticle  # noqa: E402
from helpers import cli_env, real_articles  # noqa: E402

from crawler.items import ArticleItem  # noqa: E402
from monitor.archive import Archive  # noqa: E402

DUMPS = ROOT / "monitor" / "demo" / "dumps"
OUT = ROOT / "bench-out"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Options:
    """What the command line asked of the sections."""

    quick: bool = False
    profile: bool = False
    urlwatch: bool = True
    service_polls: int | None = None
    service_interval: float = 1.0

    @property
    def sizes(self) -> list[int]:
        """The archive sizes of the memory and feed sections."""
        return [1000, 10_000] if self.quick else [1000, 100_000]


def progress(message: str) -> None:
    """A progress line on stderr (the report goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


# --- running the command line --------------------------------------------------------


@dataclass
class Proc:
    returncode: int
    stdout: str
    stderr: str
    wall: float  # seconds, from fork to exit (measured by the launcher)
    maxrss_kb: int  # the process's peak resident set size (os.wait4 rusage, KiB on Linux)

    def summary(self) -> dict[str, Any]:
        if self.returncode != 0:
            raise RuntimeError(f"command failed ({self.returncode}):\n{self.stderr[-3000:]}")
        return json.loads(self.stdout.strip().splitlines()[-1])


# The crawl runs under a small launcher process that forks it and reads its rusage with
# os.wait4. Not straight from this process: on Linux a child's ru_maxrss starts at the RSS
# of the process that forked it (exec keeps the old high-water mark), so once this process
# holds a parsed corpus every child would report at least that much. The launcher is a bare
# interpreter (see "launcher floor" in the report): nothing measured can read below it.
LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as f:
    json.dump({"maxrss_kb": usage.ru_maxrss, "wall": time.perf_counter() - started, "code": code}, f)
sys.exit(code if code >= 0 else 1)
"""


def run_measured(cmd: list[str], timeout: float = 600) -> Proc:
    """Run cmd (through the launcher): output, wall time and peak RSS of that process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rusage.json"
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(report), *cmd],
            stdout=out,
            stderr=err,
            env=cli_env(),
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            raise RuntimeError(f"timed out after {timeout} s: {cmd}") from None
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
        if not report.exists():
            raise RuntimeError(f"launcher failed ({proc.returncode}): {stderr[-3000:]}")
        usage = json.loads(report.read_text())
        return Proc(usage["code"], stdout, stderr, usage["wall"], usage["maxrss_kb"])


def run_cli(*args: str, timeout: float = 600, python_args: tuple[str, ...] = ()) -> Proc:
    """``python -m monitor.cli ARGS`` in a subprocess."""
    return run_measured([sys.executable, *python_args, "-m", "monitor.cli", *args], timeout)


def write_config(folder: Path, db: Path, start_url: str, **crawl: Any) -> Path:
    """A config as tests/test_crawl.py writes one: local hosts only, no delay."""
    settings: dict[str, Any] = {
        "start_urls": [start_url],
        "hosts": ["127.0.0.1", "localhost"],
        "download_delay": 0,
        "timeout": 5,
        "retries": 1,
        "backfill_pages": 100,
        "revisit_after_hours": 1000,
    }
    settings.update(crawl)
    path = folder / f"config-{db.stem}.yaml"
    data = {"database": str(db), "crawl": settings, "replay": {"paths": [str(DUMPS)]}}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def db_bytes(db: Path) -> int:
    """The size of a database with its write-ahead log."""
    wal = db.with_name(db.name + "-wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


# --- the fake site and the archive -------------------------------------------------------


def site_articles(n: int, prefix: str = "bench") -> list[SiteArticle]:
    """n articles with real ICESCO paragraphs, one hour apart, newest last."""
    sources = real_articles()
    out = []
    for k in range(n):
        src = sources[k % len(sources)]
        out.append(
            SiteArticle(
                slug=f"{prefix}-article-{k}",
                title=f"{src.title} ({prefix} {k})",
                published=NOW - dt.timedelta(hours=n + 1 - k),
                paragraphs=list(src.paragraphs),
            )
        )
    return out


def traffic(hits: list[Hit]) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for h in hits:
        statuses[str(h.status)] = statuses.get(str(h.status), 0) + 1
    return {
        "requests": len(hits),
        "body_bytes": sum(h.bytes_sent for h in hits),
        "statuses": dict(sorted(statuses.items())),
        "listing_requests": sum(1 for h in hits if "/category/" in h.path),
        "article_requests": sum(1 for h in hits if "/category/" not in h.path and h.path != "/robots.txt"),
    }


def _archived_item(k: int, src: Any) -> ArticleItem:
    day = dt.date(2015, 1, 1) + dt.timedelta(days=k % 3650)
    slug = f"archived-article-{k}"
    return ArticleItem(
        title=f"{src.title} (archived {k})",
        paragraphs=[*src.paragraphs[:3], f"Archive reference {k}."],
        lang="en",
        url=f"https://icesco.org/en/{day:%Y/%m/%d}/{slug}/",
        slug=slug,
        published_at=day.isoformat(),
        source="benchmark prefill",
    )


def prefill(db: Path, n: int, batch: int = 1000) -> float:
    """n archived articles (as if crawled live long ago), via Archive.store in batches."""
    sources = real_articles()
    started = time.perf_counter()
    fetched_at = NOW - dt.timedelta(days=400)
    with Archive(db) as archive:
        for first in range(0, n, batch):
            items = [_archived_item(k, sources[k % len(sources)]) for k in range(first, min(first + batch, n))]
            archive.store(items, fetched_at, fetched=True)
    return time.perf_counter() - started


# --- timing and the report ---------------------------------------------------------------


def median_ms(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median wall time of fn() over runs calls, in ms, and the last result."""
    times = []
    result = None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(1000 * (time.perf_counter() - t0))
    return round(statistics.median(times), 2), result


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def mib(kb: int) -> str:
    return f"{kb / 1024:.1f}"


def statuses_text(statuses: dict[str, int]) -> str:
    """``200x5 304x2``: a status count as the report prints it."""
    return " ".join(f"{s}x{c}" for s, c in statuses.items())
