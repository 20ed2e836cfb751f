"""The console's fixtures: in-process (an httpx client on the ASGI app, with cookies) and, for
the browser tests, a live ``keyplane serve`` per module and database with Chromium."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from keyplane.config import Settings
from tests import live
from tests.conftest import unavailable

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


# -- the browser tests: a live server and Chromium ------------------------------------------

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium (``.ci/run`` installs it): browser downloads are not reachable."""
HAVE_CHROMIUM = Path(CHROMIUM).exists()
SECRET = "console-server-secret-" + "z" * 32
SLUG = "console"
LIVE_PASSWORD = "a long enough password"


@dataclass(frozen=True)
class LiveConsole:
    base: str
    api_key: str
    """The admin's API key (``keyplane init``)."""
    admin: str
    viewer: str
    """A read-only user, who owns one key."""
    guessed: str
    """A developer whose password the throttle test guesses at (no other test signs in with it)."""


@pytest.fixture(scope="module")
async def live_console(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveConsole]:
    """``keyplane serve`` on the test's database with one account and three users; the rows
    are deleted when the module ends."""
    data_dir = tmp_path_factory.mktemp("console")
    env = live.environment(
        database_url,
        SECRET,
        data_dir,
        account=SLUG,
        login_attempts=str(ATTEMPTS),
        login_address_attempts="1000",
    )
    admin = f"admin@{SLUG}.test"
    try:
        with ThreadPoolExecutor(1) as pool:
            making = pool.submit(live.init, env, SLUG, admin, LIVE_PASSWORD)
            with live.serve(env, data_dir / "serve.log") as base:
                made = making.result()
                headers = {"Authorization": f"Bearer {made['apiKey']}"}
                async with httpx.AsyncClient(base_url=base, headers=headers) as http:
                    viewer = await _user(http, "viewer@console.test", "read-only")
                    await _user(http, "guessed@console.test", "developer")
                    owned = await http.post(
                        "/v1/api-keys", json={"name": "viewer's key", "scopes": ["READ"], "userId": viewer}
                    )
                    assert owned.status_code == 201, owned.text
                yield LiveConsole(base, made["apiKey"], admin, "viewer@console.test", "guessed@console.test")
    finally:
        await live.empty(database_url)


async def _user(http: httpx.AsyncClient, email: str, role: str) -> str:
    attributes = {"email": email, "role": role, "password": LIVE_PASSWORD}
    made = await http.post("/v1/users", json={"data": {"type": "users", "attributes": attributes}})
    assert made.status_code == 201, made.text
    user_id: str = made.json()["data"]["id"]
    return user_id


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Chromium, headless, for the module's tests (each opens a context of its own)."""
    if not HAVE_CHROMIUM:
        unavailable("Chromium", CHROMIUM, " (apt-get install chromium)")
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()
