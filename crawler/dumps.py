"""Text dumps of a site's pages into articles (pure functions).

A dump is a page as text: boilerplate (ICESCO's: the Google Translate disclaimer, a
feedback widget; each site's are in its profile, :mod:`crawler.site`), then articles,
each a title line, maybe a subtitle line, maybe a date line, then paragraphs; maybe a
chat-widget, "Latest articles" or "Skip to content" tail. A listing dump holds many
articles; an article dump holds one.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from crawler.dates import find_date, is_date_line, parse_date_line, to_iso
from crawler.items import ArticleItem
from crawler.site import ICESCO, SiteProfile
from crawler.urls import article_path_info, canonical_url

log = logging.getLogger(__name__)


class DumpError(ValueError):
    """A dump that cannot be read as text of articles."""


_URL_RE = re.compile(r"^(?:https?://|www\.)\S+$", re.IGNORECASE)
_EMAIL_RE = re.compile(r"\S+@\S+\.\w+")
_BULLET_RE = re.compile(r"^(?:[•·▪◦●○■□➢►✓✔*+\-–—]|\d{1,2}[.)]|[a-z][.)]|\(\w{1,3}\))\s")
# A line ends a sentence or introduces something: not a title.
_SENTENCE_END_RE = re.compile(r"(?:[.;,:،؛]|[.!?][\"”’»)]+)$")
_DATELINE_PLACE_RE = re.compile(r"^[^\d:,،]{1,40}[:,،]")
_TERMINAL_RE = re.compile(r"[.!?…\"”’»)\]؟۔]$")
_LETTER_RE = re.compile(r"[^\W\d_]")
_ARABIC_RE = re.compile(r"[\u0600-\u06ff]")
_FR_WORDS = re.compile(r"\b(le|la|les|des|du|et|une|dans|pour|avec|sur|est)\b|\b[ld]’")  # on lower-cased text
_EN_WORDS = re.compile(r"\b(the|and|of|to|in|with|for|on|is|was)\b")

MAX_TITLE_CHARS = 220
MAX_TITLE_WORDS = 35


@dataclass
class DumpMeta:
    """What a sidecar or manifest says about a dump (all optional)."""

    url: str | None = None
    captured_at: dt.datetime | None = None
    lang: str | None = None
    kind: str | None = None  # "listing" or "article"
    complete: bool | None = None  # None: unknown (judged from the text)


def detect_lang(text: str) -> str:
    """en, fr or ar, from the script and the commonest words."""
    sample = text[:4000]
    arabic = len(_ARABIC_RE.findall(sample))
    if arabic and arabic / (len(_LETTER_RE.findall(sample)) or 1) > 0.3:
        return "ar"
    sample = sample.lower()
    return "fr" if len(_FR_WORDS.findall(sample)) > len(_EN_WORDS.findall(sample)) else "en"


def _clean_lines(text: str, site: SiteProfile) -> tuple[list[str], bool]:
    """Stripped lines, the site's boilerplate removed, cut at its first tail ('' marks a
    blank line); and whether a tail was met (then the page text is known to be whole)."""
    out: list[str] = []
    seen_content = False
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = " ".join(raw.replace("\u200b", " ").split())
        if not line:
            out.append("")
            continue
        if seen_content and site.tail_re.match(line):
            return out, True
        if site.is_furniture(line):
            continue
        seen_content = True
        out.append(line)
    return out, False


def _is_title_like(line: str) -> bool:
    if len(line) > MAX_TITLE_CHARS or len(line.split()) > MAX_TITLE_WORDS or len(line) < 4:
        return False
    if _SENTENCE_END_RE.search(line) or _URL_RE.match(line) or _EMAIL_RE.search(line):
        return False
    if _BULLET_RE.match(line) or is_date_line(line):
        return False
    first = line.lstrip("“\"'‘(«")[:1]
    return not (first.isalpha() and first.islower() and first.isascii())


def _standalone(lines: list[str], i: int) -> bool:
    before = i == 0 or lines[i - 1] == ""
    after = i + 1 >= len(lines) or lines[i + 1] == "" or is_date_line(lines[i + 1])
    return before and after


@dataclass
class _Draft:
    title: str
    subtitle: str | None = None
    date_line: str | None = None
    paragraphs: list[str] | None = None


def _split(lines: list[str], single: bool) -> list[_Draft]:
    drafts: list[_Draft] = []
    cur: _Draft | None = None
    for i, line in enumerate(lines):
        if not line:
            continue
        para = cur.paragraphs if cur is not None else None
        if cur is not None and not para and cur.date_line is None and is_date_line(line):
            cur.date_line = line
            if not _DATELINE_PLACE_RE.match(line):  # "Rabat: 29 October 2025" is prose too
                continue
        if _is_title_like(line) and _standalone(lines, i):
            if cur is not None and not para:
                if cur.subtitle is None and cur.date_line is None:
                    cur.subtitle = line
                    continue
            elif cur is None or not single:
                cur = _Draft(title=line, paragraphs=[])
                drafts.append(cur)
                continue
        if cur is None:
            if single:  # an article page: its first line is the title
                cur = _Draft(title=line, paragraphs=[])
                drafts.append(cur)
                continue
            log.debug("text before the first title skipped: %.60s", line)
            continue
        assert cur.paragraphs is not None
        cur.paragraphs.append(line)
    return drafts


# "Rabat: 20/06/2019": a dateline of ICESCO's older layout, in numbers.
_NUMERIC_DATELINE = re.compile(r"^[^\d]{0,40}\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}$")


def same_text(a: str, b: str) -> bool:
    return a.casefold().strip(" .:") == b.casefold().strip(" .:")


def _dateline(text: str) -> bool:
    return is_date_line(text) or bool(_NUMERIC_DATELINE.match(text.strip()))


def strip_title_repeats(paragraphs: list[str], title: str) -> list[str]:
    """Drop the title when the body repeats it at its top, with the datelines before it
    (ICESCO's older layout: title, date, "Rabat: 20/06/2019", the title again, the body)."""
    for i, para in enumerate(paragraphs[:4]):
        if same_text(para, title):
            if all(_dateline(p) for p in paragraphs[:i]):
                return paragraphs[i + 1 :]
            break
        if not _dateline(para):
            break
    return paragraphs


def _merge_repeated_titles(drafts: list[_Draft]) -> list[_Draft]:
    """A title, its datelines, then the same title again: one article, not two."""
    out: list[_Draft] = []
    for d in drafts:
        prev = out[-1] if out else None
        if prev is not None and same_text(prev.title, d.title) and all(_dateline(p) for p in prev.paragraphs or []):
            prev.paragraphs = d.paragraphs
            prev.subtitle = prev.subtitle or d.subtitle
            prev.date_line = prev.date_line or d.date_line
            continue
        out.append(d)
    return out


def parse_dump(
    text: str, meta: DumpMeta | None = None, *, where: str = "<dump>", site: SiteProfile = ICESCO
) -> list[ArticleItem]:
    """Articles of a dump of ``site``, in page order. Raises DumpError when there are none,
    or when its metadata names a URL on another host."""
    meta = meta or DumpMeta()
    if meta.url and not site.owns(meta.url):
        raise DumpError(
            f"{where}: its url {meta.url} is not on the hosts of site {site.name} ({', '.join(site.hosts)})"
        )
    lines, has_tail = _clean_lines(text, site)
    content = [ln for ln in lines if ln]
    if not content:
        raise DumpError(f"{where}: no content after removing page boilerplate")
    path_info = article_path_info(meta.url) if meta.url else None
    single = meta.kind == "article" or path_info is not None
    lang = meta.lang or (path_info or {}).get("lang") or detect_lang("\n".join(content))
    drafts = [d for d in _merge_repeated_titles(_split(lines, single)) if d.paragraphs]
    for d in drafts:
        d.paragraphs = strip_title_repeats(d.paragraphs or [], d.title)
    drafts = [d for d in drafts if d.paragraphs]
    if not drafts:
        raise DumpError(f"{where}: no article found (a title line followed by paragraphs)")
    if single and len(drafts) > 1:
        drafts = drafts[:1]
    items: list[ArticleItem] = []
    ref = meta.captured_at
    for n, d in enumerate(drafts):
        assert d.paragraphs is not None
        published = parse_date_line(d.date_line, ref) if d.date_line else None
        if published is None:
            published = find_date("\n".join(d.paragraphs), ref)
        if published is None and single and path_info:
            published = dt.date.fromisoformat(path_info["date"])
        item = ArticleItem(
            title=d.title,
            subtitle=d.subtitle,
            paragraphs=d.paragraphs,
            lang=lang,
            published_at=to_iso(published),
            source=f"{where}#{n + 1}",
            site=site.id_prefix,
        )
        if single and path_info and meta.url:
            item.slug = path_info["slug"]
            item.url = canonical_url(meta.url)
        items.append(item)
    last = items[-1]
    ending = last.paragraphs[-1]
    looks_cut = not (_TERMINAL_RE.search(ending) or _URL_RE.match(ending) or _EMAIL_RE.search(ending))
    if meta.complete is False or (meta.complete is None and looks_cut):
        last.partial = True
        log.warning("%s: dump looks cut inside its last article %r", where, last.title[:80])
    elif meta.complete is None and not has_tail:
        last.maybe_cut = True  # no page tail seen: the capture may have stopped between paragraphs
    return _distinct(items, where)


def _distinct(items: list[ArticleItem], where: str) -> list[ArticleItem]:
    """Two articles of one dump with the same title are two articles (WordPress gives the
    second the slug ``title-2``); the same article twice is one."""
    out: list[ArticleItem] = []
    by_slug: dict[str, ArticleItem] = {}
    for item in items:
        base, n = item.slug, 1
        while item.slug in by_slug:
            if by_slug[item.slug].content_hash == item.content_hash:
                log.info("%s: %r appears twice; kept once", where, item.title[:80])
                break
            n += 1
            item.slug = f"{base}-{n}"
        else:
            by_slug[item.slug] = item
            out.append(item)
    return out
