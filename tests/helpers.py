"""Shared test helpers, one copy of each (tests and benchmarks import them from here):
paths; the real command line in a subprocess; config files; free ports and HTTP requests
on 127.0.0.1; waiting for an observed event; a synthetic corpus of dumps."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

from crawler.site import WORDPRESS_BOILERPLATE, SiteProfile

ROOT = Path(__file__).resolve().parent.parent
DUMPS = ROOT / "monitor" / "demo" / "dumps"
SAMPLES = ROOT / "tests" / "fixtures" / "samples"
LOOPBACK = "127.0.0.1"

_PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy")

# A second site: a hypothetical WordPress newspaper with its own hosts, furniture, title suffix.
EXAMPLE_SITE = SiteProfile(
    name="example",
    hosts=("example.org", "news.example.org"),
    news=(("", "news"),),
    title_names=("Example Times",),
    boilerplate=(*WORDPRESS_BOILERPLATE, r"subscribe to (the )?example times( newsletter)?\W*"),
    timezone="Europe/London",
)
# The command line with EXAMPLE_SITE registered, as a built-in profile of crawler/site.py would be.
_WITH_EXAMPLE_SITE = (
    "import crawler.site, helpers; crawler.site.register(helpers.EXAMPLE_SITE);"
    " from monitor.cli import main; main(prog_name='icesco-monitor')"
)


# --- the command line in a subprocess ------------------------------------------------------


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a subprocess of this checkout: importable (``PYTHONPATH``, which
    ``extra`` may replace; ``tests/`` too, for EXAMPLE_SITE), no proxy whatever this
    environment says, plus ``extra``."""
    path = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
    env = dict(os.environ, PYTHONPATH=path, NO_PROXY="*", no_proxy="*")
    for var in _PROXY_VARS:
        env.pop(var, None)
    env.update(extra)
    return env


def cli_command(
    *args: str, db: Path | None = None, config: Path | None = None, example_site: bool = False
) -> list[str]:
    """``python -m monitor.cli [--config CFG] [--db DB] ARGS``; with ``example_site``,
    profile ``example`` (EXAMPLE_SITE) can be picked in its config."""
    cmd = [sys.executable, "-c", _WITH_EXAMPLE_SITE] if example_site else [sys.executable, "-m", "monitor.cli"]
    if config is not None:
        cmd += ["--config", str(config)]
    if db is not None:
        cmd += ["--db", str(db)]
    return [*cmd, *args]


def run_cli(
    *args: str,
    db: Path | None = None,
    config: Path | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    example_site: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``icesco-monitor`` to its end in a subprocess (a real crawl needs its own process)."""
    return subprocess.run(
        cli_command(*args, db=db, config=config, example_site=example_site),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or cli_env(),
        cwd=ROOT,
    )


def start_cli(*args: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
    """The same, started in a session of its own (so that what it leaves can be found and
    killed), its output to ``log``."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            cli_command(*args, config=config),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=cli_env(),
            cwd=ROOT,
            start_new_session=True,
        )


def last_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON object on the last line of a command's output (``--json``)."""
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no output (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def crawl_json(*args: str, db: Path, config: Path | None = None) -> dict[str, Any]:
    proc = run_cli("crawl", "--json", *args, db=db, config=config)
    assert proc.returncode == 0, proc.stderr
    return last_json(proc)


# --- config files ---------------------------------------------------------------------------


def write_config(folder: Path, name: str = "config.yaml", **sections: Any) -> Path:
    """A config file in ``folder`` (JSON, which YAML reads) of these sections; the database
    is ``folder/archive.db`` unless ``database`` is given."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {"database": str(folder / "archive.db"), **sections}
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def site_crawl(start_url: str, **overrides: Any) -> dict[str, Any]:
    """The ``crawl`` section for a test site on 127.0.0.1: its listing, no delay, one retry,
    a backfill deep enough for every page, no revisits."""
    return {
        "start_urls": [start_url],
        "hosts": [LOOPBACK],
        "download_delay": 0,
        "timeout": 5,
        "retries": 1,
        "backfill_pages": 10,
        "revisit_after_hours": 1000,
        **overrides,
    }


# --- 127.0.0.1: ports, HTTP, waiting ---------------------------------------------------------


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago (nothing listens on it)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@dataclass
class Reply:
    """One HTTP response: status, headers (names case-insensitive), body (not decoded)."""

    status: int
    headers: Message
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch(
    url: str,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    *,
    follow_redirects: bool = False,
    timeout: float = 5.0,
) -> Reply:
    """An HTTP request, never through a proxy: any status is returned, not raised."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if not follow_redirects:
        handlers.append(_NoRedirect())
    request = urllib.request.Request(url, headers=dict(headers or {}), method=method)
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read(), response.url)
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, exc.headers, exc.read(), url)


def get(url: str, headers: Mapping[str, str] | None = None, method: str = "GET") -> tuple[int, Message, bytes]:
    """``fetch`` as a tuple: status, headers, body."""
    reply = fetch(url, headers, method)
    return reply.status, reply.headers, reply.body


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    """Poll ``predicate`` (an ``OSError`` counts as not yet) until it holds or ``timeout``
    seconds have passed; whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


# --- a synthetic corpus of dumps, built from the bundled ones ---------------------------

# The page furniture that opens every ICESCO listing capture (see monitor/demo/dumps/).
DUMP_HEADER = (
    "Disclaimer: You are using Google Translate. The ICESCO is not responsible for the accuracy"
    " of the information in the translated language .\n\n"
    "your opinion\n\n"
    "User Feedback\n\n"
    "Overall, how satisfied are you about the website?\n\n"
    "    Extremely Dissatisfied Extremely Satisfied\n\n"
)


def synthetic_dump(sources: list[Any], first: int, per_file: int) -> str:
    """One listing capture in the bundled dumps' format: header, then articles (title,
    maybe subtitle, paragraphs), all indented 4 spaces; each article made unique."""
    parts = [DUMP_HEADER]
    for k in range(first, first + per_file):
        src = sources[k % len(sources)]
        paragraphs = [f"{src.paragraphs[0]} Copy {k}.", *src.paragraphs[1:]]
        blocks = [f"{src.title} (copy {k})", *([src.subtitle] if src.subtitle else []), *paragraphs]
        parts.append("".join(f"    {b}\n\n" for b in blocks))
    return "".join(parts)


def real_articles() -> list[Any]:
    """The 50 articles of the bundled dumps, parsed."""
    from crawler.dumpfiles import read_dump

    return [item for path in sorted(DUMPS.glob("*.txt")) for item in read_dump(path)[0]]


def write_corpus(folder: Path, files: int, per_file: int) -> int:
    """``files`` dumps of ``per_file`` unique articles each; returns their size in bytes."""
    sources = real_articles()
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (folder / f"{i:05d}.txt").write_text(synthetic_dump(sources, i * per_file, per_file), encoding="utf-8")
    return sum(f.stat().st_size for f in folder.iterdir())


@dataclass
class Served:
    """A service started by ``serving``: its base URL; once stopped, its exit code and log."""

    base: str
    returncode: int | None = None
    log: str = ""


@contextlib.contextmanager
def serving(config: Path, cwd: Path, timeout: float = 60) -> Iterator[Served]:
    """``icesco-monitor serve`` of ``config`` on a free port until the block ends (it is up
    when /healthz answers 200), then SIGTERM; its exit code and log are then in the result."""
    port = free_port()
    cmd = cli_command("serve", "--port", str(port), config=config)
    proc = subprocess.Popen(cmd, cwd=cwd, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    served = Served(f"http://127.0.0.1:{port}")
    try:
        up = wait_until(lambda: proc.poll() is not None or fetch(served.base + "/healthz").status == 200, timeout, 0.3)
        assert up and proc.poll() is None, "the service did not come up"
        yield served
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, served.log = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        served.returncode = proc.returncode
