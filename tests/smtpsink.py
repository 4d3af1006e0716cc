"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd in a thread, on a free port).

Typical use::

    with SmtpSink() as sink:
        send(message, SmtpSettings(host="127.0.0.1", port=sink.port))
        assert sink.envelopes[0].rcpt_tos == ["reader@example.org"]
        assert sink.messages[0]["Subject"] == "..."

Fault modes, settable between sends (``reset()`` goes back to normal):

``refuse_rcpt(code=550, text=...)``
    RCPT TO is answered ``code text``.
``fail_data(code=451, text=...)``
    DATA (after the content) is answered ``code text``; nothing is stored.
``drop_after_data()``
    After the content of DATA the connection is closed without a reply: the client
    sees the server disconnect (``smtplib.SMTPServerDisconnected``).

``SmtpSink(auth=("user", "secret"))`` offers AUTH PLAIN/LOGIN without TLS and accepts
only those credentials (others get ``535``); ``.auth_attempts`` lists the user names
tried. Nothing here talks to any host but 127.0.0.1.
"""

from __future__ import annotations

import email
import email.policy
import logging
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedEnvelope:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # the message as received (CRLF line endings, dots unstuffed)


class _Controller(Controller):
    """aiosmtpd's Controller bound to port 0: learn the real port before the self-test."""

    def _trigger_server(self) -> None:
        if self.server is not None and self.server.sockets:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[ReceivedEnvelope] = []
        self.auth_attempts: list[str] = []
        self.credentials = auth
        self.lock = threading.Lock()
        # The fault modes (read by the server thread; set them with the methods below).
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None
        self.drop = False
        self._controller: _Controller | None = None

    # --- life cycle ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("the SMTP sink is not running")
        return int(self._controller.port)

    def start(self) -> SmtpSink:
        handler = _Handler(self)
        kwargs: dict[str, Any] = {}
        if self.credentials is not None:
            kwargs = {"authenticator": handler.authenticate, "auth_require_tls": False}
        controller = _Controller(handler, hostname=HOST, port=0, ready_timeout=10.0, **kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- fault modes --------------------------------------------------------------------

    def refuse_rcpt(self, code: int = 550, text: str = "5.1.1 mailbox unavailable") -> None:
        self.rcpt_reply = f"{code} {text}"

    def fail_data(self, code: int = 451, text: str = "4.3.0 try again later") -> None:
        self.data_reply = f"{code} {text}"

    def drop_after_data(self) -> None:
        self.drop = True

    def reset(self) -> None:
        self.rcpt_reply = None
        self.data_reply = None
        self.drop = False


class _Handler:
    """aiosmtpd's hooks (a separate object: aiosmtpd inspects every attribute of it)."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.sink.rcpt_reply is not None:
            return self.sink.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.sink.drop:
            if server.transport is not None:
                server.transport.close()  # no reply: the client sees the connection close
            return "421 closing"  # never reaches the client
        if self.sink.data_reply is not None:
            return self.sink.data_reply
        data = envelope.original_content or b""
        if isinstance(data, str):  # pragma: no cover - decode_data is off
            data = data.encode("utf-8")
        # Stored as a local mailbox would: LF line endings.
        message = email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.sink.lock:
            self.sink.envelopes.append(ReceivedEnvelope(str(envelope.mail_from), list(envelope.rcpt_tos), data))
            self.sink.messages.append(message)
        return "250 OK: queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.sink.credentials is None:
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        self.sink.auth_attempts.append(user)
        ok = (user, auth_data.password.decode("utf-8", "replace")) == self.sink.credentials
        return AuthResult(success=ok, handled=False)
