"""The one reading of ``Authorization`` and ``X-API-Key``, as a table."""

from __future__ import annotations

import base64

import pytest

from keyplane.auth.headers import (
    MALFORMED,
    Authorization,
    Malformed,
    authorization,
    basic,
    license_key,
    presented,
)

KEY = "kp_" + "A" * 61


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("header", "api_key", "expected"),
    [
        (None, None, None),
        ("", None, None),
        (None, "", None),
        (None, "   ", None),
        (f"Bearer {KEY}", None, KEY),
        (f"bearer {KEY}", None, KEY),
        (f"BEARER   {KEY}  ", None, KEY),
        (f"Token {KEY}", None, KEY),
        (None, KEY, KEY),
        (None, f"  {KEY} ", KEY),
        (f"Bearer {KEY}", "kp_other", KEY),  # Authorization wins
        ("Bearer", None, MALFORMED),
        ("Bearer    ", None, MALFORMED),
        (f"Basic {KEY}", None, MALFORMED),
        (f"License {KEY}", KEY, MALFORMED),  # a license key is not an API key
        (KEY, None, MALFORMED),
    ],
)
def test_presented_credential(
    header: str | None, api_key: str | None, expected: str | Malformed | None
) -> None:
    assert presented(header, api_key) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("License ABC-123", "ABC-123"),
        ("license   ABC-123 ", "ABC-123"),
        ("License", None),
        ("Bearer ABC-123", None),
    ],
)
def test_license_key(header: str | None, expected: str | None) -> None:
    assert license_key(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("Bearer x", None),
        ("Basic", None),
        (_basic("ada@example.com:secret"), ("ada@example.com", "secret")),
        ("basic " + base64.b64encode(b"a:b:c").decode(), ("a", "b:c")),
        (_basic("a:"), ("a", "")),
        (_basic("no colon"), MALFORMED),
        ("Basic not-base64!", MALFORMED),
        ("Basic " + base64.b64encode(b"\xff:\xfe").decode(), MALFORMED),
    ],
)
def test_basic(header: str | None, expected: tuple[str, str] | Malformed | None) -> None:
    assert basic(header) == expected


def test_authorization_lowers_the_scheme_only() -> None:
    assert authorization("BeArEr AbC ") == Authorization("bearer", "AbC")
