"""Headless Chromium for tests: what a reader's browser makes of our pages.

``load(url)`` runs Debian's ``chromium`` once (``--headless --dump-dom``) and returns a
``Page``: the DOM after the load event, the console messages (Chromium logs them to stderr
with ``--enable-logging=stderr``; Content-Security-Policy violations are console messages,
see ``Page.csp_violations``) and how long it took. ``dump_dom(url)`` is its DOM;
``screenshot(url, path, width, height)`` writes a PNG (and returns the page's console too).

Every run gets a fresh profile in a temporary folder (also its HOME) and a timeout, after
which its process group is killed. Only ``http://127.0.0.1`` URLs are loaded (others raise
``NotLoopback`` before anything starts), and the browser cannot reach anything else either:
host names resolve to nothing but 127.0.0.1, and every other address goes through a proxy
on a closed loopback port (loopback itself is never proxied).

The fixtures ``chromium`` (the binary; skips when missing, fails when
``ICESCO_REQUIRE_BROWSER=1``) and ``browser_out`` (this test's folder for screenshots,
under ``--browser-out``, by default ``test-output/browser/``) are registered in conftest.py.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "test-output" / "browser"
TIMEOUT = 60.0  # seconds for one run (start, load, dump); a loaded machine needs some
FLAGS = [
    "--headless",
    "--no-sandbox",  # (CI runs as root in a container)
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no name resolves to the outside
    "--proxy-server=http://127.0.0.1:9",  # addresses other than loopback: a closed port
    "--enable-logging=stderr",
    "--v=0",
]
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
# [pid:tid:date/time:INFO:CONSOLE:12] "message", source: http://127.0.0.1:8080/ (12)
# (older Chromium: CONSOLE(12)); a message may span lines.
_CONSOLE_RE = re.compile(
    r'^\[[^\]\n]*:CONSOLE(?::\d+|\(\d+\))\] "(?P<text>.*?)", source: (?P<source>\S*) \((?P<line>\d+)\)$',
    re.MULTILINE | re.DOTALL,
)
_LOAD_FAILED_RE = re.compile(r"Page load failed: (\S+)")


class BrowserError(Exception):
    """Chromium could not load the page (missing, timed out, failed, or the load failed)."""


class NotLoopback(BrowserError):
    """A URL the harness will not load: only http://127.0.0.1 is allowed."""


@dataclass(frozen=True)
class ConsoleMessage:
    text: str
    source: str
    line: int

    @property
    def csp_violation(self) -> bool:
        return "Content Security Policy" in self.text


@dataclass(frozen=True)
class Page:
    url: str
    dom: str  # after the load event ("" for a screenshot)
    console: tuple[ConsoleMessage, ...]
    seconds: float  # the whole run: start, load, output, exit

    @property
    def csp_violations(self) -> list[ConsoleMessage]:
        return [m for m in self.console if m.csp_violation]


def find_chromium() -> str | None:
    return shutil.which("chromium")


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if find_chromium() is None:
        return "no chromium on PATH (Debian: apt-get install chromium)"
    return None


def loopback_url(url: str) -> str:
    """``url`` if it is http://127.0.0.1[:port]/…, else NotLoopback."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.username or parts.password:
        raise NotLoopback(f"only http://127.0.0.1 URLs are loaded, not {url!r}")
    try:
        parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
    except ValueError as exc:
        raise NotLoopback(f"only http://127.0.0.1 URLs are loaded, not {url!r}") from exc
    return url


def parse_console(stderr: str) -> tuple[ConsoleMessage, ...]:
    """The console messages in Chromium's log (``--enable-logging=stderr``)."""
    return tuple(ConsoleMessage(m["text"], m["source"], int(m["line"])) for m in _CONSOLE_RE.finditer(stderr))


def load(url: str, *, timeout: float = TIMEOUT) -> Page:
    """The page at ``url`` as Chromium loads it: its DOM and its console."""
    out, console, seconds = _run(url, ["--dump-dom"], timeout)
    return Page(url, out, console, seconds)


def dump_dom(url: str, *, timeout: float = TIMEOUT) -> str:
    return load(url, timeout=timeout).dom


def screenshot(url: str, path: Path, width: int, height: int, *, timeout: float = TIMEOUT) -> Page:
    """A PNG of the page's first ``width`` x ``height`` pixels, written to ``path``."""
    url = loopback_url(url)
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    flags = [f"--screenshot={path}", f"--window-size={width},{height}", "--hide-scrollbars"]
    _, console, seconds = _run(url, flags, timeout)
    if not path.is_file():
        raise BrowserError(f"chromium wrote no screenshot of {url} to {path}")
    return Page(url, "", console, seconds)


def _run(url: str, flags: list[str], timeout: float) -> tuple[str, tuple[ConsoleMessage, ...], float]:
    url = loopback_url(url)
    binary = find_chromium()
    if binary is None:
        raise BrowserError(chromium_missing() or "no chromium")
    with tempfile.TemporaryDirectory(prefix="icesco-chromium-", ignore_cleanup_errors=True) as profile:
        env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS}
        env.update(HOME=profile, XDG_CONFIG_HOME=f"{profile}/config", XDG_CACHE_HOME=f"{profile}/cache")
        cmd = [binary, *FLAGS, f"--user-data-dir={profile}/profile", *flags, url]
        started = time.monotonic()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=profile, start_new_session=True
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.communicate()
            raise BrowserError(f"chromium did not finish with {url} in {timeout:g} s") from None
        finally:
            _kill_group(proc.pid)  # renderer, GPU and zygote processes left behind, if any
        seconds = time.monotonic() - started
    stderr = err.decode("utf-8", "replace")
    if proc.returncode != 0:
        tail = [line for line in stderr.splitlines() if "dbus" not in line][-5:]
        raise BrowserError(f"chromium exited with {proc.returncode} on {url}: " + " | ".join(tail))
    if failed := _LOAD_FAILED_RE.search(stderr):
        raise BrowserError(f"chromium could not load {url}: {failed[1]}")
    return out.decode("utf-8", "replace"), parse_console(stderr), seconds


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- pytest: the option, the fixtures -----------------------------------------------------


def add_options(parser: pytest.Parser) -> None:
    parser.addoption(
        "--browser-out",
        default=str(DEFAULT_OUT),
        help="folder for the browser tests' screenshots (default: test-output/browser/ in the repository)",
    )


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium's path. Skipped when it is missing, unless ICESCO_REQUIRE_BROWSER=1 (CI),
    which makes that a failure."""
    reason = chromium_missing()
    if reason is not None:
        if os.environ.get("ICESCO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"ICESCO_REQUIRE_BROWSER=1 but the browser tests cannot run: {reason}", pytrace=False)
        pytest.skip(f"headless browser unavailable: {reason}")
    return str(find_chromium())


@pytest.fixture
def browser_out(request: pytest.FixtureRequest) -> Iterator[Path]:
    """This test's own folder under --browser-out, emptied first (what is there after a run
    is that run's)."""
    base = Path(request.config.getoption("--browser-out"))
    folder = base / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("/")[-1]).strip("_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    yield folder
