"""The HTTP server: waitress, bounded (threads, connections, timeouts, request sizes)."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

from monitor.config import Config
from monitor.web.app import App
from monitor.web.feedcache import FeedCache

log = logging.getLogger(__name__)


THREADS = 8  # worker threads: the most requests answered at once, however many clients connect
CONNECTION_LIMIT = 1000  # open client connections; beyond it new ones wait in the backlog
BACKLOG = 1024  # listen() backlog (the kernel caps it at net.core.somaxconn)
CHANNEL_TIMEOUT = 30.0  # seconds an idle connection (keep-alive, or silent after connecting) stays open
REQUEST_TIMEOUT = 15.0  # seconds from a request's first byte to its last (slowloris)
CLEANUP_INTERVAL = 2.0  # how often the timeouts are checked
MAX_HEADER_BYTES = 32 * 1024  # request line and headers (larger: 431)
MAX_BODY_BYTES = 64 * 1024  # request bodies (only forms are read, at most 16 KiB: http.MAX_FORM_BYTES; larger: 413)
FD_RESERVE = 16  # descriptors kept back for SQLite, logs, the crawl subprocess' pipes...
FD_PER_THREAD = 4  # ...and per worker thread (SQLite's database, WAL and shm files)


def connection_limit_for(wanted: int, threads: int) -> int:
    """The connection limit that fits in the descriptor limit (RLIMIT_NOFILE): at the limit
    waitress stops accepting, instead of accept() failing with EMFILE in a loop."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return wanted
    if soft == resource.RLIM_INFINITY:
        return wanted
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 32
    return max(8, min(wanted, soft - in_use - FD_RESERVE - FD_PER_THREAD * threads))


def raise_fd_limit(target: int = 4096) -> int:
    """Raise this process's soft descriptor limit towards the hard one (up to target), so
    that the connection limit is not cut down by a low default. Returns the soft limit."""
    try:
        import resource
    except ImportError:  # not POSIX
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = target if hard == resource.RLIM_INFINITY else min(hard, target)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (OSError, ValueError):
            pass
    return int(soft)


class _OncePer(logging.Filter):
    """Lets one record through per interval (waitress warns "Task queue depth is N" at every
    queued request under load)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.next = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now < self.next:
            return False
        self.next = now + self.seconds
        return True


_QUEUE_LOG = logging.getLogger("waitress.queue")
if not any(isinstance(f, _OncePer) for f in _QUEUE_LOG.filters):
    _QUEUE_LOG.addFilter(_OncePer(60))


class _Channel(HTTPChannel):
    """waitress's connection, plus when the request being received began (for REQUEST_TIMEOUT:
    waitress's own channel_timeout counts from the last byte, so a client sending one byte
    every few seconds would never time out)."""

    request_started = 0.0

    def received(self, data: bytes) -> bool:
        before = self.request
        done = bool(super().received(data))
        if self.request is None:
            self.request_started = 0.0
        elif self.request is not before:
            self.request_started = time.time()
        return done


class _Server(TcpWSGIServer):
    channel_class = _Channel
    request_timeout = REQUEST_TIMEOUT
    accept_paused_until = 0.0

    def maintenance(self, now: float) -> None:
        """Close idle connections (channel_timeout, waitress) and requests that take too
        long to arrive (request_timeout). A request being answered is never cut."""
        super().maintenance(now)
        cutoff = now - self.request_timeout
        for channel in list(self.active_channels.values()):
            started = getattr(channel, "request_started", 0.0)
            if not channel.requests and started and started < cutoff:
                channel.will_close = True

    def readable(self) -> bool:
        ready = bool(super().readable())  # also runs maintenance() and the connection limit
        return ready and time.monotonic() >= self.accept_paused_until

    def handle_accept(self) -> None:
        try:
            pair = self.accept()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                # Out of descriptors: stop polling the listening socket for a moment
                # rather than spinning on it (the waiting clients stay in the backlog).
                self.accept_paused_until = time.monotonic() + 0.25
                log.warning("cannot accept connections for now: %s", exc.strerror)
            return
        if pair is None:
            return
        conn, addr = pair
        try:
            self.set_socket_options(conn)
        except OSError:
            conn.close()
            return
        self.channel_class(self, conn, addr, self.adj, map=self._map)


class WebServer:
    """The service's HTTP server: waitress serving App.

    waitress reads and writes every connection in one asyncore-style loop (the thread that
    calls serve_forever) and hands complete requests to a fixed pool of worker threads, so a
    slow or idle client holds a descriptor and a few kilobytes, never a thread. Connections
    are limited (connection_limit, fitted to RLIMIT_NOFILE) and timed out (idle:
    channel_timeout; a request that takes too long to arrive: request_timeout).

    The interface is socketserver's: serve_forever() in a thread, shutdown(), server_close(),
    server_address.
    """

    def __init__(
        self,
        cfg: Config,
        feeds: FeedCache,
        host: str,
        port: int,
        *,
        threads: int = THREADS,
        connection_limit: int = CONNECTION_LIMIT,
        backlog: int = BACKLOG,
        channel_timeout: float = CHANNEL_TIMEOUT,
        request_timeout: float = REQUEST_TIMEOUT,
        cleanup_interval: float = CLEANUP_INTERVAL,
    ) -> None:
        self.cfg = cfg
        self.feeds = feeds
        self.app = App(cfg, feeds)
        self.map: dict[int, Any] = {}
        self.adj = Adjustments(
            host=host,
            port=port,
            threads=threads,
            backlog=backlog,
            connection_limit=connection_limit_for(connection_limit, threads),
            channel_timeout=channel_timeout,
            cleanup_interval=cleanup_interval,
            asyncore_loop_timeout=1,
            asyncore_use_poll=True,  # select() cannot watch descriptors past 1023
            max_request_header_size=MAX_HEADER_BYTES,
            max_request_body_size=MAX_BODY_BYTES,
            ident="icesco-monitor",
            log_socket_errors=False,  # clients that hang up are not our errors
        )
        self.dispatcher = ThreadedTaskDispatcher()
        self.servers: list[_Server] = []
        try:
            for sockinfo in self.adj.listen:
                srv = _Server(self.app, self.map, dispatcher=self.dispatcher, adj=self.adj, sockinfo=sockinfo)
                srv.request_timeout = request_timeout
                self.servers.append(srv)
        except BaseException:
            wasyncore.close_all(self.map, ignore_all=True)
            raise
        self.dispatcher.set_thread_count(threads)
        first = self.servers[0]
        self.server_address: tuple[str, int] = (str(first.effective_host), int(first.effective_port))
        self._stop = threading.Event()
        self._running = threading.Lock()
        self._closed = False

    @property
    def limits(self) -> dict[str, float]:
        adj = self.adj
        return {
            "threads": adj.threads,
            "connection_limit": adj.connection_limit,
            "backlog": adj.backlog,
            "channel_timeout": adj.channel_timeout,
            "request_timeout": self.servers[0].request_timeout,
        }

    def serve_forever(self) -> None:
        """Run the I/O loop until shutdown()."""
        with self._running:
            while not self._stop.is_set():
                wasyncore.poll2(self.adj.asyncore_loop_timeout, self.map)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop serve_forever() (within about a second) and wait for it to return."""
        self._stop.set()
        for srv in self.servers:
            try:
                srv.pull_trigger()  # wakes the loop at once
            except OSError:
                pass
        if self._running.acquire(timeout=timeout):
            self._running.release()
        else:
            log.warning("the HTTP loop did not stop in %.0fs", timeout)

    def server_close(self) -> None:
        """Stop the worker threads (a request being answered gets 2 s) and close every socket."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self.dispatcher.shutdown(cancel_pending=True, timeout=2)
        wasyncore.close_all(self.map, ignore_all=True)
