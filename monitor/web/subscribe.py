"""Subscribing and unsubscribing on the web (double opt-in).

``GET /subscribe`` is the form; ``POST /subscribe`` records a pending subscription and mails
a signed link to confirm it, answering with the same page whether or not the address was
subscribed already (an active address is mailed an unsubscribe link instead, and nothing
changes). ``GET /subscribe/confirm?t=`` and ``GET /unsubscribe?t=`` show one button and
change nothing (mail scanners fetch links); the button ``POST``s to the same URL, which
activates the subscription (a replay changes nothing) or ends it at once (RFC 8058 one-click:
digests' ``List-Unsubscribe-Post`` posts there too). A subscriber of config.yaml who
unsubscribes is recorded as opted out, which digests honour. A forged link answers 400, an
expired one 410, each with a page saying so. Without the secret (``service.secret_env``)
these pages answer 503. ``POST /subscribe`` is rate-limited per address and per client.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
import weakref
from email.message import EmailMessage
from typing import Any

from feeds import channels
from feeds.digests import message_id
from feeds.envelope import message_bytes
from feeds.mailer import DeliveryError
from feeds.subscribers import AddressError, validate_address
from feeds.templating import env
from monitor import links, tokens
from monitor.archive import Archive
from monitor.config import Config
from monitor.web.feedcache import FeedCache
from monitor.web.http import FormTooLarge, Request, Response, html
from monitor.web.ratelimit import RateLimit

log = logging.getLogger(__name__)

CADENCES = (
    ("daily", "daily (at 07:00 UTC)"),
    ("weekly", "weekly (Mondays at 07:00 UTC)"),
    ("immediate", "as soon as new articles are found"),
)
LANGUAGES = (("en", "English"), ("fr", "Français"), ("ar", "العربية"))
MAX_KEYWORDS, MAX_KEYWORD_CHARS = 10, 60
PER_ADDRESS, PER_CLIENT, WINDOW = 3, 10, 3600.0  # POST /subscribe: per address, per client, per hour


class _Limits:
    def __init__(self) -> None:
        self.address = RateLimit(PER_ADDRESS, WINDOW)
        self.client = RateLimit(PER_CLIENT, WINDOW)


# One pair of limits per running service (its feed cache stands for it), kept in memory.
_LIMITS: weakref.WeakKeyDictionary[FeedCache, _Limits] = weakref.WeakKeyDictionary()


def _limits(feeds: FeedCache) -> _Limits:
    return _LIMITS.setdefault(feeds, _Limits())


def _page(request: Request, status: int, template: str, **context: Any) -> Response:
    return html(status, env.get_template(template).render(title=request.cfg.feed.title, **context))


def _notice(request: Request, status: int, heading: str, *paragraphs: str, again: bool = False) -> Response:
    return _page(request, status, "reader_notice.html.j2", heading=heading, paragraphs=paragraphs, again=again)


def _no_secret(request: Request) -> Response | None:
    problem = links.secret_problem(request.cfg)
    if problem is None:
        return None
    log.error("%s: %s", request.path, problem)
    return _notice(
        request,
        503,
        "Subscribing is not available",
        "The operator of this service must set the environment variable"
        f" {request.cfg.service.secret_env} (a secret of 32 bytes or more) for subscribing and"
        " unsubscribing on the web.",
    )


# --- the form -------------------------------------------------------------------------


def subscribe(request: Request, m: re.Match[str]) -> Response:
    if (refused := _no_secret(request)) is not None:
        return refused
    if request.method != "POST":
        return _form(
            request, 200, {"address": "", "cadence": "daily", "languages": [], "keywords": "", "edits": False}, []
        )
    try:
        form = request.form()
    except FormTooLarge:
        return _notice(request, 413, "Form too large", "The form sent was too large.", again=True)
    values: dict[str, Any] = {
        "address": form.get("address", [""])[0].strip(),
        "cadence": form.get("cadence", ["daily"])[0],
        "languages": form.get("languages", []),
        "keywords": form.get("keywords", [""])[0].strip(),
        "edits": form.get("edits", [""])[0] == "1",
    }
    errors, address, keywords = _check(values)
    if errors:
        return _form(request, 400, values, errors)
    limits = _limits(request.feeds)
    if not limits.client.allow(request.client) or not limits.address.allow(address):
        log.warning("POST /subscribe from %s: over the rate limit", request.client)
        return _notice(
            request, 429, "Too many requests", "Too many subscriptions were asked for; try again in an hour."
        )
    return _ask(request, address, values["cadence"], sorted(set(values["languages"])), keywords, values["edits"])


def _form(request: Request, status: int, values: dict[str, Any], errors: list[str]) -> Response:
    return _page(
        request, status, "subscribe.html.j2", values=values, errors=errors, cadences=CADENCES, languages=LANGUAGES
    )


def _check(values: dict[str, Any]) -> tuple[list[str], str, list[str]]:
    """The form's errors (as a reader reads them), the address and the keywords."""
    errors: list[str] = []
    address = ""
    try:
        address = validate_address(values["address"], where="E-mail address")
    except AddressError as exc:
        errors.append(str(exc).split(", got ")[0])
    if values["cadence"] not in dict(CADENCES):
        errors.append("How often: choose one of " + ", ".join(dict(CADENCES)))
    if not set(values["languages"]) <= set(dict(LANGUAGES)):
        errors.append("Languages: choose among " + ", ".join(dict(LANGUAGES)))
    keywords = sorted({k.strip() for k in values["keywords"].split(",") if k.strip()})
    if len(keywords) > MAX_KEYWORDS or any(len(k) > MAX_KEYWORD_CHARS for k in keywords):
        errors.append(f"Keywords: at most {MAX_KEYWORDS}, of at most {MAX_KEYWORD_CHARS} characters each")
    return errors, address, keywords


def _ask(
    request: Request, address: str, cadence: str, languages: list[str], keywords: list[str], edits: bool
) -> Response:
    """Record the pending subscription and mail its link (or, to an active address, the
    unsubscribe link); the page is the same either way."""
    cfg, now = request.cfg, dt.datetime.now(dt.UTC)
    key = links.secret(cfg)
    assert key is not None  # (checked by _no_secret)
    with Archive(cfg.database, migrate=False) as archive:
        row = archive.request_reader(address, cadence, languages, keywords, now, edits=edits)
    if row is not None and row.token_at is not None:
        link = links.confirm_url(cfg, key, address, row.token_at, now)
        context = {
            "cadence": dict(CADENCES)[cadence],
            "languages": ", ".join(dict(LANGUAGES)[x] for x in languages),
            "keywords": ", ".join(keywords),
        }
        msg = _mail(cfg, address, "Confirm your ICESCO news digest", "confirm_mail.txt.j2", link, now, **context)
    else:
        link = links.unsubscribe_url(cfg, key, address, now)
        msg = _mail(cfg, address, "Your ICESCO news digest", "already_mail.txt.j2", link, now)
    try:
        channels.channel_for(cfg).deliver(message_bytes(msg), message_id=str(msg["Message-ID"]), recipient=address)
    except DeliveryError as exc:
        log.error("confirmation mail to %s not sent: %s", address, exc)
        return _notice(
            request,
            503,
            "Mail could not be sent",
            "The mail could not be sent just now; please try again later.",
            again=True,
        )
    log.info("confirmation mail sent to %s", address)
    return _notice(
        request,
        200,
        "Check your mailbox",
        f"If {address} can receive mail, a message is on its way with a link to confirm (valid for two days).",
        "Nothing is sent before you confirm.",
    )


def _mail(
    cfg: Config, address: str, subject: str, template: str, link: str, now: dt.datetime, **extra: str
) -> EmailMessage:
    text = env.get_template(template).render(address=address, link=link, site_url=cfg.feed.url(), **extra)
    msg = EmailMessage()
    msg["From"] = cfg.digest.sender
    msg["To"] = address
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(now)
    msg["Message-ID"] = message_id(address, f"{template}:{now.isoformat()}")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    return msg


# --- the links from mail --------------------------------------------------------------


def _token(request: Request, purpose: str) -> dict[str, str] | Response:
    key = links.secret(request.cfg)
    assert key is not None
    try:
        return tokens.verify(key, purpose, request.arg("t"), dt.datetime.now(dt.UTC))
    except tokens.ForgedToken:
        return _notice(
            request,
            400,
            "This link is not valid",
            "The link is damaged or was not made by this service; nothing has changed.",
            again=purpose == links.CONFIRM,
        )
    except tokens.ExpiredToken:
        return _notice(
            request, 410, "This link has expired", "The link is too old to use; nothing has changed.", again=True
        )


def _action(request: Request) -> str:
    return request.path + "?t=" + request.arg("t")


def _followed(request: Request, purpose: str, heading: str, text: str, button: str) -> dict[str, str] | Response:
    """A link from mail: refused without the secret or with a bad token; a GET shows one
    button that POSTs to the same URL and changes nothing (mail scanners fetch links). The
    token's data when the request is that POST."""
    if (refused := _no_secret(request)) is not None:
        return refused
    data = _token(request, purpose)
    if not isinstance(data, dict) or request.method == "POST":
        return data
    return _page(
        request,
        200,
        "reader_button.html.j2",
        heading=heading,
        text=text.format(address=data["a"]),
        button=button,
        action=_action(request),
    )


def confirm(request: Request, m: re.Match[str]) -> Response:
    data = _followed(
        request,
        links.CONFIRM,
        "Confirm your subscription",
        "Press the button to receive the digest at {address}.",
        "Confirm",
    )
    if not isinstance(data, dict):
        return data
    address = data["a"]
    configured = {s.address for s in request.cfg.subscribers}
    with Archive(request.cfg.database, migrate=False) as archive:
        activated = archive.confirm_reader(address, data["t"], dt.datetime.now(dt.UTC), fresh=address not in configured)
        row = archive.reader(address)
    if activated:
        log.info("%s: subscription confirmed", address)
    if row is not None and row.status == "active" and row.token_at == data["t"]:
        return _notice(
            request,
            200,
            "You are subscribed",
            f"Digests will come to {address}, with the articles found from now on.",
            "Every digest has a link to unsubscribe.",
        )
    return _notice(
        request,
        200,
        "This link is no longer in use",
        "A newer link was sent, or the subscription ended; nothing has changed.",
        again=True,
    )


def unsubscribe(request: Request, m: re.Match[str]) -> Response:
    data = _followed(
        request, links.UNSUBSCRIBE, "Unsubscribe", "Press the button to stop the digests to {address}.", "Unsubscribe"
    )
    if not isinstance(data, dict):
        return data
    address = data["a"]
    configured = {s.address for s in request.cfg.subscribers}
    with Archive(request.cfg.database, migrate=False) as archive:
        if archive.end_reader(address, dt.datetime.now(dt.UTC), opt_out=address in configured):
            log.info("%s: unsubscribed", address)
    return _notice(request, 200, "You are unsubscribed", f"No more digests will be sent to {address}.", again=True)
