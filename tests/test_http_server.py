"""Fault tests of the HTTP server (waitress, monitor/web.py) against hostile clients, on 127.0.0.1.

The real service (`icesco-monitor serve`, in a subprocess, on an archive made by replaying the
bundled dumps) is held by 300 slowloris connections (a request sent a byte at a time, never
finished) and 200 idle keep-alive connections, and must still answer /healthz and /feed.xml
within a second, with its threads and memory bounded, and close everything afterwards. Under
a low descriptor limit it must not spin. In this process, with short timeouts: slow and idle
clients are disconnected.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import resource
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import DUMPS, cli_command, cli_env, free_port, run_cli, wait_until, write_config

from monitor.archive import Archive
from monitor.config import Config
from monitor.web import FeedCache, WebServer

pytestmark = pytest.mark.faults

SLOWLORIS = 300
IDLE = 200
ANSWER_WITHIN = 1.0  # seconds, for /healthz and /feed.xml while the server is held


# --- the service in a subprocess ---------------------------------------------------------------


def replayed_archive(folder: Path) -> Path:
    """An archive of the 50 bundled articles, each dump replayed (so the service's replay
    mode finds nothing left to crawl and stays quiet)."""
    db = folder / "archive.db"
    files = [str(p) for p in sorted(DUMPS.glob("*.txt"))]
    proc = run_cli("crawl", "--replay", *files, "--json", db=db)
    assert proc.returncode == 0, proc.stderr
    return db


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def status(self, key: str) -> int:
        """A number from /proc/PID/status (Threads; VmRSS in kB)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def sockets(self) -> int:
        """Open sockets of the server process (its listening socket included)."""
        n = 0
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            with contextlib.suppress(OSError):
                n += os.readlink(f"/proc/{self.pid}/fd/{fd}").startswith("socket:")
        return n

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serve(folder: Path, db: Path, nofile: int | None = None) -> Iterator[Served]:
    """`icesco-monitor serve` on a free port of 127.0.0.1, until SIGTERM (which must stop it,
    cleanly, within 10 s). nofile: its descriptor limit (soft and hard)."""
    cfg = write_config(
        folder,
        database=str(db),
        replay={"paths": [str(DUMPS)]},
        service={"mode": "replay", "crawl_every_minutes": 60, "crawl_jitter_seconds": 0, "digest_check_seconds": 3600},
    )
    port = free_port()
    log = folder / f"serve-{port}.log"

    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    with open(log, "wb") as err:  # a file, not a pipe: a full pipe would block the server's logging
        proc = subprocess.Popen(
            cli_command("serve", "--port", str(port), config=cfg),
            cwd=folder,
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
            preexec_fn=limit,
        )
    served = Served(proc, port, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(OSError):
                if request(port, "/healthz")[0] == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield served
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("the service did not stop within 10 s of SIGTERM") from None
    assert proc.returncode == 0, log.read_text()
    assert "stopped" in log.read_text()


def request(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes, float]:
    """One GET on a new connection: status, body, seconds."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    return resp.status, body, time.perf_counter() - started


# --- hostile clients -----------------------------------------------------------------------------

SLOW_REQUEST = b"GET /feed.xml HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\nX-Padding: "


def slowloris(port: int) -> socket.socket:
    """A client that starts a request and sends the rest a byte at a time (see dribble())."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(SLOW_REQUEST[:20])
    return s


def dribble(clients: list[socket.socket]) -> None:
    for s in clients:
        s.send(b"a")


def idle_keep_alive(port: int) -> socket.socket:
    """A client that completes one request with keep-alive, reads the answer, and then says nothing."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        assert chunk, "closed before answering"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 ") and b"connection: close" not in head.lower(), head
    length = int(
        next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    )
    while len(body) < length:
        body += s.recv(4096)
    return s


def still_open(s: socket.socket) -> bool:
    """True if the server has not closed s (nothing to read, no EOF)."""
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    if soft != resource.RLIM_INFINITY and soft < want:  # 500 client sockets and pytest's own
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= SLOWLORIS + IDLE + 100
    return replayed_archive(tmp_path_factory.mktemp("http-archive"))


# --- the tests -----------------------------------------------------------------------------------


def test_slowloris_and_idle_keep_alives_do_not_starve_the_server(archive: Path, tmp_path: Path) -> None:
    clients: list[socket.socket] = []
    try:
        with serve(tmp_path, archive) as srv:
            for _ in range(3):  # warm up: the feed built, the worker threads started
                assert request(srv.port, "/feed.xml")[0] == 200
            # (the warm-up's connections are closed once the server has read their end)
            assert wait_until(lambda: srv.sockets() == 1, 5), srv.sockets()  # the listening socket
            threads_before, rss_before, sockets_before = srv.status("Threads"), srv.status("VmRSS"), srv.sockets()

            started = time.monotonic()
            slow = [slowloris(srv.port) for _ in range(SLOWLORIS)]
            clients += slow
            idle = [idle_keep_alive(srv.port) for _ in range(IDLE)]
            clients += idle
            dribble(slow)
            opened = time.monotonic() - started

            # Held by 500 connections (all really open on the server's side), the server answers.
            assert wait_until(lambda: srv.sockets() == sockets_before + SLOWLORIS + IDLE, 5), srv.sockets()
            timings: dict[str, list[float]] = {"/healthz": [], "/feed.xml": []}
            for _round in range(3):
                for path in timings:
                    status, body, took = request(srv.port, path, timeout=ANSWER_WITHIN * 5)
                    assert status == 200 and body, (path, status)
                    timings[path].append(took)
                dribble(slow)  # the slow requests go on, a byte at a time
                time.sleep(0.3)
            slowest = {path: max(t) for path, t in timings.items()}
            threads, rss = srv.status("Threads"), srv.status("VmRSS")
            sockets_held = srv.sockets()
            print(
                f"\n500 hostile connections opened in {opened:.2f}s; slowest answers: "
                + ", ".join(f"{p} {1000 * t:.0f} ms" for p, t in slowest.items())
                + f"; threads {threads_before} -> {threads}; RSS {rss_before // 1024} -> {rss // 1024} MiB;"
                f" sockets {sockets_before} -> {sockets_held}"
            )
            assert all(t < ANSWER_WITHIN for t in slowest.values()), slowest
            # No thread per connection: waitress's fixed pool (8) plus the service's own threads.
            assert threads <= threads_before + 2 and threads <= 40, (threads_before, threads)
            # Memory: a few kB per connection, no growth with the number of clients beyond that.
            assert rss - rss_before < 40 * 1024, (rss_before, rss)
            # None of the clients was dropped: the server bears them (they time out only after
            # 15 s, a request's limit, and 30 s idle).
            assert sum(still_open(s) for s in clients) == SLOWLORIS + IDLE

            # Everything is closed at the end: the clients hang up, the server lets go of them.
            for s in clients:
                s.close()
            clients.clear()
            assert wait_until(lambda: srv.sockets() <= sockets_before, 5), (sockets_before, srv.sockets())
            assert request(srv.port, "/healthz")[0] == 200
    finally:
        for s in clients:
            s.close()


def test_a_low_descriptor_limit_does_not_spin_the_server(archive: Path, tmp_path: Path) -> None:
    """Under RLIMIT_NOFILE 128, more slow clients than descriptors: the server stops accepting
    at its connection limit (fitted to the descriptor limit) instead of looping on accept()'s
    EMFILE, and answers again as soon as they go."""
    clients: list[socket.socket] = []
    try:
        with serve(tmp_path, archive, nofile=128) as srv:
            for _ in range(150):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                s.sendall(SLOW_REQUEST[:20])  # accepted or left in the backlog: both hold
                clients.append(s)
            time.sleep(0.5)
            cpu, started = srv.cpu_seconds(), time.monotonic()
            time.sleep(3)
            used = (srv.cpu_seconds() - cpu) / (time.monotonic() - started)
            print(f"\nat the descriptor limit: {srv.sockets()} sockets, CPU {100 * used:.1f} %")
            assert used < 0.2, f"the server used {100 * used:.0f} % CPU while at its limit"
            assert srv.sockets() < 128
            for s in clients:
                s.close()
            clients.clear()
            deadline = time.monotonic() + 5
            while True:
                try:
                    status, _, took = request(srv.port, "/healthz", timeout=2)
                    break
                except OSError:
                    assert time.monotonic() < deadline
            assert status == 200
            assert "connection limit" in srv.log.read_text()  # waitress said it stopped accepting
    finally:
        for s in clients:
            s.close()


@pytest.fixture
def short_timeouts(tmp_path: Path) -> Iterator[WebServer]:
    """The server in this process with timeouts of 1.5 s (the service's: 30 s idle, 15 s a request)."""
    cfg = Config(database=str(tmp_path / "web.db"))
    with Archive(cfg.database):
        pass
    srv = WebServer(
        cfg, FeedCache(cfg), "127.0.0.1", 0, channel_timeout=1.5, request_timeout=1.5, cleanup_interval=0.25
    )
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_slow_and_idle_clients_are_timed_out(short_timeouts: WebServer) -> None:
    port = short_timeouts.server_address[1]
    slow = slowloris(port)  # keeps sending, a byte every 0.2 s: not idle, but too slow
    idle = idle_keep_alive(port)  # done, then silent
    silent = socket.create_connection(("127.0.0.1", port), timeout=5)  # connects, never sends
    steady = socket.create_connection(("127.0.0.1", port), timeout=5)  # slow but within the limit
    try:
        steady_request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        started = time.monotonic()
        for k in range(0, len(steady_request), 10):
            steady.sendall(steady_request[k : k + 10])
            if still_open(slow):
                slow.send(b"a")
            time.sleep(0.05)
        assert steady.recv(100).startswith(b"HTTP/1.1 503 ")  # answered (no crawl yet: 503)
        for s in (slow, idle, silent):
            assert still_open(s)
        while time.monotonic() - started < 6 and any(still_open(s) for s in (slow, idle, silent)):
            if still_open(slow):
                with contextlib.suppress(OSError):
                    slow.send(b"a")
            time.sleep(0.2)
        took = time.monotonic() - started
        assert not any(still_open(s) for s in (slow, idle, silent)), took
        assert took < 4, took  # 1.5 s, checked every 0.25 s
        assert request(port, "/healthz")[0] == 503  # and the server goes on
        assert short_timeouts.limits["request_timeout"] == 1.5
    finally:
        for s in (slow, idle, silent, steady):
            s.close()
