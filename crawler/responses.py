"""Responses as the spider reads them: text decoding, content types, download slots."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from scrapy.http import Response, TextResponse

from crawler.urls import bare_host


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def download_slot(url: str) -> str:
    """One download slot per site: icesco.org and www.icesco.org are one server, asked
    one request at a time."""
    return bare_host(urlsplit(url).hostname or "")


class NotText(ValueError):
    """A response that is not a text page (an image, a PDF, a download)."""


def page_text(response: Response) -> str:
    """The page as text. With no charset declared (header or <meta>), UTF-8 if the bytes
    are UTF-8, else windows-1252 (the web's default), never a guess. (``_declared_encoding``
    is Scrapy's; tests/test_scrapy_contract.py fails if an upgrade changes it.)"""
    if not isinstance(response, TextResponse):
        raise NotText(f"{response.url}: not an HTML page ({content_type(response)})")
    if response._declared_encoding():
        return response.text
    try:
        return response.body.decode("utf-8")
    except UnicodeDecodeError:
        return response.body.decode("windows-1252", errors="replace")


WHY = {
    "DownloadCancelledError": "cancelled: larger than crawl.max_response_bytes",
    "ResponseDataLossError": "the body was cut off before its Content-Length",
    "ResponseNeverReceived": "no response (connection closed or reset)",
}


def content_type(response: Response) -> str:
    return (response.headers.get("Content-Type") or b"no Content-Type").decode("latin-1")


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """The headers of a conditional GET from a page's stored validators."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers
