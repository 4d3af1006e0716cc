"""What every handler shares: the request as handlers see it, responses, the security
headers of HTML pages (a strict Content-Security-Policy: no script, styles from this
service only) and conditional GET for cached bodies."""

from __future__ import annotations

import email.utils
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.web.feedcache import Built, FeedCache

Response = tuple[int, list[tuple[str, str]], bytes]

MAX_FORM_BYTES = 16 * 1024  # a form is a few fields; a larger body is refused (413)

# No script at all, styles and images from this service only, forms post only here.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HTML_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


class FormTooLarge(ValueError):
    """A request body beyond MAX_FORM_BYTES."""


@dataclass
class Request:
    """One request as the handlers see it (``query``: the decoded query string)."""

    cfg: Config
    feeds: FeedCache
    environ: dict[str, Any]
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_environ(cls, cfg: Config, feeds: FeedCache, environ: dict[str, Any]) -> Request:
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        path = environ.get("PATH_INFO", "") or "/"
        return cls(cfg, feeds, environ, environ.get("REQUEST_METHOD", "GET"), path, query)

    def arg(self, name: str, default: str = "") -> str:
        """The first value of a query parameter."""
        return self.query.get(name, [default])[0]

    @property
    def client(self) -> str:
        """The client's address (the service listens on its own; no proxy header is trusted)."""
        return str(self.environ.get("REMOTE_ADDR", ""))

    def form(self) -> dict[str, list[str]]:
        """The url-encoded body of a POST (bounded); raises FormTooLarge."""
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_FORM_BYTES:
            raise FormTooLarge(f"a form of {length} bytes; at most {MAX_FORM_BYTES}")
        body = self.environ["wsgi.input"].read(length) if length > 0 else b""
        return urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def respond(status: int, ctype: str, body: bytes, headers: dict[str, str] | None = None) -> Response:
    out = [
        ("Content-Type", ctype),
        ("Content-Length", str(len(body))),
        ("X-Content-Type-Options", "nosniff"),
        *(headers or {}).items(),
    ]
    return status, out, body


def text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return respond(status, "text/plain; charset=utf-8", message.encode(), headers)


def html(status: int, page: str, headers: dict[str, str] | None = None) -> Response:
    """An HTML page with the security headers (strict CSP)."""
    return respond(status, "text/html; charset=utf-8", page.encode(), {**HTML_HEADERS, **(headers or {})})


def conditional(built: Built, ctype: str, environ: dict[str, Any], max_age: int = 300) -> Response:
    """A cached body with its validators; 304 when the client's copy is current."""
    last_modified = email.utils.format_datetime(built.last_modified, usegmt=True)
    headers = {"ETag": built.etag, "Last-Modified": last_modified, "Cache-Control": f"max-age={max_age}"}
    inm = environ.get("HTTP_IF_NONE_MATCH")
    ims = environ.get("HTTP_IF_MODIFIED_SINCE")
    fresh = False
    if inm is not None:
        fresh = built.etag in [t.strip().removeprefix("W/") for t in inm.split(",")] or inm.strip() == "*"
    elif ims is not None:
        try:
            fresh = built.last_modified.replace(microsecond=0) <= email.utils.parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            fresh = False
    if fresh:  # (waitress drops Content-Length from a 304, as RFC 9110 allows)
        return respond(304, ctype, b"", headers)
    return respond(200, ctype, built.body, headers)
