"""Replaying text dumps: files read in file-name order, parsed in worker processes when
there are many, a bounded number ahead of the pipeline."""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from crawler.dumpfiles import expand_paths, read_dump
from crawler.dumps import DumpError
from crawler.items import ArticleItem, SnapshotItem
from crawler.state import CrawlOptions

log = logging.getLogger(__name__)

POOL_MIN_FILES = 50  # fewer dumps than this are parsed in this process
PARSE_WORKERS = 2
PARSE_AHEAD = 64  # dumps parsed ahead of the pipeline, at most


def worker_init(parent: int) -> None:
    """Parse workers die with the crawl, even a killed one: they ask Linux for SIGKILL
    when the parent dies, and (where that is not delivered, as in some sandboxes) a
    watchdog thread exits once the parent is gone."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass

    def parent_alive() -> bool:
        if os.getppid() != parent:
            return False
        try:
            with open(f"/proc/{parent}/stat", "rb") as f:
                return f.read().split(b") ", 1)[1][:1] not in (b"Z", b"X")
        except (OSError, IndexError):
            return False

    def watch() -> None:
        while parent_alive():
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class ReplayMixin:
    """The replay mode of the spider."""

    options: CrawlOptions
    paths: list[Path]
    pages: int
    stop_reason: str | None

    def error(self, message: str) -> None:
        raise NotImplementedError

    def _replay(self) -> Iterator[SnapshotItem]:
        try:
            files = expand_paths(self.paths)
        except DumpError as exc:
            self.error(str(exc))
            return
        total = 0
        for n, (path, (items, problem)) in enumerate(zip(files, self._read_all(files), strict=True), 1):
            if self.stop_reason:
                return
            if problem is not None:
                self.error(problem)
                continue
            self.pages += 1
            yield SnapshotItem(source=str(path), articles=items)
            total += len(items)
            if n % 100 == 0 or n == len(files):
                log.info("replay: %d/%d dumps read, %d articles", n, len(files), total)

    def _read_all(self, files: list[Path]) -> Iterator[tuple[list[ArticleItem], str | None]]:
        """Dumps parsed in file order; many of them in worker processes (the parser is
        pure Python: processes, not threads, use the other cores), a bounded number ahead."""
        workers = min(PARSE_WORKERS, os.cpu_count() or 1)
        if len(files) < POOL_MIN_FILES or workers < 2:
            yield from (read_dump(f, self.options.max_dump_bytes, self.options.site) for f in files)
            return
        ahead: deque[Future[tuple[list[ArticleItem], str | None]]] = deque()
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker_init,
            initargs=(os.getpid(),),
        ) as pool:
            todo = iter(files)
            for path in itertools.islice(todo, PARSE_AHEAD):
                ahead.append(pool.submit(read_dump, path, self.options.max_dump_bytes, self.options.site))
            while ahead:
                result = ahead.popleft().result()
                for path in itertools.islice(todo, 1):
                    ahead.append(pool.submit(read_dump, path, self.options.max_dump_bytes, self.options.site))
                yield result
