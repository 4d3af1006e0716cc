"""E-mail over SMTP: sending, and what a failure means.

The channels that use it (SMTP, the outbox folder) are in :mod:`feeds.channels`; the
message's envelope and bytes are :mod:`feeds.envelope`.

:func:`send` classifies every failure: :class:`TemporaryDeliveryError` (worth retrying:
the server is unreachable, the connection broke, a 4xx reply) or
:class:`PermanentDeliveryError` (a 5xx reply, refused credentials, a missing server
feature). Error messages name ``host:port``, the SMTP code and the server's reply, and
never the password.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import os
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage

from feeds.envelope import envelope, message_bytes
from feeds.settings import SmtpSettings

log = logging.getLogger(__name__)

SECURITIES = ("plain", "starttls", "tls")


@dataclass(frozen=True)
class Credentials:
    """The SMTP user name and password: from the environment only, never from the config,
    never logged or shown (the password is not in the repr)."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, settings: SmtpSettings, environ: Mapping[str, str] = os.environ) -> Credentials:
        """The values of the variables ``smtp.username_env`` and ``smtp.password_env`` name."""
        return cls(environ.get(settings.username_env) or None, environ.get(settings.password_env) or None)


class DeliveryError(Exception):
    """A message could not be handed to the SMTP server. ``message`` is safe to show."""

    permanent: bool = False

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


class TemporaryDeliveryError(DeliveryError):
    """Worth retrying later: no connection, a broken connection, a timeout, a 4xx reply."""

    permanent = False


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help: a 5xx reply (recipient refused, authentication failed…)."""

    permanent = True


# --- SMTP -----------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _reply_of(data: bytes | str | None, redact: _Redactor | None = None) -> str:
    """A server's reply as one short line; with ``redact``, secrets are removed from the
    whole reply first, in any form (before it is joined and cut, so that pieces of a
    secret split over lines are caught too)."""
    if data is None:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    if redact is not None:
        text = redact.reply(text)
    text = " ".join(text.split())  # one line, no control characters from the server
    return text[:300]


class _Redactor:
    """Removes the password, and the encodings an AUTH exchange puts it in, from a text."""

    def __init__(self, credentials: Credentials) -> None:
        self.secrets: list[str] = []
        pw = credentials.password
        if pw:
            user = credentials.username or ""
            for raw in (pw, f"\0{user}\0{pw}", f"{user}\0{pw}"):
                self.secrets.append(base64.b64encode(raw.encode()).decode())
            self.secrets.append(pw)
            self.secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    PIECE = 6  # a run of this many characters of a secret (or of its base64) gives it away

    def reply(self, text: str) -> str:
        """A server reply, or a note in its place when any piece of a secret is in it,
        even split across lines of a multi-line reply."""
        if not self.secrets:
            return text
        joined = "".join(re.sub(r"^\s*\d{3}[ -]?(?:\d\.\d{1,3}\.\d{1,3}\s)?", "", line) for line in text.splitlines())
        joined = "".join(joined.split())
        for secret in self.secrets:
            if len(secret) < self.PIECE:
                if secret in joined:
                    return "[reply withheld: it contained the credentials]"
                continue
            if any(secret[i : i + self.PIECE] in joined for i in range(len(secret) - self.PIECE + 1)):
                return "[reply withheld: it contained the credentials]"
        return self(text)


def _by_code(code: int | None) -> type[DeliveryError]:
    return PermanentDeliveryError if code is not None and 500 <= code <= 599 else TemporaryDeliveryError


def _code(value: object) -> int | None:
    return value if isinstance(value, int) and 100 <= value <= 599 else None


def _classify(exc: BaseException, where: str, stage: str, redact: _Redactor | None = None) -> DeliveryError:
    """The DeliveryError for an smtplib or socket exception raised during ``stage``."""

    def _reply(data: bytes | str | None) -> str:
        return _reply_of(data, redact)

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = list(exc.recipients.items())
        if refused:
            addr, (code, reply) = refused[0]
            c = _code(code)
            return _by_code(c)(f"{where}: recipient {addr} refused: {code} {_reply(reply)}", c)
        return TemporaryDeliveryError(f"{where}: recipients refused", None)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        c = _code(exc.smtp_code)
        return _by_code(c)(f"{where}: sender {exc.sender} refused: {exc.smtp_code} {_reply(exc.smtp_error)}", c)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        c = _code(exc.smtp_code)
        return _by_code(c)(f"{where}: authentication failed: {exc.smtp_code} {_reply(exc.smtp_error)}", c)
    if isinstance(exc, smtplib.SMTPResponseException):
        c = _code(exc.smtp_code)
        what = {"connect": "refused the connection", "send": "refused the message"}.get(stage, f"{stage} failed")
        return _by_code(c)(f"{where}: {what}: {exc.smtp_code} {_reply(exc.smtp_error)}", c)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TemporaryDeliveryError(f"{where}: the server closed the connection unexpectedly ({stage})")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentDeliveryError(f"{where}: {_reply(str(exc))}")
    if isinstance(exc, smtplib.SMTPException):
        return TemporaryDeliveryError(f"{where}: SMTP error during {stage}: {_reply(str(exc))}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentDeliveryError(
            f"{where}: TLS certificate not accepted: {_reply(exc.verify_message or str(exc))}"
        )
    if isinstance(exc, ssl.SSLError):
        return TemporaryDeliveryError(f"{where}: TLS error during {stage}: {_reply(exc.reason or str(exc))}")
    if isinstance(exc, TimeoutError):
        return TemporaryDeliveryError(f"{where}: timed out ({stage})")
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        doing = "cannot connect" if stage == "connect" else f"connection error during {stage}"
        return TemporaryDeliveryError(f"{where}: {doing}: {_reply(reason)}")
    return TemporaryDeliveryError(f"{where}: {type(exc).__name__} during {stage}")


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "tls":
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=ssl.create_default_context()
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)


def send(message: EmailMessage, settings: SmtpSettings, credentials: Credentials | None = None) -> None:
    """Hand ``message`` to the SMTP server: envelope from its From and To headers; with
    ``credentials`` that hold a user name, logged in first.

    Raises TemporaryDeliveryError or PermanentDeliveryError (see the module docstring);
    ValueError for a message without usable From/To or unusable settings.
    """
    if settings.security not in SECURITIES:
        raise ValueError(f"security: expected one of {', '.join(SECURITIES)}, got {settings.security!r}")
    where = settings.where
    sender, recipients = envelope(message)
    credentials = credentials or Credentials()
    if credentials.username and settings.security == "plain" and not _is_loopback(settings.host):
        raise PermanentDeliveryError(
            f"{where}: refusing to send credentials over an unencrypted connection; use security starttls or tls"
        )
    data = message_bytes(message, linesep="\r\n")
    redact = _Redactor(credentials)
    stage = "connect"
    smtp: smtplib.SMTP | None = None
    try:
        smtp = _connect(settings)
        if settings.security == "starttls":
            stage = "STARTTLS"
            smtp.ehlo()
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if credentials.username:
            stage = "authentication"
            smtp.login(credentials.username, credentials.password or "")
        stage = "send"
        refused = smtp.sendmail(sender, recipients, data)
    except (smtplib.SMTPException, OSError) as exc:
        error = _classify(exc, where, stage, redact)
        error.message = redact(error.message)
        error.args = (error.message,)
        _close(smtp, polite=isinstance(exc, smtplib.SMTPResponseException))
        if stage == "authentication":
            raise error from None  # the chained smtplib exception is not needed, nor shown
        raise error from exc
    _close(smtp, polite=True)
    if refused:  # some recipients took it, some did not
        addr, (code, reply) = next(iter(refused.items()))
        c = _code(code)
        raise _by_code(c)(redact(f"{where}: recipient {addr} refused: {code} {_reply_of(reply, redact)}"), c)
    log.info("sent %s to %s via %s", message.get("Message-ID", "(no Message-ID)"), ", ".join(recipients), where)


def _close(smtp: smtplib.SMTP | None, *, polite: bool) -> None:
    if smtp is None:
        return
    try:
        if polite:
            smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()
