"""The console in a real browser (Debian's Chromium, headless, driven by Playwright) against a
live ``keyplane serve``, on SQLite and on PostgreSQL. Few tests, each a whole task a member of
staff does; the rules themselves are tested in process (``test_sessions``)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Dialog, FilePayload, Page, expect

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
        for path in (
            "/console",
            "/console/api-keys",
            "/console/api-keys/new",
            "/console/licenses",
            "/console/products",
        ):
            await page.goto(path)
            widths = await page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1] == 375, (path, widths)
    finally:
        await context.close()


async def _api(live: LiveConsole, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/<path>`` as the admin's API key (JSON:API); the answer's ``data``."""
    async with httpx.AsyncClient(base_url=live.base) as http:
        answer = await http.post(
            f"/v1/{path}",
            json={"data": body},
            headers={"Authorization": f"Bearer {live.api_key}", "Content-Type": "application/vnd.api+json"},
        )
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def _to(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"type": kind, "id": record["id"]}}


async def test_find_a_license_by_its_owners_email_and_suspend_it(
    page: Page, live_console: LiveConsole
) -> None:
    suffix = uuid.uuid4().hex[:6]
    owner = await _api(
        live_console,
        "users",
        {"type": "users", "attributes": {"email": f"buyer-{suffix}@example.test", "role": "user"}},
    )
    product = await _api(live_console, "products", {"type": "products", "attributes": {"name": "Desktop"}})
    policy = await _api(
        live_console,
        "policies",
        {
            "type": "policies",
            "attributes": {"name": "Yearly"},
            "relationships": {"product": _to("products", product)},
        },
    )
    license = await _api(
        live_console,
        "licenses",
        {
            "type": "licenses",
            "relationships": {"policy": _to("policies", policy), "owner": _to("users", owner)},
        },
    )
    await _sign_in(page, live_console.admin)
    await page.get_by_role("link", name="Licenses").click()
    await page.get_by_label("Find").fill(f"BUYER-{suffix}@example.test")
    await page.get_by_role("button", name="Find").click()
    await expect(page.get_by_text("1 license.")).to_be_visible()
    await page.get_by_role("link", name=str(license["attributes"]["key"])).click()
    await expect(page.get_by_text(f"buyer-{suffix}@example.test")).to_be_visible()
    await page.get_by_role("button", name="Suspend").click()
    await expect(page.get_by_role("status")).to_contain_text("suspended")
    await expect(page.get_by_role("button", name="Reinstate")).to_be_visible()
    await expect(page.get_by_role("cell", name="license.suspended")).to_be_visible()
    async with httpx.AsyncClient(base_url=live_console.base) as http:
        validated = await http.post(
            "/v1/licenses/actions/validate-key",
            json={"meta": {"key": license["attributes"]["key"]}},
            headers={"Content-Type": "application/vnd.api+json"},
        )
    assert validated.json()["meta"]["code"] == "SUSPENDED"


async def test_import_500_pool_keys_from_a_csv_with_3_bad_lines(
    page: Page, live_console: LiveConsole
) -> None:
    suffix = uuid.uuid4().hex[:6].upper()
    product = await _api(live_console, "products", {"type": "products", "attributes": {"name": "Beta app"}})
    policy = await _api(
        live_console,
        "policies",
        {
            "type": "policies",
            "attributes": {"name": f"Beta {suffix}", "usePool": True},
            "relationships": {"product": _to("products", product)},
        },
    )
    taken = await _api(
        live_console,
        "licenses",
        {
            "type": "licenses",
            "attributes": {"key": f"LICENSED-{suffix}"},
            "relationships": {"policy": _to("policies", policy)},
        },
    )
    keys = [f"BETA-{suffix}-{n:04d}" for n in range(497)]
    rows = [
        "key",
        *keys[:100],
        "short",
        *keys[100:300],
        keys[5],
        *keys[300:],
        str(taken["attributes"]["key"]),
    ]
    await _sign_in(page, live_console.admin)
    await page.get_by_role("link", name="Pools").click()
    await page.get_by_role("link", name=f"Beta {suffix}").click()
    await page.get_by_label("Or a CSV file").set_input_files(
        files=FilePayload(name="keys.csv", mimeType="text/csv", buffer="\r\n".join(rows).encode())
    )
    await page.get_by_role("button", name="Add the keys").click()
    await expect(page.get_by_role("status")).to_have_text("497 keys added, 3 refused.")
    refused = page.get_by_role("table", name="Refused lines")
    await expect(refused.get_by_role("row")).to_have_count(4)
    for row, cells in (
        (1, ["102", "short", "is too short (minimum is 8 characters)", "KEY_TOO_SHORT"]),
        (2, ["303", keys[5], "duplicates line 7", "KEY_TAKEN"]),
        (3, ["501", f"LICENSED-{suffix}", "conflicts with an existing license", "KEY_CONFLICT"]),
    ):
        await expect(refused.get_by_role("row").nth(row).get_by_role("cell")).to_have_text(cells)
    await expect(page.locator(".details div", has_text="Keys in pool")).to_contain_text("497")


async def test_the_readmes_screenshots(page: Page, live_console: LiveConsole, tmp_path: Path) -> None:
    """The overview, the API keys page and a license's page, as the README shows them: taken
    into ``KEYPLANE_SCREENSHOTS`` when it names a folder (``make screenshots`` writes docs/),
    else into the test's own folder. Each is a PNG of the page as a signed-in admin sees it."""
    folder = Path(os.environ.get("KEYPLANE_SCREENSHOTS") or tmp_path)
    suffix = uuid.uuid4().hex[:6]
    owner = await _api(
        live_console,
        "users",
        {"type": "users", "attributes": {"email": f"ada-{suffix}@example.test", "role": "user"}},
    )
    product = await _api(live_console, "products", {"type": "products", "attributes": {"name": "Studio"}})
    policy = await _api(
        live_console,
        "policies",
        {
            "type": "policies",
            "attributes": {
                "name": "Studio yearly",
                "duration": 365 * 86400,
                "floating": True,
                "maxMachines": 3,
            },
            "relationships": {"product": _to("products", product)},
        },
    )
    license = await _api(
        live_console,
        "licenses",
        {
            "type": "licenses",
            "relationships": {"policy": _to("policies", policy), "owner": _to("users", owner)},
        },
    )
    await _api(
        live_console,
        "machines",
        {
            "type": "machines",
            "attributes": {"fingerprint": f"studio-laptop-{suffix}", "name": "Ada's laptop"},
            "relationships": {"license": _to("licenses", license)},
        },
    )
    async with httpx.AsyncClient(base_url=live_console.base) as http:
        for name in ("billing service", "nightly export"):
            made = await http.post(
                "/v1/api-keys",
                json={"name": name, "scopes": ["READ", "CREATE"]},
                headers={"Authorization": f"Bearer {live_console.api_key}"},
            )
            assert made.status_code == 201, made.text
    await _sign_in(page, live_console.admin)
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    await page.screenshot(path=folder / "console-overview.png", full_page=True)
    await page.get_by_role("link", name="API keys").click()
    await expect(page.get_by_role("link", name="billing service")).to_be_visible()
    await page.screenshot(path=folder / "console-api-keys.png", full_page=True)
    await page.goto(f"/console/licenses/{license['id']}")
    await expect(page.get_by_text("Ada's laptop")).to_be_visible()
    await page.screenshot(path=folder / "console-license.png", full_page=True)
    for name in ("console-overview.png", "console-api-keys.png", "console-license.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
