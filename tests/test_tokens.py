"""Signed, expiring tokens (monitor/tokens.py): whole tokens, whole data, whole errors."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json

import pytest

from monitor.tokens import (
    MAX_TOKEN_CHARS,
    ExpiredToken,
    ForgedToken,
    SecretError,
    TokenError,
    secret_from_env,
    sign,
    verify,
)

pytestmark = pytest.mark.unit

SECRET = b"k" * 32
OTHER_SECRET = b"K" * 32
NOW = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
TTL = dt.timedelta(days=2)
DATA = {"address": "reader@example.org", "id": "42"}
# The token for (SECRET, "confirm", DATA, NOW, TTL). Links already sent must keep verifying
# after an upgrade: a change of format shows here first.
TOKEN = (
    "eyJkIjp7ImFkZHJlc3MiOiJyZWFkZXJAZXhhbXBsZS5vcmciLCJpZCI6IjQyIn0sImUiOjE3NzI1MzAyMDAsInAiOiJjb25maXJtIn0"
    ".nVSjCP4U0y7YOdhGxxi3CcGW7okNJrAjY6vJZof8ITs"
)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed(body: bytes, purpose: str = "confirm", secret: bytes = SECRET) -> str:
    """A token built by hand from the documented format (for payloads sign() never makes)."""
    mac = hmac.new(secret, b"icesco-monitor token v1\x00" + purpose.encode() + b"\x00" + body, hashlib.sha256)
    return f"{b64(body)}.{b64(mac.digest())}"


def test_round_trip_and_the_documented_format() -> None:
    token = sign(SECRET, "confirm", DATA, NOW, TTL)
    assert token == TOKEN
    payload = b'{"d":{"address":"reader@example.org","id":"42"},"e":1772530200,"p":"confirm"}'
    assert token == signed(payload)
    assert dt.datetime.fromtimestamp(1772530200, dt.UTC) == NOW + TTL
    assert verify(SECRET, "confirm", token, NOW) == DATA
    # Arabic and French data round-trip; the token stays URL-safe ASCII.
    data = {"address": "قارئ@example.org", "name": "Éloïse"}
    token = sign(SECRET, "unsubscribe", data, NOW, dt.timedelta(hours=1))
    assert (token.isascii(), set(token) - set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")) == (
        True,
        set(),
    )
    assert verify(SECRET, "unsubscribe", token, NOW) == data
    assert verify(SECRET, "confirm", sign(SECRET, "confirm", {}, NOW, TTL), NOW) == {}


def forged(token: str, purpose: str = "confirm", secret: bytes = SECRET, now: dt.datetime = NOW) -> str:
    with pytest.raises(ForgedToken) as caught:
        verify(secret, purpose, token, now)
    return str(caught.value)


def test_tampering_is_forgery() -> None:
    body, mac = TOKEN.split(".")
    other_data = b'{"d":{"address":"someone@example.org","id":"42"},"e":1772530200,"p":"confirm"}'
    longer_life = b'{"d":{"address":"reader@example.org","id":"42"},"e":1893456000,"p":"confirm"}'
    as_unsubscribe = b'{"d":{"address":"reader@example.org","id":"42"},"e":1772530200,"p":"unsubscribe"}'
    assert [forged(f"{b64(p)}.{mac}") for p in (other_data, longer_life, as_unsubscribe)] == ["bad signature"] * 3
    assert forged(f"{body}.{'m' + mac[1:]}") == "bad signature"  # one character of the signature
    assert forged(f"{body}.{mac[:-3]}") == "bad signature"  # a shorter signature
    assert forged(f"{body}.{b64(b'x' * 32)}") == "bad signature"
    payload = b'{"d":{"address":"reader@example.org","id":"42"},"e":1772530200,"p":"confirm"}'
    assert forged(f"{b64(payload[:-1])}.{mac}") == "bad signature"  # a truncated payload


def test_a_token_is_bound_to_its_purpose_and_secret() -> None:
    assert forged(TOKEN, purpose="unsubscribe") == "bad signature"
    assert forged(TOKEN, purpose="subscribe") == "bad signature"
    assert forged(TOKEN, secret=OTHER_SECRET) == "bad signature"
    assert verify(OTHER_SECRET, "confirm", sign(OTHER_SECRET, "confirm", DATA, NOW, TTL), NOW) == DATA
    # A forged token is forged whatever expiry it claims: 400, not 410.
    assert forged(TOKEN, secret=OTHER_SECRET, now=NOW + TTL + dt.timedelta(days=30)) == "bad signature"


def test_expiry_is_to_the_second_and_the_boundary_is_still_valid() -> None:
    assert verify(SECRET, "confirm", TOKEN, NOW + TTL) == DATA
    assert verify(SECRET, "confirm", TOKEN, NOW + TTL + dt.timedelta(microseconds=999_999)) == DATA
    assert verify(SECRET, "confirm", TOKEN, NOW - dt.timedelta(days=1)) == DATA  # clocks differ: not refused
    with pytest.raises(ExpiredToken) as caught:
        verify(SECRET, "confirm", TOKEN, NOW + TTL + dt.timedelta(seconds=1))
    assert str(caught.value) == "expired 1 s ago"
    with pytest.raises(ExpiredToken) as caught:  # the same instant in another zone
        verify(
            SECRET, "confirm", TOKEN, (NOW + TTL + dt.timedelta(hours=1)).astimezone(dt.timezone(dt.timedelta(hours=1)))
        )
    assert str(caught.value) == "expired 3600 s ago"
    # Signed with a fractional now: whole seconds, rounded down, both when signing and checking.
    token = sign(SECRET, "confirm", DATA, NOW + dt.timedelta(microseconds=500_000), dt.timedelta(seconds=10))
    assert token == sign(SECRET, "confirm", DATA, NOW, dt.timedelta(seconds=10))
    assert verify(SECRET, "confirm", token, NOW + dt.timedelta(seconds=10, microseconds=999_999)) == DATA
    with pytest.raises(ExpiredToken):
        verify(SECRET, "confirm", token, NOW + dt.timedelta(seconds=11))
    assert issubclass(ForgedToken, TokenError) and issubclass(ExpiredToken, TokenError)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "not a token"),
        (".", "not a token"),
        ("abc", "not a token"),
        ("a.b.c", "not a token"),
        (TOKEN + ".x", "not a token"),
        ("é.é", "not a token"),
        (TOKEN + "=", "not a token"),  # padding
        ("+" + TOKEN[1:], "not a token"),  # base64, not base64url
        (TOKEN + "\n", "not a token"),
        (" " + TOKEN, "not a token"),
        ("AAAAA.AAAAA", "not a token"),  # 4n+1 characters: no bytes
        ("QR.QR", "not a token"),  # not the canonical spelling of b"A"
        (TOKEN.split(".")[0] + "." + TOKEN.split(".")[1][:-1] + "t", "not a token"),  # ditto, of the signature
        ("A" * (MAX_TOKEN_CHARS + 1), "not a token"),
        ("x" * MAX_TOKEN_CHARS + "." + "x", "not a token"),
        (None, "not a token"),
        (b"bytes.bytes", "not a token"),
        (signed(b"not json"), "malformed payload"),
        (signed(b"\xff\xfe"), "malformed payload"),
        (signed(b"[1, 2]"), "malformed payload"),
        (signed(b'{"d":{},"e":1772530200}'), "malformed payload"),
        (signed(b'{"d":{},"e":"1772530200","p":"confirm"}'), "malformed payload"),
        (signed(b'{"d":{},"e":true,"p":"confirm"}'), "malformed payload"),
        (signed(b'{"d":[],"e":1772530200,"p":"confirm"}'), "malformed payload"),
        (signed(b'{"d":{"id":42},"e":1772530200,"p":"confirm"}'), "malformed payload"),
        (signed(b'{"d":{},"e":1772530200,"p":"confirm","x":1}'), "malformed payload"),
        (signed(b'{"d":{},"e":1772530200,"p":"unsubscribe"}'), "wrong purpose"),  # only by hand
    ],
)
def test_garbage_is_forgery(token: str, message: str) -> None:
    assert forged(token) == message


def test_misuse_is_a_programming_error() -> None:
    naive = dt.datetime(2026, 3, 1, 9, 30)
    with pytest.raises(ValueError, match="^now must be timezone-aware$"):
        sign(SECRET, "confirm", DATA, naive, TTL)
    with pytest.raises(ValueError, match="^now must be timezone-aware$"):
        verify(SECRET, "confirm", TOKEN, naive)
    with pytest.raises(ValueError, match="^the secret must be at least 32 bytes$"):
        sign(b"short", "confirm", DATA, NOW, TTL)
    with pytest.raises(ValueError, match="^the secret must be at least 32 bytes$"):
        verify("k" * 32, "confirm", TOKEN, NOW)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^a purpose is a short lowercase name, not 'Confirm'$"):
        sign(SECRET, "Confirm", DATA, NOW, TTL)
    with pytest.raises(ValueError, match="^a purpose is a short lowercase name, not ''$"):
        verify(SECRET, "", TOKEN, NOW)
    with pytest.raises(ValueError, match="^ttl must be positive, not 0:00:00$"):
        sign(SECRET, "confirm", DATA, NOW, dt.timedelta(0))
    with pytest.raises(TypeError, match="^token data must map str to str$"):
        sign(SECRET, "confirm", {"id": 42}, NOW, TTL)  # type: ignore[dict-item]


def test_the_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    hint = "(e.g. ICESCO_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))'))"
    monkeypatch.delenv("ICESCO_SECRET", raising=False)
    with pytest.raises(SecretError) as caught:
        secret_from_env("ICESCO_SECRET")
    assert str(caught.value) == f"ICESCO_SECRET is not set: the links sent to readers are signed with it {hint}"
    monkeypatch.setenv("ICESCO_SECRET", "")
    with pytest.raises(SecretError) as caught:
        secret_from_env("ICESCO_SECRET")
    assert str(caught.value) == f"ICESCO_SECRET is not set: the links sent to readers are signed with it {hint}"
    monkeypatch.setenv("ICESCO_SECRET", "hunter2-hunter2-hunter2")
    with pytest.raises(SecretError) as caught:
        secret_from_env("ICESCO_SECRET")
    assert str(caught.value) == f"ICESCO_SECRET is too short: 23 bytes, at least 32 {hint}"
    assert "hunter2" not in str(caught.value)
    monkeypatch.setenv("MY_SECRET", "s" * 31)
    with pytest.raises(SecretError, match="^MY_SECRET is too short: 31 bytes, at least 32 "):
        secret_from_env("MY_SECRET")
    monkeypatch.setenv("MY_SECRET", "é" * 16)  # 32 bytes in UTF-8
    assert secret_from_env("MY_SECRET") == "é".encode() * 16
    monkeypatch.setenv("ICESCO_SECRET", "0123456789abcdef0123456789abcdef")
    secret = secret_from_env("ICESCO_SECRET")
    assert secret == b"0123456789abcdef0123456789abcdef"
    assert verify(secret, "confirm", sign(secret, "confirm", DATA, NOW, TTL), NOW) == DATA
    assert json.loads(base64.urlsafe_b64decode(TOKEN.split(".")[0] + "==")) == {
        "d": DATA,
        "e": 1772530200,
        "p": "confirm",
    }
