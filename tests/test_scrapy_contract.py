"""Contract tests: the few private parts of Scrapy this project relies on, checked so that
a Scrapy upgrade that changes them fails here, by name, not somewhere deep in a crawl.

- ``RetryMiddleware._retry(request, reason)``: BackoffRetryMiddleware waits, then retries
  through it (Scrapy's own retry bookkeeping: counts, stats, priority);
- ``RedirectMiddleware._redirect(redirected, request, reason)``: CheckedRedirectMiddleware
  refuses redirects off the allowed hosts and loops there, so the run reports them;
- ``Downloader.slots`` and ``Slot.delay``/``Slot.lastseen``: a Retry-After wait holds the
  site's download slot;
- ``TextResponse._declared_encoding()``: a page with no declared charset is decoded as
  UTF-8 else windows-1252, never by Scrapy's guess.
"""

from __future__ import annotations

import inspect

import pytest
from scrapy.core.downloader import Downloader, Slot
from scrapy.downloadermiddlewares.redirect import BaseRedirectMiddleware, RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import HtmlResponse, TextResponse

pytestmark = pytest.mark.unit


def params(func: object) -> list[str]:
    return list(inspect.signature(func).parameters)  # type: ignore[arg-type]


def test_retry_middleware_retries_through_retry() -> None:
    assert params(RetryMiddleware._retry) == ["self", "request", "reason"]
    assert "self._retry(" in inspect.getsource(RetryMiddleware.process_response)


def test_redirect_middleware_redirects_through_redirect() -> None:
    assert params(BaseRedirectMiddleware._redirect) == ["self", "redirected", "request", "reason"]
    assert "self._redirect(" in inspect.getsource(RedirectMiddleware.process_response)


def test_download_slots_have_a_delay_and_a_last_seen_time() -> None:
    assert "self.slots" in inspect.getsource(Downloader.__init__)
    slot = Slot(concurrency=1, delay=2.0, jitter=0)
    assert (slot.delay, hasattr(slot, "lastseen")) == (2.0, True)


def test_text_responses_say_whether_their_encoding_was_declared() -> None:
    declared = HtmlResponse("https://icesco.org/", body=b"<meta charset='utf-8'><p>x</p>")
    undeclared = HtmlResponse("https://icesco.org/", body=b"<p>caf\xe9</p>")
    assert (declared._declared_encoding(), undeclared._declared_encoding()) == ("utf-8", None)
    assert issubclass(HtmlResponse, TextResponse)
