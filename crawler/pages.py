"""HTML pages of a WordPress news site into records (pure functions).

We have never seen ICESCO's live markup, so the article reader takes what WordPress
sites publish in standard ways (``<link rel=canonical>``, Open Graph and
``article:*`` metadata, JSON-LD ``NewsArticle``/``BlogPosting``, ``<time datetime>``,
``<article>``, ``.entry-title``, ``.entry-content``), in that order of trust, and falls
back to trafilatura's main-text extractor.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any
from urllib.parse import urljoin

from parsel import Selector

from crawler.dates import parse_date_line, parse_iso_datetime, to_iso
from crawler.dumps import _BOILERPLATE_RE, _TAIL_RE, detect_lang
from crawler.items import ArticleItem
from crawler.urls import PAGE_PATH_RE, article_path_info, canonical_url, host_allowed

log = logging.getLogger(__name__)


class PageError(ValueError):
    """A page that holds no article (or no listing) we can read."""


_WS = re.compile(r"\s+")
_SITE_SUFFIX = re.compile(r"\s+[-–|]\s+(?:ICESCO|الإيسيسكو|ISESCO)[^-–|]*$", re.IGNORECASE)
_ARTICLE_TYPES = {"NewsArticle", "BlogPosting", "Article", "ReportageNewsArticle"}
_FURNITURE = (
    "ancestor::aside or ancestor::footer or ancestor::header or ancestor::nav"
    " or ancestor::*[contains(concat(' ', normalize-space(@class), ' '), ' widget ')]"
    " or ancestor::*[contains(@class, 'sidebar')] or ancestor::*[contains(@class, 'share')]"
    " or ancestor::*[contains(@class, 'related')]"
)


def _text(node: Selector) -> str:
    return _WS.sub(" ", " ".join(node.xpath(".//text()[not(ancestor::script or ancestor::style)]").getall())).strip()


def _first(sel: Selector, *queries: str) -> str:
    for q in queries:
        value = sel.css(q).get() if not q.startswith("/") else sel.xpath(q).get()
        if value and value.strip():
            return _WS.sub(" ", value).strip()
    return ""


def _json_ld(sel: Selector) -> dict[str, Any]:
    """The first NewsArticle/BlogPosting object of the page's JSON-LD, or {}."""
    for raw in sel.xpath("//script[@type='application/ld+json']/text()").getall():
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, ValueError):
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


def _paragraphs(container: Selector) -> list[str]:
    paras: list[str] = []
    for node in container.xpath(f".//p[not({_FURNITURE})] | .//li[not({_FURNITURE})] | .//h2 | .//h3 | .//blockquote[not(.//p)]"):
        text = _text(node)
        if not text or _BOILERPLATE_RE.match(text) or _TAIL_RE.match(text):
            continue
        if paras and paras[-1] == text:
            continue
        paras.append(text)
    return paras


def _fallback_text(html: str) -> list[str]:
    import trafilatura  # imported here: only pages without standard markup need it

    text = trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=True)
    if not text:
        return []
    return [p for p in (_WS.sub(" ", ln).strip() for ln in text.split("\n")) if p]


def parse_article(html: str, url: str) -> ArticleItem:
    """The article on an article page. Raises PageError if there is none."""
    sel = Selector(text=html)
    ld = _json_ld(sel)
    canon = _first(sel, "link[rel=canonical]::attr(href)")
    canon = urljoin(url, canon) if canon else ""
    if not (canon and article_path_info(canon)):
        canon = url
    info = article_path_info(canon) or article_path_info(url)

    nodes = sel.css("article .entry-title, .entry-title, h1.post-title, article h1")
    title = _text(nodes[0]) if nodes else ""
    title = title or str(ld.get("headline") or "").strip()
    if not title:
        og = _first(sel, "meta[property='og:title']::attr(content)", "title::text")
        title = _SITE_SUFFIX.sub("", og)
    title = _WS.sub(" ", title).strip()

    container = None
    for query in (".entry-content", "article .post-content", "[itemprop=articleBody]", "article", "main"):
        found = sel.css(query)
        if found:
            container = found[0]
            break
    paragraphs = _paragraphs(container) if container is not None else []
    if paragraphs and paragraphs[0] == title:
        paragraphs = paragraphs[1:]
    if not paragraphs and isinstance(ld.get("articleBody"), str):
        paragraphs = [p.strip() for p in ld["articleBody"].split("\n") if p.strip()]
    if not paragraphs:
        paragraphs = _fallback_text(html)
        if paragraphs and paragraphs[0] == title:
            paragraphs = paragraphs[1:]
    if not title:
        raise PageError(f"{url}: no article title found (no .entry-title, og:title, JSON-LD headline or <h1>)")
    if not paragraphs:
        raise PageError(f"{url}: no article text found")

    subtitle = _first(sel, "article .subtitle::text", ".entry-subtitle::text", "article header h2::text") or None

    published: dt.datetime | dt.date | None = None
    for raw in (
        _first(sel, "meta[property='article:published_time']::attr(content)"),
        str(ld.get("datePublished") or ""),
        _first(sel, "article time::attr(datetime)", "time.entry-date::attr(datetime)"),
    ):
        published = parse_iso_datetime(raw) if raw else None
        if published is not None:
            break
    if published is None:
        for line in sel.css(".entry-date, .posted-on, .post-date, article time, .date").xpath("string()").getall():
            published = parse_date_line(line)
            if published:
                break
    if published is None and info:
        published = dt.date.fromisoformat(info["date"])
    modified = parse_iso_datetime(
        _first(sel, "meta[property='article:modified_time']::attr(content)") or str(ld.get("dateModified") or "")
    )

    categories = sel.css("meta[property='article:section']::attr(content)").getall()
    categories += _as_list(ld.get("articleSection"))
    categories += [_text(a) for a in sel.css("a[rel~=category], .cat-links a")]
    cats = sorted({c.strip() for c in categories if c and c.strip()})

    html_lang = (_first(sel, "/html/@lang") or "")[:2].lower()
    lang = (info or {}).get("lang") or html_lang or detect_lang(" ".join(paragraphs))
    return ArticleItem(
        title=title,
        subtitle=subtitle if subtitle != title else None,
        paragraphs=paragraphs,
        lang=lang,
        slug=(info or {}).get("slug", ""),
        url=canonical_url(canon),
        published_at=to_iso(published),
        modified_at=to_iso(modified),
        categories=cats,
        source=url,
    )


def parse_listing(html: str, url: str, hosts: set[str]) -> tuple[list[str], str | None]:
    """Article links (canonical, page order, no repeats) and the next page's URL."""
    sel = Selector(text=html)
    links: list[str] = []
    seen: set[str] = set()
    for href in sel.xpath(f"//a[@href and not({_FURNITURE})]/@href").getall():
        absolute = urljoin(url, href.strip())
        if not host_allowed(absolute, hosts) or not article_path_info(absolute):
            continue
        canon = canonical_url(absolute)
        if canon not in seen:
            seen.add(canon)
            links.append(absolute.split("#")[0])
    nxt = _first(sel, "link[rel=next]::attr(href)", "a[rel=next]::attr(href)", "a.next::attr(href)", ".nav-previous a::attr(href)")
    if not nxt:
        m = PAGE_PATH_RE.search(url)
        want = (int(m["n"]) if m else 1) + 1
        for href in sel.xpath("//a/@href").getall():
            m2 = PAGE_PATH_RE.search(href.split("?")[0])
            if m2 and int(m2["n"]) == want:
                nxt = href
                break
    next_url = urljoin(url, nxt) if nxt else None
    if next_url and not host_allowed(next_url, hosts):
        next_url = None
    return links, next_url
