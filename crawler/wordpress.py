"""What WordPress publishes for machines, read into records (pure functions).

- **Discovery**: from a category listing page, the REST API root (``<link
  rel="https://api.w.org/">`` or the ``Link`` header), the category's REST id (``<link
  rel="alternate" type="application/json" href=".../wp/v2/categories/ID">``) and its RSS
  feed (``<link rel="alternate" type="application/rss+xml">``).
- **REST**: ``/wp/v2/posts?categories=ID`` answers, and the URLs to ask them.
- **Feed**: RSS 2.0 with ``content:encoded``.

Every post goes through :func:`crawler.extract.build_article`, as HTML pages and dumps do.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from parsel import Selector

from crawler.dates import parse_iso_datetime
from crawler.extract import build_article, fragment_paragraphs
from crawler.items import ArticleItem
from crawler.site import SiteProfile
from crawler.urls import article_path_info, canonical_url, host_allowed

REST_FIELDS = "id,link,slug,date_gmt,modified_gmt,title,content,categories"
REST_PER_PAGE = 100
_LINK_HEADER = re.compile(r'<([^>]+)>\s*;\s*rel="?https://api\.w\.org/"?')
_CATEGORY_REST = re.compile(r"/wp/v2/categories/(\d+)/?$")


class SourceError(ValueError):
    """A REST or feed answer that cannot be read as one."""


@dataclass
class Discovery:
    """What a listing page says about the machine-readable sources of its category."""

    api_root: str | None = None  # .../wp-json/
    category_id: int | None = None
    feed_url: str | None = None

    @property
    def posts_url(self) -> str | None:
        if self.api_root and self.category_id is not None:
            return urljoin(self.api_root, "wp/v2/posts")
        return None


def discover(page: str | Selector, url: str, link_header: str, hosts: set[str]) -> Discovery:
    """Read a category listing page (its HTML, or the Selector its links were read from)
    for its REST API and its feed (on allowed hosts only)."""
    sel = page if isinstance(page, Selector) else Selector(text=page)
    found = Discovery()
    api = sel.css("link[rel='https://api.w.org/']::attr(href)").get()
    if not api:
        m = _LINK_HEADER.search(link_header or "")
        api = m[1] if m else None
    if api:
        api = urljoin(url, api.strip())
        if host_allowed(api, hosts):
            found.api_root = api if api.endswith("/") or "?" in api else api + "/"
    for link in sel.css("link[rel=alternate]"):
        kind = (link.attrib.get("type") or "").lower()
        href = urljoin(url, (link.attrib.get("href") or "").strip())
        if not host_allowed(href, hosts):
            continue
        if kind == "application/json":
            m = _CATEGORY_REST.search(urlsplit(href).path)
            if m and found.category_id is None:
                found.category_id = int(m[1])
                if found.api_root is None:
                    found.api_root = href[: href.index("wp/v2/")]
        elif kind in ("application/rss+xml", "application/atom+xml"):
            # The category's own feed lives under the listing's path (/en/category/news/feed/).
            # (Compared in canonical form: WordPress writes Arabic escapes in lower case.)
            if urlsplit(canonical_url(href)).path.startswith(urlsplit(canonical_url(url)).path):
                found.feed_url = href
    return found


def posts_query(
    posts_url: str, category_id: int, *, modified_after: str | None = None, page: int = 1, per_page: int = REST_PER_PAGE
) -> str:
    """The REST request for the category's posts: only what changed after the cursor
    (``modified_after``, oldest change first) or, with no cursor, the newest posts."""
    params: dict[str, Any] = {"categories": category_id, "per_page": per_page, "_fields": REST_FIELDS}
    if modified_after:
        params.update(modified_after=modified_after, orderby="modified", order="asc")
    else:
        params.update(orderby="date", order="desc")
    if page > 1:
        params["page"] = page
    return f"{posts_url}?{urlencode(params)}"


def categories_query(api_root: str) -> str:
    return urljoin(api_root, "wp/v2/categories") + "?" + urlencode({"per_page": 100, "_fields": "id,name"})


def _gmt(value: Any) -> dt.datetime | None:
    """REST's ``date_gmt``/``modified_gmt``: a naive UTC time."""
    parsed = parse_iso_datetime(str(value or ""))
    if isinstance(parsed, dt.datetime):
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def _rendered(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("rendered")
    return value if isinstance(value, str) else ""


def load_json(text: str, url: str) -> Any:
    """A REST answer's JSON, parsed once; SourceError naming the URL if it is not JSON."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        start = " ".join(text[:60].split())
        raise SourceError(f"{url}: the REST API answered something that is not JSON ({start!r}…): {exc}") from None


def parse_categories(text: str, url: str) -> dict[int, str]:
    data = load_json(text, url)
    if not isinstance(data, list):
        raise SourceError(f"{url}: expected a list of categories")
    return {
        int(c["id"]): str(c.get("name") or "") for c in data if isinstance(c, dict) and isinstance(c.get("id"), int)
    }


def unknown_categories(data: Any, categories: dict[int, str]) -> set[int]:
    """Category ids that the posts of a (parsed) REST answer carry and ``categories`` does not name."""
    if not isinstance(data, list):
        return set()
    ids = {c for post in data if isinstance(post, dict) for c in post.get("categories") or [] if isinstance(c, int)}
    return ids - set(categories)


def parse_posts(
    answer: str | list[Any] | dict[str, Any], url: str, site: SiteProfile, categories: dict[int, str] | None = None
) -> tuple[list[ArticleItem], str | None]:
    """Posts of a REST answer of ``site`` (its text, or its JSON already parsed with
    ``load_json``), and the newest ``modified_gmt`` among them (ISO, UTC). Posts linked
    to another host are left out."""
    data = load_json(answer, url) if isinstance(answer, str) else answer
    if not isinstance(data, list):
        raise SourceError(f"{url}: the REST API answered JSON that is not a list of posts")
    items: list[ArticleItem] = []
    newest: dt.datetime | None = None
    for post in data:
        if not isinstance(post, dict) or "link" not in post or "content" not in post:
            raise SourceError(f"{url}: the REST API answered a list whose entries are not posts")
        link = str(post.get("link") or "")
        modified = _gmt(post.get("modified_gmt"))
        if modified and (newest is None or modified > newest):
            newest = modified
        if not site.owns(link) or not article_path_info(link):
            continue
        names = (
            [categories.get(c, "") for c in post.get("categories") or [] if isinstance(c, int)] if categories else []
        )
        items.append(
            build_article(
                title=_rendered(post.get("title")),
                paragraphs=fragment_paragraphs(_rendered(post.get("content")), site),
                url=link,
                published=_gmt(post.get("date_gmt")),
                modified=modified,
                categories=names,
                source=url,
                site=site,
            )
        )
    return items, newest.isoformat(timespec="seconds").replace("+00:00", "Z") if newest else None


def parse_feed(text: str, url: str, site: SiteProfile) -> list[ArticleItem]:
    """Items of a WordPress RSS 2.0 feed of ``site`` (full text in ``content:encoded``);
    items linked to another host are left out."""
    try:
        sel = Selector(text=text, type="xml")
    except ValueError as exc:
        raise SourceError(f"{url}: the feed is not XML: {exc}") from None
    sel.register_namespace("content", "http://purl.org/rss/1.0/modules/content/")
    if not sel.xpath("/rss/channel"):
        raise SourceError(f"{url}: not an RSS feed")
    items = []
    for entry in sel.xpath("/rss/channel/item"):
        link = (entry.xpath("link/text()").get() or "").strip()
        if not site.owns(link) or not article_path_info(link):
            continue
        body = entry.xpath("content:encoded/text()").get() or entry.xpath("description/text()").get() or ""
        published: dt.datetime | None = None
        raw_date = entry.xpath("pubDate/text()").get()
        if raw_date:
            try:
                published = email.utils.parsedate_to_datetime(raw_date.strip())
            except (TypeError, ValueError):
                published = None
        items.append(
            build_article(
                title=entry.xpath("title/text()").get() or "",
                paragraphs=fragment_paragraphs(body, site),
                url=link,
                published=published,
                categories=entry.xpath("category/text()").getall(),
                source=url,
                site=site,
            )
        )
    return items


def same_listing(a: str, b: str) -> bool:
    return canonical_url(a) == canonical_url(b)
