"""How a request presents a credential: the one reading of ``Authorization`` and ``X-API-Key``.

The framework's dependencies, OAuth's client authentication, the token exchange and the
lean handlers all read the headers here, so a form one of them accepts is accepted by all.

- ``Authorization: Bearer <credential>`` (or ``Token <credential>``): an API key or token.
- ``X-API-Key: <credential>``: the same, when there is no ``Authorization`` header.
- ``Authorization: License <key>``: a license key (the licensing API, where its policy allows).
- ``Authorization: Basic base64(a:b)``: an email and password (``POST /tokens``), or an
  OAuth client's id and secret (``POST /oauth/token``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal

BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="keyplane"'}
"""The challenge of a refusal of Basic credentials (RFC 9110 §11.6.1; RFC 6749 §5.2)."""
BEARER_SCHEMES = frozenset({"bearer", "token"})
"""``Authorization`` schemes that carry an API key or token."""


class _Malformed(Enum):
    MALFORMED = "MALFORMED"


MALFORMED: Final = _Malformed.MALFORMED
"""An ``Authorization`` header that is there but is not a bearer credential."""
Malformed = Literal[_Malformed.MALFORMED]


@dataclass(frozen=True, slots=True)
class Authorization:
    scheme: str
    """Lower-cased, as schemes are case-insensitive (RFC 9110 §11.1)."""
    credentials: str
    """What follows the scheme, without surrounding whitespace."""


def authorization(header: str | None) -> Authorization | None:
    """The ``Authorization`` header's scheme and credentials; None when absent or empty."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return Authorization(scheme.lower(), value.strip())


def _bearer(header: str) -> str | Malformed:
    # ``authorization``'s reading, without making an object: the lean handlers call this on
    # every request.
    scheme, _, value = header.partition(" ")
    value = value.strip()
    return value if value and scheme.lower() in BEARER_SCHEMES else MALFORMED


def presented(authorization_header: str | None, api_key: str | None) -> str | Malformed | None:
    """The API key or token a request presents: from ``Authorization: Bearer`` (or
    ``Token``), else from ``X-API-Key``; None when neither is sent; ``MALFORMED`` when an
    ``Authorization`` header is sent in another form (or with nothing after the scheme)."""
    if authorization_header:
        return _bearer(authorization_header)
    if api_key is None:
        return None
    return api_key.strip() or None


def license_key(authorization_header: str | None) -> str | None:
    """The key of ``Authorization: License <key>``, if that is the scheme used."""
    sent = authorization(authorization_header)
    if sent is None or sent.scheme != "license" or not sent.credentials:
        return None
    return sent.credentials


def uses_basic(authorization_header: str | None) -> bool:
    sent = authorization(authorization_header)
    return sent is not None and sent.scheme == "basic"


def basic(authorization_header: str | None) -> tuple[str, str] | Malformed | None:
    """(user, password) of ``Authorization: Basic``; None when another scheme (or none) is
    used or nothing follows it; ``MALFORMED`` when what follows is not base64 of ``a:b``."""
    sent = authorization(authorization_header)
    if sent is None or sent.scheme != "basic" or not sent.credentials:
        return None
    try:
        user, sep, password = base64.b64decode(sent.credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return MALFORMED
    return (user, password) if sep else MALFORMED


def basic_undecodable(authorization_header: str | None) -> bool:
    """Whether ``Authorization: Basic`` carries base64 whose bytes are not UTF-8 text (a
    client that encoded its email or password in another charset)."""
    sent = authorization(authorization_header)
    if sent is None or sent.scheme != "basic":
        return False
    try:
        base64.b64decode(sent.credentials, validate=True).decode()
    except binascii.Error:
        return False
    except UnicodeDecodeError:
        return True
    return False
