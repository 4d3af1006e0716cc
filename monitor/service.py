"""The background service: a scheduler (crawls, digests) and the HTTP server, until told to stop.

Each crawl runs in its own subprocess (Twisted's reactor cannot restart). What is due is
derived from the database, so a restart loses nothing. A lock file keeps a second
service off the same database.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from crawler.dumpfiles import expand_paths
from crawler.dumps import DumpError
from feeds.delivery import run_digests
from feeds.digests import TemplateProblem
from monitor.archive import Archive, ArchiveError
from monitor.config import Config
from monitor.links import secret_problem, unsubscribe_links
from monitor.locks import LockError, LockFileError, file_lock, lock_path
from monitor.web import FeedCache, WebServer, raise_fd_limit

log = logging.getLogger(__name__)

STOP_GRACE = 5  # seconds a crawl subprocess gets to stop after SIGTERM


class Service:
    def __init__(self, cfg: Config, config_path: str | None, host: str, port: int) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.host = host
        self.port = port
        self.stopping = threading.Event()
        self.proc: subprocess.Popen[str] | None = None
        self.proc_lock = threading.Lock()
        self.feeds = FeedCache(cfg)
        self.written: tuple[int, str] | None = None  # the archive's change marker of the feed files written
        self.server: WebServer | None = None

    # --- jobs -------------------------------------------------------------------------

    def crawl_command(self) -> list[str] | None:
        cmd = [sys.executable, "-m", "monitor.cli"]
        if self.config_path:
            cmd += ["--config", self.config_path]
        cmd += ["--db", self.cfg.database, "-q", "crawl", "--json"]
        if self.cfg.service.mode == "live":
            return cmd
        try:
            files = expand_paths([Path(p) for p in self.cfg.replay.paths])
        except DumpError as exc:
            log.error("replay: %s", exc)
            return None
        with Archive(self.cfg.database) as archive:
            done = archive.replayed_sources()
        todo = [f for f in files if str(f) not in done]
        if not todo:
            log.info("replay: every dump has been replayed; nothing to crawl")
            return None
        return cmd + ["--replay", str(todo[0])]

    def crawl_job(self) -> None:
        try:
            cmd = self.crawl_command()
        except ArchiveError as exc:  # the demo's replay cursor is in the database
            log.error("crawl not started: %s", exc)
            return
        if cmd is None or self.stopping.is_set():
            return
        log.info("crawl starting: %s", " ".join(cmd[3:]))
        timeout = self.cfg.service.crawl_timeout_minutes * 60
        with self.proc_lock:
            if self.stopping.is_set():
                return
            proc = self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            log.error("crawl stopped after %.0f minutes (crawl_timeout_minutes)", timeout / 60)
            return
        finally:
            with self.proc_lock:
                self.proc = None
        summary: dict[str, Any] = {}
        lines = out.strip().splitlines()
        if lines:
            try:
                summary = json.loads(lines[-1])
            except json.JSONDecodeError:
                summary = {}
        if proc.returncode != 0 and not self.stopping.is_set():
            log.error("crawl failed (exit %s): %s", proc.returncode, (err.strip().splitlines() or ["?"])[-1])
        if summary:
            log.info(
                "crawl %s: %s new, %s updated, %s unchanged, %s errors",
                summary.get("mode"),
                summary.get("new"),
                summary.get("updated"),
                summary.get("unchanged"),
                summary.get("errors"),
            )
            self.publish()  # whatever the crawl found: the archive may also have changed by hand

    def publish(self) -> None:
        """Rebuild the feeds if the archive changed, and write them to feed.out_dir when what
        was written last is older. Only the scheduler writes the files (never a request)."""
        try:
            with Archive(self.cfg.database) as archive:
                self.feeds.refresh(archive)
        except (ArchiveError, OSError) as exc:  # the feeds served stay the last good ones
            log.error("feeds not rebuilt: %s", exc)
            return
        out = self.cfg.feed.out_dir
        if not out or self.feeds.marker == self.written:
            return
        try:
            self.written = self.feeds.write(Path(out))
        except OSError as exc:
            log.error("feeds not written to %s: %s", out, exc.strerror or exc)
        else:
            log.info("feeds written to %s", out)

    def digest_job(self) -> None:
        if self.stopping.is_set():
            return
        try:
            with file_lock(lock_path(self.cfg.database, "digest"), "a digest run"):
                with Archive(self.cfg.database) as archive:
                    now = dt.datetime.now(dt.UTC)
                    report = run_digests(
                        self.cfg, archive, now, unsubscribe_link=unsubscribe_links(self.cfg, now, warn=False)
                    )
        except LockError as exc:
            log.info("digests skipped: %s", exc)
            return
        except (ArchiveError, LockFileError) as exc:
            log.error("digest run failed, what was due stays due: %s", exc)
            return
        except TemplateProblem as exc:
            log.error("digest run failed, what was due stays due: %s", exc)
            return
        except Exception:
            log.exception("digest run failed; what was due stays due")
            return
        if report.sent or report.failed or report.retrying:
            log.info("digests: %d sent, %d retrying, %d failed", report.sent, report.retrying, report.failed)

    # --- lifecycle --------------------------------------------------------------------

    def run(self) -> None:
        """Serve until stop() (SIGTERM, Ctrl-C). Raises LockError if a service holds the database."""
        db = self.cfg.database
        with file_lock(lock_path(db, "service"), f"an icesco-monitor service on {db}"):
            with Archive(db):  # creates or migrates the database before the server reads it
                pass
            self.publish()
            raise_fd_limit()  # so that the connection limit is not cut down by a low default
            server, web = self._start_web()
            scheduler = self._start_scheduler()
            try:
                while not self.stopping.wait(0.5):
                    pass
            finally:
                log.info("stopping")
                scheduler.shutdown(wait=False)
                self._stop_crawl()
                server.shutdown()
                server.server_close()
                web.join(timeout=5)
            log.info("stopped")

    def _start_web(self) -> tuple[WebServer, threading.Thread]:
        """The HTTP server (also self.server) in its own thread; its address and limits logged."""
        self.server = server = WebServer(self.cfg, self.feeds, self.host, self.port)
        host, port = server.server_address[:2]
        web = threading.Thread(target=server.serve_forever, name="http", daemon=True)
        web.start()
        limits = server.limits
        log.info("serving on http://%s:%s/ (feeds: /feed.xml, /atom.xml, /feed.json; /healthz, /metrics)", host, port)
        log.info(
            "HTTP server: waitress, %d threads, %d connections at most, backlog %d,"
            " idle timeout %gs, request timeout %gs",
            limits["threads"],
            limits["connection_limit"],
            limits["backlog"],
            limits["channel_timeout"],
            limits["request_timeout"],
        )
        if (problem := secret_problem(self.cfg)) is not None:
            log.warning(
                "%s: /subscribe and /unsubscribe answer 503 and digests carry the mailto unsubscribe only", problem
            )
        return server, web

    def _start_scheduler(self) -> BackgroundScheduler:
        """The crawl job (first run now) and the digest check (two seconds later), started."""
        svc = self.cfg.service
        scheduler = BackgroundScheduler(
            timezone=dt.UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(svc.misfire_grace_seconds),
            },
        )
        now = dt.datetime.now(dt.UTC)
        scheduler.add_job(
            self.crawl_job,
            IntervalTrigger(minutes=svc.crawl_every_minutes, jitter=int(svc.crawl_jitter_seconds) or None),
            id="crawl",
            next_run_time=now,
        )
        scheduler.add_job(
            self.digest_job,
            IntervalTrigger(seconds=svc.digest_check_seconds),
            id="digest",
            next_run_time=now + dt.timedelta(seconds=2),
        )
        scheduler.start()
        return scheduler

    def _stop_crawl(self) -> None:
        """End a running crawl subprocess: SIGTERM (Scrapy closes gracefully), then
        SIGKILL after STOP_GRACE seconds. Its stored work is committed; the rest is
        done by the next run."""
        with self.proc_lock:
            proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            log.warning("crawl subprocess %d did not stop in %ds: killed", proc.pid, STOP_GRACE)
            proc.kill()
            proc.wait(timeout=5)

    def stop(self) -> None:
        self.stopping.set()
