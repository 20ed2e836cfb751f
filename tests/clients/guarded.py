"""What the FastAPI and Django REST framework guard tests share: a key behind each
verification code, made on the live account, and the answer each guard must give it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from keyplane_client import Scope
from sqlalchemy import update

from keyplane.db import Database, async_url
from keyplane.kit import clock
from keyplane.kit.credentials import CredentialKind, generate
from keyplane.models import Credential
from tests.clients.support import LiveAccount
from tests.live import free_port

GUARDED_SCOPES: list[Scope] = ["READ"]
"""The scopes the guarded test routes require."""


@dataclass(frozen=True)
class Expected:
    """A request presenting a key for ``code`` and the guard's answer to it."""

    code: str
    status: int


ANSWERS = [
    Expected("VALID", 200),
    Expected("KEY_MISSING", 401),
    Expected("MALFORMED", 401),
    Expected("NOT_FOUND", 401),
    Expected("REVOKED", 401),
    Expected("INACTIVE", 401),
    Expected("EXPIRED", 401),
    Expected("IP_NOT_ALLOWED", 403),
    Expected("INSUFFICIENT_SCOPE", 403),
]
"""RATE_LIMITED (429) and Keyplane out of reach (503) have tests of their own."""


def created(live: LiveAccount, **attributes: Any) -> dict[str, Any]:
    """A new API key of the account (the admin's): its object, with the secret ``key``."""
    response = live.admin("POST", "api-keys", {"scopes": GUARDED_SCOPES, **attributes})
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def revoke(live: LiveAccount, key_id: str) -> None:
    response = live.admin("DELETE", f"api-keys/{key_id}")
    assert response.status_code == 204, response.text


async def _expire(database_url: str, key_id: str) -> None:
    """Move a key's expiry into the past, in the database: the API refuses a past expiry, and
    the live server's clock cannot be moved. The key must not have been used yet (the server
    would hold its state)."""
    database = Database(async_url(database_url))
    try:
        async with database.writer() as session:
            past = clock.now() - timedelta(hours=1)
            await session.execute(
                update(Credential).where(Credential.id == uuid.UUID(key_id)).values(expires_at=past)
            )
            await session.commit()
    finally:
        await database.dispose()


async def key_for(code: str, live: LiveAccount, database_url: str) -> str | None:
    """A key that Keyplane verifies as ``code`` for ``GUARDED_SCOPES`` from 127.0.0.1 (None:
    no key at all)."""
    makers: dict[str, Callable[[], str | None]] = {
        "VALID": lambda: str(created(live)["key"]),
        "KEY_MISSING": lambda: None,
        "MALFORMED": lambda: "not-a-keyplane-key",
        "NOT_FOUND": lambda: generate(CredentialKind.API_KEY)[0],
        "IP_NOT_ALLOWED": lambda: str(created(live, whitelistedIPs=["10.0.0.0/8"])["key"]),
        "INSUFFICIENT_SCOPE": lambda: str(created(live, scopes=["CREATE"])["key"]),
    }
    if code in makers:
        return makers[code]()
    made = created(live)
    if code == "REVOKED":
        revoke(live, made["id"])
    elif code == "INACTIVE":
        response = live.admin("PATCH", f"api-keys/{made['id']}", {"status": "inactive"})
        assert response.status_code == 200, response.text
    elif code == "EXPIRED":
        await _expire(database_url, made["id"])
    else:
        raise AssertionError(f"no key made for {code}")
    return str(made["key"])


def closed_port_url() -> str:
    """A local address nothing listens on: connections to it are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


class Clock:
    """A monotonic clock the test moves by hand, for the opt-in cache."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def readme_example(after: str) -> dict[str, Any]:
    """The names the README's first Python example after the text ``after`` defines, run as
    it is printed, so that the README shows the code these tests check."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("```python\n", readme.index(after)) + len("```python\n")
    names: dict[str, Any] = {"__name__": "readme_example"}
    exec(readme[start : readme.index("```", start)], names)  # noqa: S102 - our own README's example
    return names
