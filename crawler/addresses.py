"""Internal addresses and the operator's allow-list (pure functions, no network)."""

from __future__ import annotations

import ipaddress


def internal(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return bool(
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_reserved
        or addr.is_multicast
        or addr.is_unspecified
    )


Allowed = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int | None]


def parse_allowed(entry: str) -> Allowed:
    """An ``allow_addresses`` entry: an address or network, maybe with a port
    (``10.0.0.5``, ``10.0.0.0/8``, ``127.0.0.1:8080``, ``[::1]:8080``). ValueError if not."""
    text, port = entry.strip(), None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"not an address: {entry!r}")
            port = int(rest[1:])
        text = host
    elif text.count(":") == 1:
        text, _, raw = text.partition(":")
        if not raw.isdigit():
            raise ValueError(f"not an address: {entry!r}")
        port = int(raw)
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port out of range: {entry!r}")
    return ipaddress.ip_network(text, strict=False), port


def permits(allowed: list[Allowed], addr: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int | None) -> bool:
    """True if an entry names the address (and, if it names a port, that port)."""
    return any(addr in net and (p is None or port is None or p == port) for net, p in allowed)
