"""Client addresses and IP allowlists."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(text: str) -> Network:
    """An address or CIDR block; host bits set in a CIDR are refused, not silently cleared."""
    network = ipaddress.ip_network(text.strip(), strict=True)
    return network


@lru_cache(maxsize=4096)
def parse_address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=4096)
def networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """Parsed allowlist; cached because the same few lists are checked on every request."""
    return tuple(parse_network(entry) for entry in entries)


def allowed(address: Address | None, entries: Sequence[str] | None) -> bool:
    """Whether ``address`` may use a credential restricted to ``entries`` (None: anywhere)."""
    if not entries:
        return True
    if address is None:
        return False
    return any(address in network for network in networks(tuple(entries)))


def _trusted(address: Address | None, proxies: Iterable[Network]) -> bool:
    return address is not None and any(address in proxy for proxy in proxies)


def client_address(scope: Mapping[str, Any], proxies: Sequence[Network]) -> Address | None:
    """The caller's address: the TCP peer, or ``X-Forwarded-For`` behind a trusted proxy.

    The header is read right to left and every hop that is itself a trusted proxy is
    skipped; the first untrusted hop is the client. ``scope`` is the request's ASGI scope
    (its ``client`` and ``headers``). Anything a client writes to the left
    of that is ignored, so the header cannot be used to pick an allowed address. Every
    path reads the address here (``request.scope`` for the framework's), so an allowlist
    means the same whichever path answers.
    """
    client = scope.get("client")
    peer = parse_address(client[0]) if client else None
    if not proxies or not _trusted(peer, proxies):
        return peer
    forwarded = next((value for name, value in scope["headers"] if name == b"x-forwarded-for"), None)
    if not forwarded:
        return peer
    hops = [hop.strip() for hop in forwarded.decode("latin-1").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            return peer
        if not _trusted(address, proxies):
            return address
    return parse_address(hops[0]) if hops else peer
