"""A site is one profile: where it is served, what its pages carry that is never the
article (boilerplate lines, page tails, the title suffix), its news categories per
language, its time zone, and the name its article ids carry (pure data and functions).

The crawler's modules take a profile (``CrawlOptions.site``; the pure readers default to
:data:`ICESCO`); the operator picks one by name (``site.profile``) from :data:`PROFILES`.
Article ids carry the profile's name (``example:3f2a…``), so two sites with the same slugs
never share an id. ICESCO's carry none (``bare_ids``): they were stored, and made into feed
GUIDs and ``/articles/ID`` links, before there were profiles, and stay as they are.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from urllib.parse import quote

from crawler.urls import article_id, article_path_info, bare_host, host_allowed

# Lines any WordPress theme puts around its articles (whole lines, any capitalisation).
WORDPRESS_BOILERPLATE: tuple[str, ...] = (
    r"skip to (main )?content",
    r"aller au contenu( principal)?",
    r"(تخطي|انتقل|الانتقال) إلى المحتوى",
    r"share( this( article)?)?\s*:?",
    r"partager\s*:?",
    r"read more( »| ›|…|\.\.\.)?|lire la suite( »| ›|…)?|(اقرأ|قراءة) المزيد",
)
# Tails: once content has begun, everything from one of these lines on is page furniture.
WORDPRESS_TAILS: tuple[str, ...] = (
    r"latest (articles|news)|related (articles|posts|news)|read also",
    r"derniers articles|articles (récents|similaires)|à lire aussi",
    r"(آخر|أحدث) (المقالات|الأخبار)|مقالات ذات صلة",
    r"skip to (main )?content",
)

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_ESCAPE = re.compile(r"%[0-9A-F]{2}")


@dataclass(frozen=True)
class SiteProfile:
    """What is particular to one site. ``hosts``: where it is served (``www.`` implied; the
    first is where its listings are); ``news``: (language path, category slug) of each
    news listing followed; ``title_names``: the site's names as ``<title>`` and ``og:title``
    end with them (``Title - ICESCO``); ``boilerplate`` and ``tails``: regular expressions
    of whole lines; ``timezone``: an IANA name; ``bare_ids``: ids without the name (one
    profile only, ICESCO's)."""

    name: str
    hosts: tuple[str, ...]
    news: tuple[tuple[str, str], ...] = ()
    title_names: tuple[str, ...] = ()
    boilerplate: tuple[str, ...] = WORDPRESS_BOILERPLATE
    tails: tuple[str, ...] = WORDPRESS_TAILS
    timezone: str = "UTC"
    bare_ids: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"site profile name {self.name!r}: expected lower-case letters, digits and dashes")
        hosts = tuple(dict.fromkeys(bare_host(h) for h in self.hosts if h))
        if not hosts:
            raise ValueError(f"site profile {self.name}: at least one host is needed")
        object.__setattr__(self, "hosts", hosts)

    # --- identity ---------------------------------------------------------------------

    @property
    def id_prefix(self) -> str:
        """What this site's article ids begin with (before a colon); "" for bare ids."""
        return "" if self.bare_ids else self.name

    def article_id(self, lang: str, slug: str) -> str:
        return article_id(lang, slug, self.id_prefix)

    def owns(self, url: str) -> bool:
        """True if the URL is http(s) on one of the site's hosts."""
        return host_allowed(url, self.hosts)

    def url_id(self, url: str) -> str | None:
        """The id of the article at this URL; None when it is no article URL or not on the
        site's hosts (another site's page is never given this site's ids)."""
        info = article_path_info(url) if self.owns(url) else None
        return self.article_id(info["lang"], info["slug"]) if info else None

    def on_hosts(self, hosts: Iterable[str]) -> SiteProfile:
        """This site as served on ``hosts`` (the operator's ``crawl.hosts``: a mirror, a
        staging copy, a test server)."""
        return replace(self, hosts=tuple(hosts))

    # --- where to start ------------------------------------------------------------------

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(lang for lang, _slug in self.news))

    @property
    def start_urls(self) -> tuple[str, ...]:
        """The news listings, as WordPress writes them (non-ASCII slugs percent-encoded in
        lower case)."""
        out = []
        for lang, slug in self.news:
            path = _ESCAPE.sub(lambda m: m[0].lower(), quote(slug, safe=""))
            out.append(f"https://{self.hosts[0]}/{lang + '/' if lang else ''}category/{path}/")
        return tuple(out)

    # --- what is not the article -------------------------------------------------------

    @functools.cached_property
    def boilerplate_re(self) -> re.Pattern[str]:
        return re.compile(r"^(?:" + "|".join(self.boilerplate) + r")$", re.IGNORECASE)

    @functools.cached_property
    def tail_re(self) -> re.Pattern[str]:
        return re.compile(r"^(?:" + "|".join(self.tails) + r")\s*:?$", re.IGNORECASE)

    @functools.cached_property
    def _suffix_re(self) -> re.Pattern[str] | None:
        if not self.title_names:
            return None
        names = "|".join(re.escape(n) for n in self.title_names)
        return re.compile(r"\s+[-–|]\s+(?:" + names + r")[^-–|]*$", re.IGNORECASE)

    def is_furniture(self, line: str) -> bool:
        """A boilerplate line or a tail line: never a paragraph of an article."""
        return bool(self.boilerplate_re.match(line) or self.tail_re.match(line))

    def strip_title_suffix(self, title: str) -> str:
        """``Title - ICESCO`` -> ``Title`` (the suffix of ``<title>`` and ``og:title``)."""
        return self._suffix_re.sub("", title).strip() if self._suffix_re else title.strip()


# ICESCO's own furniture: the Google Translate notice, the feedback widget, the ALEM chat
# assistant ("By messaging ICESCO…").
ICESCO = SiteProfile(
    name="icesco",
    hosts=("icesco.org",),
    news=(("en", "news"), ("fr", "a-la-une"), ("ar", "المستجدات")),
    title_names=("ICESCO", "الإيسيسكو", "ISESCO"),
    boilerplate=(
        r"disclaimer\s*:.*google\s+translat.*",
        r"avertissement\s*:.*google.*",
        r"تنويه\s*:.*(google|جوجل|غوغل).*",
        r"(your|votre) (opinion|avis)",
        r"رأيك",
        r"(user|users'?) feedback",
        r"(avis|retours?|commentaires?) (des )?utilisateurs?",
        r"(تعليقات|آراء) المستخدمين",
        r"(overall,? )?how satisfied are you (about|with) (the|this|our) (web ?site|site)\s*\??",
        r"(dans l.ensemble,? )?(dans quelle mesure )?[eê]tes-vous satisfaits? (du|de ce|de notre) site( web)?\s*\??",
        r"(بشكل عام،? )?ما مدى رضاك عن الموقع\s*[؟?]?",
        r"((extremely|very|not at all|completely) )?(dis)?satisfied(\s+((extremely|very|completely) )?(dis)?satisfied)?",
        r"((extr[eê]mement|tr[eè]s|pas du tout) )?(in)?satisfait(\s+((extr[eê]mement|tr[eè]s) )?(in)?satisfait)?",
        r"((غير )?راض(ٍ)? (تماما|جدا)\s*)+",
        *WORDPRESS_BOILERPLATE,
    ),
    tails=(*WORDPRESS_TAILS, r"by messaging icesco.*|(alem,? )?(your )?ai assistant|alem"),
    timezone="Africa/Casablanca",
    bare_ids=True,
)

PROFILES: dict[str, SiteProfile] = {ICESCO.name: ICESCO}


class UnknownSite(ValueError):
    """A profile name that is not registered."""


def site_profile(name: str) -> SiteProfile:
    """The registered profile of that name."""
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownSite(f"unknown site profile {name!r} (known: {', '.join(sorted(PROFILES))})") from None


def register(profile: SiteProfile) -> None:
    """Add a profile to :data:`PROFILES`. A name is taken once, and only one profile has
    bare ids (two would give their articles the same ids again)."""
    old = PROFILES.get(profile.name)
    if old is not None and old != profile:
        raise ValueError(f"site profile {profile.name!r} is registered already")
    bare = [p.name for p in PROFILES.values() if p.bare_ids and p.name != profile.name]
    if profile.bare_ids and bare:
        raise ValueError(f"site profile {profile.name!r}: only one profile has bare ids ({bare[0]} has)")
    PROFILES[profile.name] = profile
