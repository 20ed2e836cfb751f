"""The SSRF rule on its own: which URLs and addresses a webhook may be sent to."""

from __future__ import annotations

import ipaddress

import pytest

from keyplane.webhooks.addresses import Refused, check, parse, public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.8",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.100.100.200",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 (an address refused, not bound)
        "224.0.0.251",
        "::1",
        "::",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hooks",
        "ftp://example.com/",
        "https:///nohost",
        "https://user:secret@example.com/",
        "https://example.com:notaport/",
        "not a url",
    ],
)
def test_urls_that_are_not_plain_https_are_refused(url: str) -> None:
    with pytest.raises(Refused):
        parse(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://localhost:8443/hooks",
        "https://[::1]/",
        "https://169.254.169.254/latest",
    ],
)
async def test_a_name_or_literal_on_a_private_network_is_refused(url: str) -> None:
    with pytest.raises(Refused):
        await check(url, allow_private=False)


async def test_allowing_private_addresses_allows_http_and_loopback() -> None:
    target = await check("http://localhost:8080/hooks", allow_private=True)
    assert (target.scheme, target.host, target.port) == ("http", "localhost", 8080)


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(Refused, match="resolves"):
        await check("https://does-not-exist.invalid/", allow_private=False)
