"""Where a webhook may be sent: the rule that keeps a caller from making the server send
requests into the network it sits in (SSRF). A URL must be ``https`` and every address its
host resolves to must be public: not loopback, private, link-local (the cloud metadata
service lives there), multicast, unspecified, shared or reserved. The rule is checked when
an endpoint is saved, and again before each delivery, on the addresses the delivery then
connects to (a name may have been pointed elsewhere since).

``allow_private`` (``KEYPLANE_WEBHOOKS_ALLOW_PRIVATE``) lifts both halves: ``http`` and any
address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)


RESOLVE_SECONDS = 3.0
"""Longest a name may take to resolve (a request that saves an endpoint waits for it)."""


class Refused(Exception):
    """A URL or an address the rule refuses; the message says why (never the address)."""


@dataclass(frozen=True, slots=True)
class Target:
    """A URL taken apart for sending."""

    url: str
    scheme: str
    host: str
    port: int


def parse(url: str, *, allow_private: bool) -> Target:
    """``url`` if it is one Keyplane will send to (``https``, a host, no credentials in it)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("must be a valid URL") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise Refused("must be an https URL")
    if not parts.hostname:
        raise Refused("must be a valid URL with a host")
    if parts.username is not None or parts.password is not None:
        raise Refused("must not carry credentials")
    default = 443 if parts.scheme == "https" else 80
    return Target(url, parts.scheme, parts.hostname, port or default)


def public(address: IPAddress) -> bool:
    """Whether ``address`` is on the public internet (an IPv4 address mapped into IPv6 is
    judged as itself)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA or address.is_multicast or address.is_unspecified:
        return False
    return address.is_global


async def resolve(target: Target, *, allow_private: bool) -> list[IPAddress]:
    """The addresses ``target``'s host resolves to, all of them allowed (resolved on the
    resolver's thread pool: the event loop never waits on DNS)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        found = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(RESOLVE_SECONDS):
                infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError):
            raise Refused("must have a host that resolves") from None
        found = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in found:
                found.append(address)
    if not found:
        raise Refused("must have a host that resolves")
    if not allow_private and not all(public(address) for address in found):
        raise Refused("must not point at a loopback, private, link-local or metadata address")
    return found


async def check(url: str, *, allow_private: bool) -> Target:
    """``url`` taken apart, if the rule allows sending to it now."""
    target = parse(url, allow_private=allow_private)
    await resolve(target, allow_private=allow_private)
    return target
