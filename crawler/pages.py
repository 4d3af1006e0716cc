"""HTML pages of a WordPress news site into records (pure functions).

The reader takes what WordPress themes publish in standard ways, whatever the theme:
article links are found by what they are (links to ``/xx/YYYY/MM/DD/slug/`` URLs in the
page's main content or post list), titles from ``h1.entry-title`` (classic themes),
``.wp-block-post-title`` (block themes), ``og:title`` or JSON-LD, dates from
``<time datetime>`` with their offset, categories from ``rel~=category`` links and block
themes' post-terms (``rel~=tag`` links to a category). The body goes through the one
extraction of :mod:`crawler.extract`; trafilatura is the last resort.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from crawler.dates import parse_date_line, parse_iso_datetime
from crawler.extract import FURNITURE, build_article, clean_title, html_paragraphs, node_text
from crawler.items import ArticleItem
from crawler.site import ICESCO, SiteProfile
from crawler.urls import PAGE_PATH_RE, article_path_info, canonical_url, host_allowed

log = logging.getLogger(__name__)


class PageError(ValueError):
    """A page that holds no article (or no listing) we can read."""


_ARTICLE_TYPES = {"NewsArticle", "BlogPosting", "Article", "ReportageNewsArticle"}
# Where a theme puts the posts of a page, most specific first.
_MAIN = (
    ".wp-block-post-template",
    ".wp-block-query",
    "main",
    "#main",
    ".site-main",
    "[role=main]",
    "#content",
    ".content",
)
_TITLES = (
    "h1.entry-title",
    "h1.wp-block-post-title",
    ".wp-block-post-title",
    "article .entry-title",
    ".entry-title",
    "h1.post-title",
    ".post-title",
    "article h1",
)
_CONTAINERS = (
    ".entry-content",
    ".wp-block-post-content",
    "article .post-content",
    ".post-content",
    "[itemprop=articleBody]",
    "article",
    "main",
)


def _first(sel: Selector, *queries: str) -> str:
    for q in queries:
        value = sel.xpath(q).get() if q.startswith("/") else sel.css(q).get()
        if value and value.strip():
            return " ".join(value.split())
    return ""


def _json_ld(sel: Selector) -> dict[str, Any]:
    """The first NewsArticle/BlogPosting object of the page's JSON-LD, or {}."""
    for raw in sel.xpath("//script[@type='application/ld+json']/text()").getall():
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, ValueError, RecursionError):
            continue
        stack: list[Any] = [data]
        while stack:
            obj = stack.pop(0)
            if isinstance(obj, list):
                stack.extend(obj)
            elif isinstance(obj, dict):
                kind = obj.get("@type")
                kinds = set(kind) if isinstance(kind, list) else {kind}
                if kinds & _ARTICLE_TYPES:
                    return obj
                if "@graph" in obj:
                    stack.append(obj["@graph"])
    return {}


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _fallback_text(html: str) -> list[str]:
    import trafilatura  # imported here: only pages without standard markup need it

    text = trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=True)
    if not text:
        return []
    return [p for p in (" ".join(ln.split()) for ln in text.split("\n")) if p]


def _canonical(sel: Selector, url: str, site: SiteProfile) -> str:
    """The page's ``rel=canonical`` when it is on the site's hosts and names the article
    fetched (same language and slug); else the URL fetched."""
    href = _first(sel, "link[rel=canonical]::attr(href)")
    if not href:
        return url
    canon = urljoin(url, href)
    info, fetched = article_path_info(canon), article_path_info(url)
    if not site.owns(canon) or info is None:
        return url
    if fetched is not None and (info["lang"], info["slug"]) != (fetched["lang"], fetched["slug"]):
        log.warning("%s: its rel=canonical names another article (%s); ignored", url, canon)
        return url
    return canon


def _title(sel: Selector, ld: dict[str, Any], site: SiteProfile) -> str:
    for query in _TITLES:
        nodes = sel.css(query)
        if nodes and node_text(nodes[0]):
            return clean_title(node_text(nodes[0]), site)
    for raw in (
        _first(sel, "meta[property='og:title']::attr(content)"),
        str(ld.get("headline") or ""),
        _first(sel, "main h1::text"),
        _first(sel, "title::text"),
    ):
        if raw.strip():
            return clean_title(raw, site)
    return ""


def _published(sel: Selector, ld: dict[str, Any], info: dict[str, str] | None) -> dt.datetime | dt.date | None:
    for raw in (
        _first(sel, "meta[property='article:published_time']::attr(content)"),
        str(ld.get("datePublished") or ""),
        _first(
            sel,
            "time.published::attr(datetime)",
            "time.entry-date::attr(datetime)",
            ".wp-block-post-date time::attr(datetime)",
            "article time::attr(datetime)",
            "main time::attr(datetime)",
        ),
    ):
        value = parse_iso_datetime(raw) if raw else None
        if value is not None:
            return value
    for line in sel.css(".entry-date, .posted-on, .post-date, article time, .date").xpath("string()").getall():
        day = parse_date_line(line)
        if day:
            return day
    return dt.date.fromisoformat(info["date"]) if info else None


def _categories(sel: Selector, ld: dict[str, Any]) -> list[str]:
    cats = sel.css("meta[property='article:section']::attr(content)").getall()
    cats += _as_list(ld.get("articleSection"))
    for a in sel.xpath(f"//a[@href][not({FURNITURE})]"):
        rel = (a.attrib.get("rel") or "").split()
        href = a.attrib.get("href", "")
        if "category" in rel or ("tag" in rel and "/category/" in href):
            cats.append(node_text(a))
    cats += [node_text(a) for a in sel.css(".cat-links a:not([rel]), .taxonomy-category a:not([rel])")]
    return cats


def parse_article(html: str, url: str, site: SiteProfile = ICESCO) -> ArticleItem:
    """The article on an article page of ``site``. Raises PageError if there is none (or
    the page is not on the site's hosts)."""
    if not site.owns(url):
        raise PageError(f"{url}: not on the hosts of site {site.name} ({', '.join(site.hosts)})")
    sel = Selector(text=html)
    ld = _json_ld(sel)
    canon = _canonical(sel, url, site)
    info = article_path_info(canon)
    title = _title(sel, ld, site)

    paragraphs: list[str] = []
    for query in _CONTAINERS:
        found = sel.css(query)
        if found:
            paragraphs = html_paragraphs(found[0], site)
            break
    if not paragraphs and isinstance(ld.get("articleBody"), str):
        paragraphs = [p.strip() for p in ld["articleBody"].split("\n") if p.strip()]
    if not paragraphs:
        paragraphs = _fallback_text(html)
    if not title:
        raise PageError(
            f"{url}: no article title found (no h1.entry-title, .wp-block-post-title, og:title,"
            " JSON-LD headline or <h1>): has the site's layout changed?"
        )
    subtitle = _first(sel, "article .subtitle::text", ".entry-subtitle::text", "article header h2::text") or None
    html_lang = (_first(sel, "/html/@lang") or "")[:2].lower()
    item = build_article(
        title=title,
        paragraphs=paragraphs,
        url=canon,
        published=_published(sel, ld, info),
        modified=parse_iso_datetime(
            _first(sel, "meta[property='article:modified_time']::attr(content)", "time.updated::attr(datetime)")
            or str(ld.get("dateModified") or "")
        ),
        categories=_categories(sel, ld),
        subtitle=subtitle,
        lang=html_lang,
        source=url,
        site=site,
    )
    if not item.paragraphs:
        raise PageError(
            f"{url}: no article text found (no .entry-content, .wp-block-post-content or <article>):"
            " has the site's layout changed?"
        )
    return item


def _post_links(sel: Selector, url: str, hosts: set[str]) -> list[str]:
    links: list[str] = []
    seen: set[str] = set()
    for href in sel.xpath(f".//a[@href][not({FURNITURE})]/@href").getall():
        absolute = urljoin(url, href.strip()).split("#")[0]
        if not host_allowed(absolute, hosts) or not article_path_info(absolute):
            continue
        canon = canonical_url(absolute)
        if canon not in seen:
            seen.add(canon)
            links.append(absolute)
    return links


def parse_listing(html: str, url: str, hosts: set[str]) -> tuple[list[str], str | None]:
    """Article links (page order, no repeats) and the next page's URL of a listing page."""
    return listing_links(Selector(text=html), url, hosts)


def listing_links(sel: Selector, url: str, hosts: set[str]) -> tuple[list[str], str | None]:
    """``parse_listing`` on a page already parsed (so discovery reads the same tree).

    Links are taken by what they are: links to article URLs on an allowed host, in the
    page's main content or post list when the theme marks one, never in menus, sidebars,
    widgets or the site's header and footer."""
    links: list[str] = []
    for query in _MAIN:
        for container in sel.css(query):
            links = _post_links(container, url, hosts)
            if links:
                break
        if links:
            break
    if not links:
        links = _post_links(sel, url, hosts)
    nxt = _first(
        sel,
        "link[rel=next]::attr(href)",
        "a[rel=next]::attr(href)",
        "a.next::attr(href)",
        ".nav-previous a::attr(href)",
        ".wp-block-query-pagination-next::attr(href)",
    )
    if not nxt:
        m = PAGE_PATH_RE.search(urlsplit(url).path)
        want = (int(m["n"]) if m else 1) + 1
        for href in sel.xpath("//a/@href").getall():
            m2 = PAGE_PATH_RE.search(href.split("?")[0])
            if m2 and int(m2["n"]) == want:
                nxt = href
                break
    next_url = urljoin(url, nxt) if nxt else None
    if next_url and (not host_allowed(next_url, hosts) or canonical_url(next_url) == canonical_url(url)):
        next_url = None
    return links, next_url
