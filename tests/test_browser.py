"""What a reader's browser makes of our pages: headless Chromium (tests/browser.py) against
loopback servers, and against the real service on a replayed archive."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import logging
import re
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
from browser import BrowserError, ConsoleMessage, NotLoopback, dump_dom, load, loopback_url, parse_console, screenshot
from helpers import DUMPS, run_cli, serving

from monitor.archive import Archive
from monitor.config import Config

pytestmark = pytest.mark.integration

log = logging.getLogger(__name__)

STRICT_CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
INLINE_STYLE = "p { color: rebeccapurple; }"
INLINE_SCRIPT = "document.title = 'script ran';"


def page(head: str, body: str) -> bytes:
    return f"<!doctype html><html><head><title>test page</title>{head}</head><body>{body}</body></html>".encode()


# The same page twice: its style and script inline, or as files of its own origin.
PAGES: dict[str, tuple[str, bytes]] = {
    "/inline": (
        "text/html; charset=utf-8",
        page(f"<style>{INLINE_STYLE}</style>", f"<p>Hello</p><script>{INLINE_SCRIPT}</script>"),
    ),
    "/files": (
        "text/html; charset=utf-8",
        page('<link rel="stylesheet" href="/style.css">', '<p>Hello</p><script src="/app.js"></script>'),
    ),
    "/style.css": ("text/css; charset=utf-8", INLINE_STYLE.encode()),
    "/app.js": ("text/javascript; charset=utf-8", INLINE_SCRIPT.encode()),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ctype, body = PAGES.get(self.path, ("text/plain; charset=utf-8", b"not found\n"))
        self.send_response(200 if self.path in PAGES else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", STRICT_CSP)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]


@pytest.fixture
def strict_site() -> Iterator[tuple[str, list[str]]]:
    """A loopback server whose pages all carry a strict Content-Security-Policy; yields its
    base URL and the paths it was asked for."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.paths  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def csp_hash(source: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/",
        "https://127.0.0.1/",
        "http://localhost:8080/",
        "http://127.0.0.2/",
        "http://[::1]:8080/",
        "http://127.0.0.1.nip.io/",
        "http://127.0.0.1@example.org/",
        "http://user:pw@127.0.0.1/",
        "http://127.0.0.1:port/",
        "file:///etc/passwd",
        "data:text/html,<p>x</p>",
        "javascript:alert(1)",
        "",
    ],
)
def test_only_loopback_urls_are_loaded(url: str, tmp_path: Path) -> None:
    with pytest.raises(NotLoopback) as caught:
        load(url)
    assert str(caught.value) == f"only http://127.0.0.1 URLs are loaded, not {url!r}"
    with pytest.raises(NotLoopback):
        screenshot(url, tmp_path / "shots" / "never.png", 10, 10)
    assert list(tmp_path.iterdir()) == []
    assert loopback_url("http://127.0.0.1:8080/articles/x?y=1") == "http://127.0.0.1:8080/articles/x?y=1"


def test_console_lines_are_parsed() -> None:
    stderr = (
        "[1:2:1126/093721.285226:ERROR:dbus/bus.cc:405] Failed to connect to the bus\n"
        '[1:1:1126/093721.755557:INFO:CONSOLE:1] "Applying inline style violates the following Content Security'
        " Policy directive 'default-src 'self''. The action has been blocked.\", source: http://127.0.0.1:8/ (1)\n"
        '[1:1:1126/093721.755614:INFO:CONSOLE:7] "two\nlines, "quoted"", source: http://127.0.0.1:8/app.js (7)\n'
        '[1:1:1126/093721.755614:INFO:CONSOLE(3)] "older format", source:  (3)\n'
        "[1:1:1126/093721.9:WARNING:other.cc:1] not console\n"
    )
    assert parse_console(stderr) == (
        ConsoleMessage(
            "Applying inline style violates the following Content Security Policy directive 'default-src 'self''."
            " The action has been blocked.",
            "http://127.0.0.1:8/",
            1,
        ),
        ConsoleMessage('two\nlines, "quoted"', "http://127.0.0.1:8/app.js", 7),
        ConsoleMessage("older format", "", 3),
    )
    assert [m.csp_violation for m in parse_console(stderr)] == [True, False, False]


def test_csp_violations_are_reported(chromium: str, strict_site: tuple[str, list[str]], browser_out: Path) -> None:
    base, paths = strict_site
    inline = load(f"{base}/inline")
    log.info("one chromium load took %.2f s", inline.seconds)
    # Both inline blocks are refused: each violation names the hash that would allow it.
    found = [h for m in inline.csp_violations for h in _hashes(m.text)]
    assert sorted(found) == sorted([csp_hash(INLINE_STYLE), csp_hash(INLINE_SCRIPT)])
    assert [(m.source, m.csp_violation) for m in inline.console] == [(f"{base}/inline", True)] * 2
    assert _title(inline.dom) == "test page"  # the script did not run
    # The same style and script as files of the page's own origin: no violation, and they ran.
    files = load(f"{base}/files")
    assert (files.console, files.csp_violations) == ((), [])
    assert _title(files.dom) == "script ran"
    # (Chromium may or may not ask for /favicon.ico before it exits.)
    # The two pages in order; a page's style sheet and script are fetched in parallel, in either order.
    fetched = [p for p in paths if p != "/favicon.ico"]
    assert (fetched[:2], sorted(fetched[2:])) == (["/inline", "/files"], ["/app.js", "/style.css"])
    shot = screenshot(f"{base}/inline", browser_out / "inline.png", 640, 480)
    assert png_size(browser_out / "inline.png") == (640, 480)
    assert len(shot.csp_violations) == 2


def test_a_failed_load_is_an_error(chromium: str) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BrowserError) as caught:
        dump_dom(f"http://127.0.0.1:{port}/")
    assert str(caught.value) == f"chromium could not load http://127.0.0.1:{port}/: net::ERR_CONNECTION_REFUSED"


def _hashes(text: str) -> list[str]:
    return re.findall(r"sha256-[A-Za-z0-9+/]+=*", text)


def _title(dom: str) -> str:
    return str(lxml.html.fromstring(dom).findtext(".//title"))


# --- the real service ------------------------------------------------------------------------


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The real service (``icesco-monitor serve``, a subprocess) on a free port, over an
    archive of the bundled dumps replayed first; its replay mode finds nothing left to do."""
    db = tmp_path / "svc.db"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        json.dumps(
            {
                "database": str(db),
                "replay": {"paths": [str(DUMPS)]},
                "service": {"mode": "replay", "crawl_every_minutes": 60, "crawl_jitter_seconds": 0},
            }
        ),
        encoding="utf-8",
    )
    dumps = [str(f) for f in sorted(DUMPS.glob("*.txt"))]  # named one by one, as the service records them
    replayed = run_cli("crawl", "--replay", *dumps, config=cfg)
    assert replayed.returncode == 0, replayed.stderr
    with serving(cfg, tmp_path) as served:
        yield served.base, db
    assert served.returncode == 0, served.log
    assert "replay: every dump has been replayed; nothing to crawl" in served.log


def test_the_index_shows_the_archive(chromium: str, service: tuple[str, Path], browser_out: Path) -> None:
    base, db = service
    shot = screenshot(f"{base}/", browser_out / "index.png", 1280, 1600)
    assert png_size(browser_out / "index.png") == (1280, 1600)
    page = load(f"{base}/")
    log.info("chromium: screenshot %.2f s, DOM %.2f s", shot.seconds, page.seconds)
    items = Config().feed.items
    with Archive(db, migrate=False) as archive:
        # those with a known date, newest first, then those without (by when they were stored)
        dated = [r.title for r in archive.articles(dated=True, limit=items)]
        undated = [r.title for r in archive.articles(dated=False, limit=items)]
        assert (archive.count(), len(dated), len(undated)) == (50, 38, 12)  # every article is on the page
    shown = [a.text_content() for a in lxml.html.fromstring(page.dom).xpath("//ol/li/a[1]")]
    assert shown == dated + undated
    # No console message at all, so no Content-Security-Policy violation. (The service sends
    # no CSP header yet: under default-src 'self' the inline <style> would be one.)
    assert (page.console, shot.console, page.csp_violations) == ((), (), [])
