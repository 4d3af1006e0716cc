"""What the published side is told: one class per concept, the only home of its defaults.

Each field is a key of ``config.yaml`` under its section (``feed.base_url``,
``digest.sender``, ``subscribers[0].cadence``...): :mod:`monitor.config` reads the file into
these classes and validates them, and the code in ``feeds/`` takes them as arguments (it
never imports ``monitor/``). Secrets are not settings: the SMTP user name and password come
from the environment (:class:`feeds.mailer.Credentials`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class SiteSettings:
    profile: str = "icesco"  # a profile of crawler/site.py: hosts, boilerplate, title suffix, ids
    timezone: str = "Africa/Casablanca"  # dates are shown in the site's local time (default: the profile's)


@dataclass
class FeedSettings:
    title: str = "ICESCO news (icesco-monitor)"
    description: str = "New and updated articles from icesco.org, archived by icesco-monitor."
    base_url: str = "http://127.0.0.1:8080/"  # where readers reach the service: links and rel=self
    items: int = 50
    out_dir: str = ""  # 'feed' writes here when given no --out; the service too, after a change

    def url(self, path: str = "") -> str:
        """``path`` under ``base_url`` ("feed.xml", "articles/<id>"; "" is the home page)."""
        base = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        return base + path


# The feeds of one language each (/en/feed.xml...): their title and description, in their
# language (the combined feed's are feed.title and feed.description).
LANGUAGE_FEEDS: dict[str, tuple[str, str]] = {
    "en": ("ICESCO news", "New and updated articles from icesco.org, in English."),
    "fr": ("Actualités de l'ICESCO", "Articles nouveaux et modifiés d'icesco.org, en français."),
    "ar": ("أخبار الإيسيسكو", "المقالات الجديدة والمحدَّثة من موقع icesco.org باللغة العربية."),
}


@dataclass
class SmtpSettings:
    host: str = ""  # empty: digests go to digest.outbox instead of SMTP
    port: int = 25
    security: str = "plain"  # plain, starttls or tls
    username_env: str = "ICESCO_SMTP_USERNAME"  # names of environment variables, not secrets
    password_env: str = "ICESCO_SMTP_PASSWORD"
    timeout: float = 30.0

    @property
    def where(self) -> str:
        """``host:port``, as messages name the server."""
        return f"{self.host}:{self.port}"


@dataclass
class DigestSettings:
    sender: str = "icesco-monitor <icesco-monitor@localhost>"
    list_id: str = "ICESCO news digest <digest.icesco-monitor.localhost>"
    unsubscribe_mailto: str = "icesco-monitor@localhost"
    unsubscribe_url: str = ""  # an https URL for one-click List-Unsubscribe-Post, if any
    outbox: str = "outbox"  # where messages go when no SMTP host is configured
    template_dir: str = ""  # your own digest.txt.j2 / digest.html.j2, rendered in Jinja2's sandbox
    max_items: int = 100  # articles per digest at most; the rest wait for the next one
    retry_minutes: float = 5.0  # first retry after a temporary SMTP failure, doubling…
    retry_max_minutes: float = 360.0  # …up to this; temporary failures are retried until they pass
    retention_days: float = 30.0  # sent digests keep their bytes this long (a re-send needs none after)


@dataclass
class Subscriber:
    address: str = ""
    name: str = ""
    cadence: str = "daily"  # daily, weekly, hourly (at the minute of `at`), or immediate (every check)
    at: str = "07:00"  # HH:MM in the time zone (daily, weekly)
    weekday: str = "monday"  # weekly
    timezone: str = "UTC"
    keywords: list[str] = field(default_factory=list)  # any of them, in title, subtitle or body; empty: all
    categories: list[str] = field(default_factory=list)  # any of them; empty: all
    languages: list[str] = field(default_factory=list)  # e.g. [en, fr]; empty: all
    edits: bool = False  # also list the articles sent before that were edited since the last digest


class PublishConfig(Protocol):
    """The sections of the configuration the published side reads (``monitor.config.Config``)."""

    site: SiteSettings
    feed: FeedSettings
    smtp: SmtpSettings
    digest: DigestSettings
    subscribers: list[Subscriber]
