"""DNS rebinding: the address the crawler connects to is the address that was checked.

The crawl runs in a subprocess whose name lookups are rigged (a ``sitecustomize`` module):
``rebind.test`` looks public to ``getaddrinfo`` (what a checker would ask) and is 127.0.0.1
to ``gethostbyname`` (what the connection's resolver asks). Nothing leaves the machine: the
"public" address is never connected to, and the loopback one is a local server that counts
what reaches it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import ROOT, cli_env, last_json, run_cli

pytestmark = pytest.mark.integration

SITECUSTOMIZE = """
import socket
_real_getaddrinfo, _real_gethostbyname = socket.getaddrinfo, socket.gethostbyname
def getaddrinfo(host, *args, **kwargs):
    if host == "rebind.test":
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0))]
    return _real_getaddrinfo(host, *args, **kwargs)
def gethostbyname(host):
    return "127.0.0.1" if host == "rebind.test" else _real_gethostbyname(host)
socket.getaddrinfo, socket.gethostbyname = getaddrinfo, gethostbyname
"""


def test_a_name_that_rebinds_to_loopback_is_not_fetched(tmp_path: Path) -> None:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            body = b"User-agent: *\nDisallow:\n" if self.path == "/robots.txt" else b"<html><body>listing</body></html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        env = cli_env(PYTHONPATH=f"{tmp_path}:{ROOT}")
        url = f"http://rebind.test:{server.server_address[1]}/en/category/news/"
        (tmp_path / "c.yaml").write_text("database: a.db\ncrawl: {download_delay: 0, hosts: [rebind.test]}\n")
        proc = run_cli("crawl", "--json", "--start-url", url, config=tmp_path / "c.yaml", env=env)
    finally:
        server.shutdown()
    result = last_json(proc)
    assert hits == []
    assert (proc.returncode, result["status"], result["new"]) == (1, "failed", 0)
    assert result["messages"][0] == (
        f"rebind.test:{server.server_address[1]}: robots.txt not fetched: rebind.test resolves to 127.0.0.1, an internal"
        " address: not fetched (list it in crawl.allow_addresses to crawl it); so nothing is fetched from it"
    ), result
