"""Credentials never leak through an SMTP server's reply, in any form or split across lines."""

from __future__ import annotations

import base64
import socket
import threading
from email.message import EmailMessage

import pytest

from feeds.mailer import Credentials, PermanentDeliveryError, send
from feeds.settings import SmtpSettings

pytestmark = pytest.mark.integration

USER, PASSWORD = "digest-bot", "s3cret-Passw0rd!"


def auth_echoing_server(reply_for: object) -> tuple[int, threading.Thread]:
    """One connection: greets, offers AUTH PLAIN, and answers AUTH with a multi-line 535
    that repeats the client's base64 in pieces (as a broken or hostile server may)."""
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def serve() -> None:
        conn, _ = srv.accept()
        with conn, srv:
            f = conn.makefile("rwb")
            f.write(b"220 test ESMTP\r\n")
            f.flush()
            for line in f:
                cmd = line.decode().strip()
                if cmd.upper().startswith("EHLO"):
                    f.write(b"250-test\r\n250 AUTH PLAIN\r\n")
                elif cmd.upper().startswith("AUTH"):
                    f.write(reply_for(cmd.split()[-1]).encode())  # type: ignore[operator]
                elif cmd.upper().startswith("QUIT"):
                    f.write(b"221 bye\r\n")
                    f.flush()
                    return
                else:
                    f.write(b"500 what\r\n")
                f.flush()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


def split_reply(b64: str) -> str:
    pieces = [b64[i : i + 7] for i in range(0, len(b64), 7)]
    return "".join(f"535-5.7.8 {p}\r\n" for p in pieces[:-1]) + f"535 5.7.8 {pieces[-1]}\r\n"


@pytest.mark.parametrize(
    "reply_for",
    [
        split_reply,  # the base64 of \0user\0password, in pieces over lines
        lambda b64: f"535-5.7.8 bad credentials for\r\n535 5.7.8 {PASSWORD[:8]}\r\n{PASSWORD[8:]}\r\n",
        lambda b64: f"535 5.7.8 {b64}\r\n",
    ],
)
def test_a_reply_carrying_the_credentials_is_withheld(reply_for: object) -> None:
    port, thread = auth_echoing_server(reply_for)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", "x"
    message.set_content("x")
    with pytest.raises(PermanentDeliveryError) as info:
        send(message, SmtpSettings(host="127.0.0.1", port=port, timeout=5), Credentials(USER, PASSWORD))
    thread.join(5)
    text = str(info.value)
    assert text == f"127.0.0.1:{port}: authentication failed: 535 [reply withheld: it contained the credentials]"
    b64 = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    assert not any(b64[i : i + 6] in text.replace(" ", "") for i in range(len(b64) - 5))
