"""A message on the wire: its envelope (sender and recipients from its headers) and its
exact bytes, the same every time (what the ledger keeps and every channel is given).
"""

from __future__ import annotations

import copy
import email.utils
import io
import uuid
from email.generator import BytesGenerator
from email.message import Message
from email.policy import EmailPolicy, Policy


def _addresses(message: Message, name: str) -> list[str]:
    values = message.get_all(name) or []
    out: list[str] = []
    for value in values:
        parsed = getattr(value, "addresses", None)
        if parsed is not None:
            out += [a.addr_spec for a in parsed if a.addr_spec and a.addr_spec != "<>"]
        else:
            out += [addr for _, addr in email.utils.getaddresses([str(value)]) if addr]
    for addr in out:
        if any(c in addr for c in "\r\n<>, ") or "@" not in addr:
            raise ValueError(f"{name}: not a usable address: {addr!r}")
    return out


def envelope(message: Message) -> tuple[str, list[str]]:
    """(sender, recipients) from the From and To headers, as bare addresses."""
    senders = _addresses(message, "From")
    if len(senders) != 1:
        raise ValueError(f"the message needs exactly one From address, it has {len(senders)}")
    recipients = _addresses(message, "To")
    if not recipients:
        raise ValueError("the message has no To address")
    return senders[0], recipients


def _policy(message: Message, linesep: str) -> Policy:
    """The message's policy, not refolding header lines as they were written or parsed
    (a refold would turn a long List-Unsubscribe URL into an encoded-word)."""
    policy = message.policy
    if isinstance(policy, EmailPolicy):
        return policy.clone(linesep=linesep, refold_source="none")
    return policy.clone(linesep=linesep)


def message_bytes(message: Message, linesep: str = "\n") -> bytes:
    """The message as bytes, header lines as they are (no Bcc: it is never transmitted).

    A multipart part without a boundary gets one, kept in ``message`` (as ``as_bytes()``
    does), so the same message always gives the same bytes.
    """
    for part in message.walk():
        if part.is_multipart() and part.get_boundary() is None:
            part.set_boundary("=_" + uuid.uuid4().hex)
    msg = copy.copy(message)
    del msg["Bcc"]
    del msg["Resent-Bcc"]
    buf = io.BytesIO()
    BytesGenerator(buf, mangle_from_=False, policy=_policy(message, linesep)).flatten(msg)
    return buf.getvalue()
