"""Delivery channels: where a finished digest goes. One class per channel, registered by kind.

A channel is handed the message exactly as the ledger keeps it (its bytes, its Message-ID,
the subscriber's address: what any channel needs to send it, or to send it again after a
crash) and either delivers it or raises :class:`TemporaryDeliveryError` (worth retrying)
or :class:`PermanentDeliveryError` (retrying will not help). Delivering the same message
twice must be harmless where the channel can make it so (the outbox writes the same file
again); the ledger makes sure that happens at most once after a crash.

``CHANNELS`` maps a kind to its class; :func:`channel_for` picks one from the config: SMTP
when ``smtp.host`` is set, else the outbox folder (``digest --outbox DIR`` and
``--dry-run`` always write to a folder). A new channel is a class with ``kind``, ``where``,
``from_config`` and ``deliver``, and one entry in ``CHANNELS``.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import re
from email.message import EmailMessage
from pathlib import Path
from typing import ClassVar, Protocol, Self

from feeds.envelope import message_bytes
from feeds.files import write_atomic
from feeds.mailer import Credentials, PermanentDeliveryError, TemporaryDeliveryError, send
from feeds.settings import PublishConfig, SmtpSettings

__all__ = [
    "CHANNELS",
    "Channel",
    "OutboxChannel",
    "PermanentDeliveryError",
    "SmtpChannel",
    "TemporaryDeliveryError",
    "channel_for",
    "kind_for",
    "write_outbox",
]

log = logging.getLogger(__name__)

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@+=-]")


class Channel(Protocol):
    """Where digests go. ``where`` names it in messages (``127.0.0.1:25``, ``outbox DIR``)."""

    kind: ClassVar[str]
    where: str

    @classmethod
    def from_config(cls, cfg: PublishConfig, outbox: Path | None) -> Self:
        """The channel the config describes (``outbox``: a folder given on the command line)."""
        ...

    def deliver(self, message_bytes: bytes, *, message_id: str, recipient: str) -> Path | None:
        """Deliver these exact bytes (a whole RFC 5322 message, LF line ends, as the ledger
        keeps it). ``message_id`` is its Message-ID, ``recipient`` the subscriber's address.

        Returns the file written, for a channel that writes files, else None. Raises
        TemporaryDeliveryError or PermanentDeliveryError, with a message safe to show.
        """
        ...


def _parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


# --- SMTP -------------------------------------------------------------------------------------


class SmtpChannel:
    """E-mail over SMTP (:func:`feeds.mailer.send`): the envelope comes from the message's
    From and To headers, the credentials from the environment; errors never show the password."""

    kind: ClassVar[str] = "smtp"

    def __init__(self, settings: SmtpSettings, credentials: Credentials | None = None) -> None:
        self.settings = settings
        self.credentials = credentials or Credentials()
        self.where = settings.where

    @classmethod
    def from_config(cls, cfg: PublishConfig, outbox: Path | None = None) -> Self:
        return cls(cfg.smtp, Credentials.from_env(cfg.smtp))

    def deliver(self, message_bytes: bytes, *, message_id: str, recipient: str) -> Path | None:
        send(_parse(message_bytes), self.settings, self.credentials)
        return None


# --- outbox folder ----------------------------------------------------------------------------


def outbox_name(message_id: str, data: bytes) -> str:
    """``<Message-ID>.eml``, made safe for a file name (a hash of the bytes without one)."""
    name = _UNSAFE_NAME.sub("_", message_id.strip().strip("<>")).lstrip(".")[:200]
    if not name:
        name = hashlib.sha256(data).hexdigest()[:32]
    return name + ".eml"


class OutboxChannel:
    """``.eml`` files in a folder, one per message, named after its Message-ID: written to
    a temporary file then renamed, so a reader never sees half a message and a re-send
    replaces the same file (a crash re-send leaves one file, not two)."""

    kind: ClassVar[str] = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.where = f"outbox {self.folder}"

    @classmethod
    def from_config(cls, cfg: PublishConfig, outbox: Path | None = None) -> Self:
        return cls(outbox if outbox is not None else Path(cfg.digest.outbox))

    def path_for(self, message_id: str, data: bytes) -> Path:
        return self.folder / outbox_name(message_id, data)

    def deliver(self, message_bytes: bytes, *, message_id: str, recipient: str) -> Path | None:
        path = self.path_for(message_id, message_bytes)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomic(path, message_bytes)  # the project's one atomic writer (feeds use it too)
        except OSError as exc:  # a full disk, a read-only folder, a file where the folder should be
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise TemporaryDeliveryError(f"{self.where}: cannot write {path.name}: {reason}") from exc
        log.info("wrote %s", path)
        return path


def write_outbox(message: EmailMessage, outbox: Path) -> Path:
    """Write ``message`` to ``outbox/<Message-ID>.eml`` (atomically); returns the path.

    The same message written twice is the same file (the second write replaces it).
    Raises TemporaryDeliveryError when the folder cannot be written.
    """
    data = message_bytes(message)
    path = OutboxChannel(outbox).deliver(
        data, message_id=str(message.get("Message-ID") or ""), recipient=str(message.get("To") or "")
    )
    assert path is not None
    return path


# --- the registry -----------------------------------------------------------------------------

CHANNELS: dict[str, type[Channel]] = {"smtp": SmtpChannel, "outbox": OutboxChannel}


def kind_for(cfg: PublishConfig, outbox_override: Path | None = None) -> str:
    """The kind of channel the config asks for: a folder given on the command line, else SMTP
    when ``smtp.host`` is set, else the configured outbox folder."""
    if outbox_override is not None or not cfg.smtp.host:
        return "outbox"
    return "smtp"


def channel_for(cfg: PublishConfig, outbox_override: Path | None = None) -> Channel:
    """The channel digests go to (see :func:`kind_for`), from the registry."""
    return CHANNELS[kind_for(cfg, outbox_override)].from_config(cfg, outbox_override)
