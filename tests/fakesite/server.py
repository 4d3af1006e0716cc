"""The fake site's HTTP server: a ``ThreadingHTTPServer`` on 127.0.0.1 whose handler records
each request and applies the connection-level faults (reset, truncate, stream, redirect)."""

from __future__ import annotations

import socket
import struct
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from fakesite.model import _NO_BODY_STATUSES, LOOPBACK, Hit, _canonical_header_name, _ConnFault, _hostname, _Response

if TYPE_CHECKING:
    from fakesite.site import FakeSite


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, site: FakeSite) -> None:
        self.site = site
        super().__init__((LOOPBACK, 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Keep stderr quiet; client disconnects etc. are not test failures.
        return


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "Apache"

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        site = self.server.site
        target = urllib.parse.urlsplit(self.path)
        path = target.path or "/"
        headers = {_canonical_header_name(k): v for k, v in self.headers.items()}
        host = _hostname(headers.get("Host") or target.netloc)
        recorded_path = f"{path}?{target.query}" if target.query else path
        hit = Hit(self.command, recorded_path, host, 0, 0, headers)
        site._record(hit)
        self.close_connection = True
        fault = site._take_conn_fault(path)
        if fault is not None and fault.kind == "reset":
            self._reset()
            return
        if fault is not None and fault.kind == "stream":
            self._stream(hit, fault)
            return
        if fault is not None and fault.kind == "redirect":
            self._send(hit, site._redirect_response(fault), None)
            return
        try:
            response = site._respond(self.command, path, headers)
        except Exception as exc:  # noqa: BLE001 - a fake-site bug: 500, kept
            site.errors.append(exc)
            response = site._error_response(500)
        if response is None:  # stop() interrupted a delay
            return
        self._send(hit, response, fault.fraction if fault is not None else None)

    def _send(self, hit: Hit, response: _Response, fraction: float | None) -> None:
        """Send ``response``; with ``fraction``, only that share of the body (the
        Content-Length still announces all of it), then the connection is closed."""
        send_body = self.command != "HEAD" and response.status not in _NO_BODY_STATUSES
        body = response.body if send_body else b""
        if fraction is not None:
            body = body[: int(len(body) * fraction)]
        hit.status = response.status
        hit.bytes_sent = len(body)
        try:
            self.send_response(response.status)
            if response.status not in _NO_BODY_STATUSES or response.body:
                self.send_header("Content-Type", response.content_type)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if body:
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # client went away (timeouts, cancelled requests)
            return

    def _reset(self) -> None:
        """Close the connection at once, unanswered: SO_LINGER 0 makes it an RST."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.rfile.close()  # drops the last reference the socket's files hold to it
        self.wfile.close()
        self.connection.close()

    def _stream(self, hit: Hit, fault: _ConnFault) -> None:
        """A 200 of ``fault.nbytes`` bytes without Content-Length, ended by closing."""
        site = self.server.site
        hit.status = 200
        chunk = (b"<p>" + b"x" * 1017 + b"</p>\n") * 64  # 64 KiB
        try:
            self.send_response(200)
            self.send_header("Content-Type", fault.content_type)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.flush()
            if self.command == "HEAD":
                return
            left = fault.nbytes
            while left > 0 and not site._stopping.is_set():
                part = chunk[:left]
                self.wfile.write(part)
                hit.bytes_sent += len(part)
                left -= len(part)
            self.wfile.flush()
        except OSError:  # the client gave up (size limit, timeout)
            return
