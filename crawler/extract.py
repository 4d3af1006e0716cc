"""One extraction for every source (pure functions).

An article read from an HTML page, from WordPress's REST API, from its RSS feed or from a
text dump goes through the same steps here: its title cleaned, its body HTML turned into
paragraphs with the same boilerplate rules, its dates made timezone-aware, its identity
taken from its language and WordPress slug. So the same article from any two sources is
one row with one content hash.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable

from parsel import Selector

from crawler.dates import to_iso
from crawler.dumps import detect_lang, same_text, strip_title_repeats
from crawler.items import ArticleItem
from crawler.site import ICESCO, SiteProfile
from crawler.urls import article_path_info, canonical_url

_WS = re.compile(r"\s+")
_TAGS = re.compile(r"<[^>]*>")
# Page furniture: what sits around an article, never in it.
FURNITURE = (
    "ancestor::aside or ancestor::footer[not(ancestor::article)] or ancestor::nav"
    " or ancestor::header[not(ancestor::article or ancestor::main"
    " or contains(concat(' ', normalize-space(@class), ' '), ' entry-header '))]"
    " or ancestor::*[contains(concat(' ', normalize-space(@class), ' '), ' widget ')]"
    " or ancestor::*[contains(@class, 'sidebar')] or ancestor::*[contains(@class, 'share')]"
    " or ancestor::*[contains(@class, 'related')] or ancestor::script or ancestor::style"
    " or ancestor::*[contains(@class, 'screen-reader-text')]"
)
# C0 controls and bidi overrides/isolates: never part of an article (mail strips them too).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """Entities decoded, control characters dropped, white space collapsed."""
    return _WS.sub(" ", _CONTROLS.sub("", html.unescape(text))).strip()


def clean_title(raw: str, site: SiteProfile = ICESCO) -> str:
    """A title from any source: tags and entities gone (REST and feeds send
    ``&#8217;``), the site's suffix of ``<title>``/``og:title`` dropped."""
    return site.strip_title_suffix(clean_text(_TAGS.sub("", raw)))


def node_text(node: Selector) -> str:
    return _WS.sub(" ", " ".join(node.xpath(".//text()[not(ancestor::script or ancestor::style)]").getall())).strip()


def html_paragraphs(container: Selector, site: SiteProfile = ICESCO) -> list[str]:
    """The paragraphs of an article body (a page's content element, or the HTML of a
    REST or feed item): paragraphs, list items, sub-headings, quotes; the site's
    boilerplate and page furniture left out, repeats dropped."""
    paras: list[str] = []
    query = (
        f".//p[not({FURNITURE})] | .//li[not({FURNITURE})] | .//h2[not({FURNITURE})]"
        f" | .//h3[not({FURNITURE})] | .//blockquote[not(.//p)][not({FURNITURE})]"
    )
    for node in container.xpath(query):
        text = node_text(node)
        if not text or site.is_furniture(text):
            continue
        if paras and paras[-1] == text:
            continue
        paras.append(text)
    return paras


def fragment_paragraphs(fragment: str, site: SiteProfile = ICESCO) -> list[str]:
    """Paragraphs of an HTML fragment (REST ``content.rendered``, feed ``content:encoded``)."""
    return html_paragraphs(Selector(text=f"<div>{fragment}</div>"), site)


def build_article(
    *,
    title: str,
    paragraphs: Iterable[str],
    url: str,
    published: dt.datetime | dt.date | None = None,
    modified: dt.datetime | dt.date | None = None,
    categories: Iterable[str] = (),
    subtitle: str | None = None,
    lang: str = "",
    source: str = "",
    site: SiteProfile = ICESCO,
) -> ArticleItem:
    """The record of one article of ``site``. Identity: the site, the language (the
    ``/xx/`` of its URL) and its WordPress slug (the URL's last segment). The URL is on
    one of the site's hosts (the readers keep to them): no other site's page gets its ids."""
    if not site.owns(url):
        raise ValueError(f"{url}: not on the hosts of site {site.name} ({', '.join(site.hosts)})")
    title = clean_title(title, site)
    paras = strip_title_repeats([p for p in (clean_text(p) for p in paragraphs) if p], title)
    info = article_path_info(url) or {}
    lang = info.get("lang") or lang or detect_lang(" ".join(paras))
    if subtitle is not None:
        subtitle = clean_text(subtitle) or None
    if subtitle and same_text(subtitle, title):
        subtitle = None
    if subtitle and paras and same_text(paras[0], subtitle):
        paras = paras[1:]
    cats = sorted({clean_text(c) for c in categories if c and clean_text(c)})
    return ArticleItem(
        title=title,
        subtitle=subtitle,
        paragraphs=paras,
        lang=lang,
        slug=info.get("slug", ""),
        url=canonical_url(url),
        published_at=to_iso(published),
        modified_at=to_iso(modified),
        categories=cats,
        source=source or url,
        site=site.id_prefix,
    )
