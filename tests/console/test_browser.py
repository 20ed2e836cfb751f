"""The console in a real browser (Debian's Chromium, headless, driven by Playwright) against a
live ``keyplane serve``, on SQLite and on PostgreSQL. Few tests, each a whole task a member of
staff does; the rules themselves are tested in process (``test_sessions``)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from tests.console.conftest import ATTEMPTS, LIVE_PASSWORD, LiveConsole


@pytest.fixture
async def page(browser: Browser, live_console: LiveConsole) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies) and its page, at a desktop size."""
    context = await browser.new_context(base_url=live_console.base, viewport={"width": 1280, "height": 900})
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def _sign_in(page: Page, email: str, password: str = LIVE_PASSWORD) -> None:
    await page.goto("/console/sign-in")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def _verify(live: LiveConsole, key: str) -> str:
    """The code ``POST /v1/api-keys/verify`` answers for ``key`` (from an allowed address)."""
    async with httpx.AsyncClient(base_url=live.base) as http:
        answer = await http.post(
            "/v1/api-keys/verify",
            json={"key": key, "ip": "10.1.2.3"},
            headers={"Authorization": f"Bearer {live.api_key}"},
        )
    assert answer.status_code == 200, answer.text
    code: str = answer.json()["code"]
    return code


async def test_sign_in_with_the_keyboard_and_sign_out(page: Page, live_console: LiveConsole) -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/console/sign-in\?next=/console$"))
    # The email field has the focus; the rest is reached with Tab and sent with Enter.
    await page.keyboard.type(live_console.admin)
    await page.keyboard.press("Tab")
    await page.keyboard.type(LIVE_PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    await expect(page.get_by_text(live_console.admin)).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_text("You are signed out.")).to_be_visible()
    await page.goto("/console/api-keys")
    await expect(page).to_have_url(re.compile(r"/console/sign-in"))


async def test_a_wrong_password_then_the_throttle(page: Page, live_console: LiveConsole) -> None:
    for _ in range(ATTEMPTS):
        await _sign_in(page, live_console.guessed, "not the password")
        await expect(page.get_by_role("alert")).to_have_text("The email or password is not right.")
    await _sign_in(page, live_console.guessed)
    await expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_a_new_key_is_shown_once_and_refused_once_deactivated_or_deleted(
    page: Page, live_console: LiveConsole
) -> None:
    await _sign_in(page, live_console.admin)
    await page.get_by_role("link", name="API keys").click()
    await page.get_by_role("link", name="New API key").click()
    await page.get_by_label("Name").fill("browser key")
    await page.get_by_label("READ").check()
    await page.get_by_role("button", name="Create the key").click()
    await expect(page.get_by_role("heading", name="API key created")).to_be_visible()
    await expect(page.get_by_role("button", name="Copy")).to_be_visible()
    secret = await page.get_by_label("The key").input_value()
    assert await _verify(live_console, secret) == "VALID"

    await page.get_by_role("link", name="Go to the key's page").click()
    await expect(page.get_by_role("heading", name=re.compile("browser key"))).to_be_visible()
    assert secret not in await page.content()
    await page.goto("/console/api-keys")
    assert secret not in await page.content()
    await page.go_back()

    await page.get_by_role("button", name="Deactivate").click()
    await expect(page.get_by_role("status")).to_contain_text("deactivated")
    assert await _verify(live_console, secret) == "INACTIVE"

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    page.on("dialog", accept)
    await page.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("status")).to_contain_text("deleted")
    assert await _verify(live_console, secret) == "REVOKED"
    await expect(page.get_by_role("cell", name="api-key.deleted")).to_be_visible()


async def test_a_read_only_user_cannot_change_anything(page: Page, live_console: LiveConsole) -> None:
    await _sign_in(page, live_console.viewer)
    await page.get_by_role("link", name="API keys").click()
    await expect(page.get_by_text("1 key.")).to_be_visible()
    await expect(page.get_by_role("link", name="New API key")).to_have_count(0)
    await page.get_by_role("link", name="viewer's key").click()
    await expect(page.get_by_role("heading", name=re.compile("viewer's key"))).to_be_visible()
    for action in ("Edit", "Deactivate", "Delete"):
        await expect(page.get_by_role("button", name=action)).to_have_count(0)
        await expect(page.get_by_role("link", name=action)).to_have_count(0)
    refused = await page.goto("/console/api-keys/new")
    assert refused is not None
    assert refused.status == 403
    await expect(page.get_by_role("alert")).to_contain_text("lacks the CREATE scope")


async def test_a_form_posted_without_its_csrf_token_is_refused(page: Page, live_console: LiveConsole) -> None:
    await _sign_in(page, live_console.admin)
    await page.goto("/console/api-keys/new")
    await page.locator("form.stack input[name=csrf]").evaluate("field => field.remove()")
    await page.get_by_label("Name").fill("forged key")
    await page.get_by_label("READ").check()
    await page.get_by_role("button", name="Create the key").click()
    await expect(page.get_by_role("alert")).to_contain_text("without its security token")
    await expect(page.get_by_text("CSRF_INVALID")).to_be_visible()
    async with httpx.AsyncClient(base_url=live_console.base) as http:
        listed = await http.get(
            "/v1/api-keys",
            params={"name": "forged"},
            headers={"Authorization": f"Bearer {live_console.api_key}"},
        )
    assert listed.json()["total"] == 0


async def test_the_pages_fit_375_pixels_without_scrolling_sideways(
    browser: Browser, live_console: LiveConsole
) -> None:
    context = await browser.new_context(base_url=live_console.base, viewport={"width": 375, "height": 740})
    try:
        page = await context.new_page()
        await _sign_in(page, live_console.admin)
        await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        for path in ("/console", "/console/api-keys", "/console/api-keys/new"):
            await page.goto(path)
            widths = await page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1] == 375, (path, widths)
    finally:
        await context.close()
