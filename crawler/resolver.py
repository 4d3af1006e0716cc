"""A DNS resolver that is also the address guard: the address a connection goes to is the
address that was checked (no DNS rebinding between a check and the connection).

Scrapy connects through the reactor's resolver; this one resolves (with Scrapy's cache, so
one answer per host and run), refuses private, loopback, link-local and other internal
addresses unless they were named (``ICESCO_ALLOW_ADDRESSES``), and hands the checked address
to the connection.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from scrapy.crawler import Crawler
from scrapy.resolver import CachingThreadedResolver
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

from crawler.addresses import Allowed, internal, parse_allowed, permits

REFUSED: dict[str, str] = {}  # host -> why, for the errors of this run (Twisted reports only "no results")


def refusal(host: str) -> str | None:
    """Why the resolver refused a host in this run, if it did."""
    return REFUSED.get(host.lower())


class GuardedResolver(CachingThreadedResolver):
    allowed: list[Allowed] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> GuardedResolver:
        resolver: GuardedResolver = super().from_crawler(crawler, reactor)
        resolver.allowed = [parse_allowed(a) for a in crawler.settings.getlist("ICESCO_ALLOW_ADDRESSES")]
        return resolver

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        return super().getHostByName(name, timeout).addCallback(self._check, name)

    def _check(self, address: str, name: str) -> str:
        try:
            addr = ipaddress.ip_address(address)
        except ValueError:
            return address
        if internal(addr) and not permits(self.allowed, addr, None):  # the port is checked by the guard middleware
            why = (
                f"{name} resolves to {addr}, an internal address: not fetched"
                " (list it in crawl.allow_addresses to crawl it)"
            )
            REFUSED[name.lower()] = why
            raise DNSLookupError(why)
        return address
