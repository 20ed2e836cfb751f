"""The console's fixtures: in-process (an httpx client on the ASGI app, with cookies) and, for
the browser tests, a live ``keyplane serve`` per module and database with Chromium."""

from __future__ import annotations

import re

import httpx
import pytest

from keyplane.config import Settings

ATTEMPTS = 3
"""Failed sign-ins one email may make from one address per window, in these tests."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"login_attempts": ATTEMPTS, "login_address_attempts": 50})


def csrf_of(page: str) -> str:
    """The CSRF token of a page's first form."""
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found is not None, page
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str, account: str | None = None
) -> httpx.Response:
    """Sign ``client`` in through the sign-in form (its cookie jar keeps the session)."""
    form = await client.get("/console/sign-in")
    assert form.status_code == 200, form.text
    fields = {"csrf": csrf_of(form.text), "email": email, "password": password, "next": "/console"}
    if account is not None:
        fields["account"] = account
    return await client.post("/console/sign-in", data=fields)
