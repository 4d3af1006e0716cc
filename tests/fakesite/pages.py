"""The fake site's pages: listings, article pages, the 404 page and redirects, in the
markup of a standard WordPress theme (a mixin of ``FakeSite``: it reads the site's articles)."""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING

from fakesite.model import (
    _DEFAULT_LANGS,
    _HTML_LANG,
    _NO_BODY_STATUSES,
    _OG_LOCALE,
    _RTL_LANGS,
    LATEST_COUNT,
    LOOPBACK,
    SiteArticle,
    _date_line,
    _esc,
    _iso,
    _json_ld,
    _page,
    _page_response,
    _Response,
    category_name,
    excerpt,
)


class Pages:
    """What a page shows, from the site's articles (``FakeSite`` holds them)."""

    if TYPE_CHECKING:
        _articles: list[SiteArticle]
        _post_ids: dict[str, int]
        per_page: int
        alias_host: str

        @property
        def port(self) -> int: ...

        @property
        def base_url(self) -> str: ...

    def _get(self, slug: str) -> SiteArticle:
        for article in self._articles:
            if article.slug == slug:
                return article
        raise KeyError(slug)

    def _langs(self) -> set[str]:
        return set(_DEFAULT_LANGS) | {a.lang for a in self._articles}

    def _known_category(self, cat: str) -> bool:
        return cat == "news" or any(cat in a.categories for a in self._articles)

    def _categories(self, lang: str) -> list[str]:
        cats = {c for a in self._articles if a.lang == lang for c in a.categories}
        cats.discard("news")
        return ["news", *sorted(cats)]

    def _latest(self, lang: str) -> list[SiteArticle]:
        return [a for a in self._articles if a.lang == lang][:LATEST_COUNT]

    def _listing_url(self, lang: str, cat: str, page: int = 1) -> str:
        url = f"{self.base_url}/{lang}/category/{urllib.parse.quote(cat)}/"
        return url if page == 1 else f"{url}page/{page}/"

    def _redirect(self, location_path: str) -> _Response:
        location = location_path
        if location.startswith("/"):
            location = self.base_url + location
        body = _page(
            "301 Moved Permanently",
            f'<p>Moved to <a href="{_esc(location)}">{_esc(location)}</a>.</p>',
        )
        return _Response(301, body, headers=[("Location", location)])

    def _error_response(self, status: int) -> _Response:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        if status in _NO_BODY_STATUSES or status < 200:
            return _Response(status)
        return _Response(status, _page(f"{status} {phrase}", f"<h1>{phrase}</h1>"))

    def _not_found(self, path: str) -> _Response:
        first = path.split("/")[1] if path.count("/") > 1 else ""
        lang = first if first in self._langs() else "en"
        main = (
            '<section class="error-404 not-found">'
            '<h1 class="page-title">Oops! That page can&rsquo;t be found.</h1>'
            "<p>It looks like nothing was found at this location.</p>"
            "</section>"
        )
        body = self._document(
            lang=lang,
            title="Page not found - ICESCO",
            head="",
            body_class="error404",
            main=main,
        )
        return _Response(404, body)

    def _listing(self, lang: str, cat: str, page_part: str | None) -> _Response:
        if lang not in self._langs() or not self._known_category(cat):
            return self._not_found(f"/{lang}/category/{cat}/")
        posts = [a for a in self._articles if a.lang == lang and cat in a.categories]
        pages = max(1, math.ceil(len(posts) / self.per_page))
        if page_part is None:
            page = 1
        elif page_part == "1":
            return self._redirect(self._listing_url(lang, cat))
        elif page_part.isdigit() and not page_part.startswith("0"):
            page = int(page_part)
        else:
            return self._not_found(f"/{lang}/category/{cat}/page/{page_part}/")
        if page > pages:
            return self._not_found(f"/{lang}/category/{cat}/page/{page}/")
        shown = posts[(page - 1) * self.per_page : page * self.per_page]
        name = category_name(cat)
        link_host = LOOPBACK if cat == "news" else self.alias_host

        head = [f'<link rel="canonical" href="{_esc(self._listing_url(lang, cat, page))}">']
        if page > 1:
            prev_url = self._listing_url(lang, cat, page - 1)
            head.append(f'<link rel="prev" href="{_esc(prev_url)}">')
        if page < pages:
            next_url = self._listing_url(lang, cat, page + 1)
            head.append(f'<link rel="next" href="{_esc(next_url)}">')

        items = []
        for a in shown:
            url = f"http://{link_host}:{self.port}{a.path}"
            subtitle = f'<h3 class="entry-subtitle">{_esc(a.subtitle)}</h3>' if a.subtitle else ""
            items.append(
                f'<article id="post-{self._post_ids[a.slug]}" class="post">'
                f'<header class="entry-header">'
                f'<h2 class="entry-title"><a href="{_esc(url)}" rel="bookmark">'
                f"{_esc(a.title)}</a></h2>{subtitle}"
                f'<div class="entry-meta"><time class="entry-date published" '
                f'datetime="{_iso(a.published)}">{_date_line(a.published, lang)}'
                f"</time></div></header>"
                f'<div class="entry-summary"><p>{_esc(excerpt(a))}</p></div>'
                f'<a class="read-more" href="{_esc(url)}">Read more</a>'
                f"</article>"
            )
        if not items:
            items.append('<p class="no-results">Nothing found.</p>')

        main = (
            f'<header class="page-header"><h1 class="page-title">Category: '
            f"{_esc(name)}</h1></header>\n" + "\n".join(items) + "\n" + self._pagination(lang, cat, page, pages)
        )
        title = f"{name} Archives"
        if page > 1:
            title += f" - Page {page} of {pages}"
        latest = self._latest(lang)
        body = self._document(
            lang=lang,
            title=f"{title} - ICESCO",
            head="\n".join(head),
            body_class=f"archive category category-{_esc(cat)}",
            main=main,
            latest=latest,
        )
        return _page_response(body, [*shown, *latest])

    def _pagination(self, lang: str, cat: str, page: int, pages: int) -> str:
        if pages <= 1:
            return ""
        nav_open = '<nav class="navigation pagination" aria-label="Posts">'
        parts = [nav_open + '<div class="nav-links">']
        if page > 1:
            url = _esc(self._listing_url(lang, cat, page - 1))
            parts.append(f'<a class="prev page-numbers" href="{url}">&laquo; Previous</a>')
        for n in range(1, pages + 1):
            if n == page:
                parts.append(f'<span aria-current="page" class="page-numbers current">{n}</span>')
            else:
                url = _esc(self._listing_url(lang, cat, n))
                parts.append(f'<a class="page-numbers" href="{url}">{n}</a>')
        if page < pages:
            url = _esc(self._listing_url(lang, cat, page + 1))
            parts.append(f'<a class="next page-numbers" href="{url}">Next &raquo;</a>')
        parts.append("</div></nav>")
        return "".join(parts)

    def _article_page(self, lang: str, date: str, slug: str) -> _Response:
        try:
            a = self._get(slug)
        except KeyError:
            return self._not_found(f"/{lang}/{date}/{slug}/")
        if a.lang != lang or f"{a.published:%Y/%m/%d}" != date:
            return self._not_found(f"/{lang}/{date}/{slug}/")
        canonical = self.base_url + a.path
        sections = [category_name(c) for c in a.categories]
        html_lang = _HTML_LANG.get(lang, lang)
        ld = {
            "@context": "https://schema.org",
            "@graph": [
                {
                    "@type": "NewsArticle",
                    "@id": f"{canonical}#article",
                    "isPartOf": {"@id": canonical},
                    "headline": a.title,
                    "datePublished": _iso(a.published),
                    "dateModified": _iso(a.last_modified),
                    "mainEntityOfPage": {"@id": canonical},
                    "articleSection": sections,
                    "inLanguage": html_lang,
                    "publisher": {"@id": f"{self.base_url}/#organization"},
                },
                {
                    "@type": "WebPage",
                    "@id": canonical,
                    "url": canonical,
                    "name": f"{a.title} - ICESCO",
                    "datePublished": _iso(a.published),
                    "dateModified": _iso(a.last_modified),
                    "inLanguage": html_lang,
                },
                {
                    "@type": "Organization",
                    "@id": f"{self.base_url}/#organization",
                    "name": "ICESCO",
                    "url": f"{self.base_url}/",
                },
            ],
        }
        head = [
            f'<link rel="canonical" href="{_esc(canonical)}">',
            f'<meta property="og:locale" content="{_OG_LOCALE.get(lang, lang)}">',
            '<meta property="og:type" content="article">',
            f'<meta property="og:title" content="{_esc(a.title)}">',
            f'<meta property="og:url" content="{_esc(canonical)}">',
            '<meta property="og:site_name" content="ICESCO">',
            f'<meta property="article:published_time" content="{_iso(a.published)}">',
        ]
        if a.modified is not None:
            head.append(f'<meta property="article:modified_time" content="{_iso(a.modified)}">')
        head.extend(f'<meta property="article:section" content="{_esc(s)}">' for s in sections)
        head.append(f'<script type="application/ld+json" class="yoast-schema-graph">{_json_ld(ld)}</script>')
        subtitle = f'<h2 class="subtitle">{_esc(a.subtitle)}</h2>\n' if a.subtitle else ""
        paragraphs = "\n".join(f"<p>{_esc(p)}</p>" for p in a.paragraphs)
        post_id = self._post_ids[a.slug]
        cat_classes = " ".join(f"category-{_esc(c)}" for c in a.categories)
        share_url = urllib.parse.quote(canonical, safe="")
        # Buttons, not links: nothing on the page may point off loopback.
        share_buttons = "".join(
            f'<button type="button" class="share share-{net.lower()}" data-url="{share_url}">{net}</button>'
            for net in ("Facebook", "Twitter", "WhatsApp")
        )
        main = (
            f'<article id="post-{post_id}" class="post-{post_id} post type-post '
            f'status-publish format-standard hentry {cat_classes}">\n'
            f'<header class="entry-header">\n'
            f'<h1 class="entry-title">{_esc(a.title)}</h1>\n'
            f"{subtitle}"
            f'<div class="entry-date"><time datetime="{_iso(a.published)}">'
            f"{_date_line(a.published, lang)}</time></div>\n"
            f"</header>\n"
            f'<div class="entry-content">\n{paragraphs}\n</div>\n'
            f'<footer class="entry-footer"><div class="share-buttons">'
            f'<span class="share-label">Share</span>{share_buttons}'
            f"</div></footer>\n"
            f"</article>"
        )
        latest = self._latest(lang)
        body = self._document(
            lang=lang,
            title=f"{a.title} - ICESCO",
            head="\n".join(head),
            body_class=f"post-template-default single single-post postid-{post_id}",
            main=main,
            latest=latest,
        )
        return _page_response(body, [a, *latest])

    def _document(
        self,
        *,
        lang: str,
        title: str,
        head: str,
        body_class: str,
        main: str,
        latest: Iterable[SiteArticle] | None = None,
    ) -> bytes:
        html_lang = _HTML_LANG.get(lang, lang)
        dir_attr = ' dir="rtl"' if lang in _RTL_LANGS else ""
        nav = "".join(
            f'<li class="menu-item"><a href="{_esc(self._listing_url(lang, c))}">{_esc(category_name(c))}</a></li>'
            for c in self._categories(lang)
        )
        if latest is None:
            latest = self._latest(lang)
        latest_items = "".join(
            f'<li><a href="{_esc(self.base_url + a.path)}">{_esc(a.title)}</a>'
            f'<span class="post-date">{_date_line(a.published, lang)}</span></li>'
            for a in latest
        )
        home = _esc(self._listing_url(lang, "news"))
        return (
            f"<!DOCTYPE html>\n"
            f'<html lang="{html_lang}"{dir_attr}>\n'
            f"<head>\n"
            f'<meta charset="UTF-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_esc(title)}</title>\n"
            f'<meta name="robots" content="index, follow">\n'
            f"{head}\n"
            f'<meta name="generator" content="WordPress 6.4.3">\n'
            f"</head>\n"
            f'<body class="{body_class}">\n'
            f'<div id="page" class="site">\n'
            f'<header id="masthead" class="site-header">\n'
            f'<div class="gt-disclaimer">Disclaimer: You are using Google Translate. '
            f"The ICESCO is not responsible for the accuracy of the information in "
            f"the translated language .</div>\n"
            f'<div class="site-branding"><a class="custom-logo-link" href="{home}" '
            f'rel="home">ICESCO</a></div>\n'
            f'<nav id="site-navigation" class="main-navigation">'
            f'<ul id="primary-menu" class="menu">{nav}</ul></nav>\n'
            f'<div class="feedback-widget"><h4>your opinion</h4><p>User Feedback</p>'
            f"<p>Overall, how satisfied are you about the website?</p>"
            f"<span>Extremely Dissatisfied</span> <span>Extremely Satisfied</span>"
            f"</div>\n"
            f"</header>\n"
            f'<div id="content" class="site-content">\n'
            f'<main id="main" class="site-main">\n{main}\n</main>\n'
            f'<aside id="secondary" class="widget-area sidebar">\n'
            f'<section class="widget widget_recent_entries">'
            f'<h2 class="widget-title">Latest articles</h2>'
            f"<ul>{latest_items}</ul></section>\n"
            f"</aside>\n"
            f"</div>\n"
            f'<footer id="colophon" class="site-footer">\n'
            f'<nav class="footer-navigation"><ul class="menu">{nav}</ul></nav>\n'
            f'<div class="site-info">&copy; ICESCO. All rights reserved. '
            f'<a class="admin-link" href="{_esc(self.base_url)}/wp-admin/">Log in</a>'
            f"</div>\n"
            f"</footer>\n"
            f"</div>\n"
            f"</body>\n"
            f"</html>\n"
        ).encode()
