"""Signed, expiring tokens for the links a reader follows (subscribe, confirm, unsubscribe).

A token is ``<payload>.<signature>``, both base64url without padding (safe in a URL path or
query as they are). The payload is compact JSON: the purpose, the expiry (Unix seconds) and
the data. The signature is HMAC-SHA256 over a fixed domain string, the purpose and the
payload, so a token signed for one purpose never verifies for another. Verification checks
the signature first (constant-time), then the purpose, then the expiry: a token that is not
ours is ``ForgedToken`` (HTTP 400) whatever expiry it claims; a genuine one past its expiry is
``ExpiredToken`` (HTTP 410).

Times are whole seconds: a token signed at ``now`` with ``ttl`` is valid up to and including
``now + ttl`` and expired one second later. Tokens are deterministic (the same inputs give the
same token), so they carry no secret and reveal their data to whoever holds them: put ids in
them, never anything private.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import math
import os
import re
from typing import Any

MIN_SECRET_BYTES = 32  # 256 bits if random; a short passphrase could be guessed offline from any token
MAX_TOKEN_CHARS = 2048  # longer input is refused before any decoding
_DOMAIN = b"icesco-monitor token v1\x00"
_PURPOSE_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+")


class TokenError(Exception):
    """A token that cannot be honoured."""


class ForgedToken(TokenError):
    """Not a token we signed for this purpose (tampered, truncated, garbage, other secret)."""


class ExpiredToken(TokenError):
    """A token we signed, past its expiry."""


class SecretError(Exception):
    """The signing secret is missing or unusable (the message names the variable)."""


def secret_from_env(name: str) -> bytes:
    """The signing secret from the environment variable ``name`` (UTF-8 bytes, at least
    MIN_SECRET_BYTES). Raises SecretError naming the variable, never showing its value."""
    value = os.environ.get(name)
    hint = f"e.g. {name}=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    if value is None or value == "":
        raise SecretError(f"{name} is not set: the links sent to readers are signed with it ({hint})")
    secret = value.encode("utf-8", "surrogateescape")
    if len(secret) < MIN_SECRET_BYTES:
        raise SecretError(f"{name} is too short: {len(secret)} bytes, at least {MIN_SECRET_BYTES} ({hint})")
    return secret


def sign(secret: bytes, purpose: str, data: dict[str, str], now: dt.datetime, ttl: dt.timedelta) -> str:
    """A token carrying ``data`` for ``purpose``, valid from ``now`` for ``ttl``."""
    _check_secret(secret)
    _check_purpose(purpose)
    seconds = _seconds(now)
    if ttl <= dt.timedelta(0):
        raise ValueError(f"ttl must be positive, not {ttl}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise TypeError("token data must map str to str")
    payload = {"d": data, "e": seconds + int(ttl.total_seconds()), "p": purpose}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return f"{_b64(body)}.{_b64(_mac(secret, purpose, body))}"


def verify(secret: bytes, purpose: str, token: str, now: dt.datetime) -> dict[str, str]:
    """The data of a token signed with ``secret`` for ``purpose``. Raises ForgedToken or
    ExpiredToken (both TokenError)."""
    _check_secret(secret)
    _check_purpose(purpose)
    seconds = _seconds(now)
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise ForgedToken("not a token")
    parts = token.split(".")
    if len(parts) != 2 or not all(_B64URL_RE.fullmatch(p) for p in parts):
        raise ForgedToken("not a token")
    body, mac = _unb64(parts[0]), _unb64(parts[1])
    if not hmac.compare_digest(mac, _mac(secret, purpose, body)):
        raise ForgedToken("bad signature")
    payload = _payload(body)
    if payload["p"] != purpose:  # (the signature covers the purpose: only a bug gets here)
        raise ForgedToken("wrong purpose")
    if seconds > payload["e"]:
        raise ExpiredToken(f"expired {seconds - payload['e']} s ago")
    return dict(payload["d"])


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ForgedToken("malformed payload") from exc
    if not isinstance(payload, dict) or set(payload) != {"d", "e", "p"}:
        raise ForgedToken("malformed payload")
    data, expiry = payload["d"], payload["e"]
    if not isinstance(expiry, int) or isinstance(expiry, bool) or not isinstance(data, dict):
        raise ForgedToken("malformed payload")
    if not all(isinstance(v, str) for v in data.values()):
        raise ForgedToken("malformed payload")
    return payload


def _mac(secret: bytes, purpose: str, body: bytes) -> bytes:
    return hmac.new(secret, _DOMAIN + purpose.encode("ascii") + b"\x00" + body, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict base64url: only the canonical spelling (unused low bits zero) is accepted, so
    one token has one spelling."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:  # a length of 4n+1 characters
        raise ForgedToken("not a token") from exc
    if _b64(raw) != text:
        raise ForgedToken("not a token")
    return raw


def _seconds(now: dt.datetime) -> int:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return math.floor(now.timestamp())


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the secret must be at least {MIN_SECRET_BYTES} bytes")


def _check_purpose(purpose: str) -> None:
    if not isinstance(purpose, str) or not _PURPOSE_RE.fullmatch(purpose):
        raise ValueError(f"a purpose is a short lowercase name, not {purpose!r}")
