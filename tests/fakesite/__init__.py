"""An ICESCO-like WordPress news site served on 127.0.0.1 for tests.

Stdlib only: a ``ThreadingHTTPServer`` in a daemon thread, bound to the
loopback interface on a free port.  Nothing here ever talks to any other host.

Typical use::

    with FakeSite([SiteArticle(...), ...], per_page=10) as site:
        url = f"{site.base_url}/en/category/news/"
        ...
        assert [h.path for h in site.hits] == [...]

Served pages
------------
``/robots.txt``
    ``robots_txt`` as ``text/plain``.
``/{lang}/category/{cat}/`` and ``/{lang}/category/{cat}/page/{N}/`` (N >= 2)
    Listing of that category and language, newest first, ``per_page`` a page.
    ``/page/1/`` answers 301 to the base listing, an out-of-range page 404.
    A category is known when it is ``news`` or any article has it; a known
    category without articles in that language gives an empty 200 listing.
    Article links are absolute: on ``127.0.0.1`` for ``news``, on
    ``alias_host`` (same port) for every other category.  Pagination links,
    ``rel=next``/``rel=prev``, nav, sidebar and footer links are absolute on
    ``127.0.0.1`` (the WordPress "home URL").
``/{lang}/{YYYY}/{MM}/{DD}/{slug}/``
    The article page (the date is ``published`` in its own time zone).
Anything else
    404 HTML page.  A known page requested without its trailing slash is
    301-redirected to the slashed URL, as WordPress does.

Listing and article pages carry a strong ``ETag`` (quoted sha1 of the body)
and ``Last-Modified`` (newest ``modified or published`` of every article shown
on the page, sidebar included, whole seconds), and answer 304 to a matching
``If-None-Match`` or, when no ``If-None-Match`` is sent, to an
``If-Modified-Since`` not older than ``Last-Modified``.  Every response has a
``Content-Length`` (on 304 and HEAD it is the length the 200 body would have,
as RFC 9110 allows; nothing is sent) and ``Connection: close``.

Fault injection
---------------
``fail(path, status)``, ``delay(path, seconds)`` and ``override(path, body)``
change what a path answers; ``reset(path)`` (close the connection without
answering, with a TCP RST), ``truncate(path)`` (announce the whole body in
``Content-Length``, send only part of it, close), ``stream(path, nbytes)`` (a
200 body of ``nbytes`` with no ``Content-Length``, ended by closing) and
``redirect(path, location)`` act at the connection level.  ``heal(path)``
removes every fault of a path (``heal()``: of every path).  ``page_bytes(path)``
is the body a healthy GET of a path would get.

The article date line uses localised month names: English for ``en``
(``"11 July 2024"``), French for ``fr`` (``"5 décembre 2022"``) and Arabic for
``ar``.  ``article:section`` / ``articleSection`` hold category *names*
(``executive-council`` -> ``"Executive Council"``), see ``category_name()``.

The package: ``site.py`` (``FakeSite``: life cycle, content, faults, answering a request),
``pages.py`` (the pages' markup), ``server.py`` (the HTTP server and the connection-level
faults), ``model.py`` (articles, hits, responses and small pure helpers).
"""

from fakesite.model import Hit, SiteArticle, category_name, excerpt
from fakesite.site import FakeSite

__all__ = ["FakeSite", "Hit", "SiteArticle", "category_name", "excerpt"]
