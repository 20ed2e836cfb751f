"""The console's product and policy pages, in process on both databases: create and edit each
through the services (an edit changes only what its form changed; a refusal changes nothing
and says why), and what a role without the right sees."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from tests import factories
from tests.console.conftest import csrf_of, sign_in
from tests.factories import PASSWORD, Tenant, bearer


async def _signed_in(client: httpx.AsyncClient, email: str) -> str:
    assert (await sign_in(client, email, PASSWORD)).status_code == 303
    return csrf_of((await client.get("/console")).text)


async def test_a_product_and_a_pooled_policy_are_created_and_edited(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    token = await _signed_in(client, acme.admin_email)
    assert "New product" in (await client.get("/console/products")).text
    made = await client.post("/console/products", data={"csrf": token, "name": "Desktop app", "code": "desk"})
    assert made.status_code == 303, made.text
    product_id = made.headers["location"].split("/")[-1].split("?")[0]
    api = await client.get(f"{acme.base}/products/{product_id}", headers=bearer(acme.key))
    assert (api.json()["data"]["attributes"]["name"], api.json()["data"]["attributes"]["code"]) == (
        "Desktop app",
        "desk",
    )
    taken = await client.post("/console/products", data={"csrf": token, "name": "Other", "code": "desk"})
    assert taken.status_code == 422
    assert "CODE_TAKEN" in taken.text
    listed = await client.get(f"{acme.base}/products", headers=bearer(acme.key))
    assert len(listed.json()["data"]) == 1
    renamed = await client.post(
        f"/console/products/{product_id}/edit",
        data={"csrf": token, "name": "Desktop", "code": "desk", "url": ""},
    )
    assert renamed.status_code == 303

    policy = await client.post(
        f"/console/products/{product_id}/policies",
        data={"csrf": token, "name": "Beta", "duration": "30", "usePool": "on", "poolLowThreshold": "5"},
    )
    assert policy.status_code == 303, policy.text
    policy_id = policy.headers["location"].split("/")[-1]
    attributes = (await client.get(f"{acme.base}/policies/{policy_id}", headers=bearer(acme.key))).json()[
        "data"
    ]["attributes"]
    assert (attributes["usePool"], attributes["duration"], attributes["poolLowThreshold"]) == (
        True,
        30 * 86_400,
        5,
    )
    page = await client.get(f"/console/products/{product_id}")
    assert "Desktop" in page.text
    assert f"/console/policies/{policy_id}" in page.text

    form = await client.get(f"/console/policies/{policy_id}/edit")
    assert 'value="30"' in form.text
    short = await client.post(
        f"/console/policies/{policy_id}/edit",
        data={"csrf": token, "name": "Beta", "duration": "0", "poolLowThreshold": "5", "floating": "on"},
    )
    assert short.status_code == 422
    assert "duration" in short.text
    saved = await client.post(
        f"/console/policies/{policy_id}/edit",
        data={"csrf": token, "name": "Beta 2", "duration": "30", "poolLowThreshold": "5", "floating": "on"},
    )
    assert (saved.status_code, saved.headers["location"]) == (
        303,
        f"/console/policies/{policy_id}?done=updated",
    )
    after = (await client.get(f"{acme.base}/policies/{policy_id}", headers=bearer(acme.key))).json()["data"]
    assert (
        after["attributes"]["name"],
        after["attributes"]["floating"],
        after["attributes"]["duration"],
    ) == (
        "Beta 2",
        True,
        30 * 86_400,
    )
    assert "Saved." in (await client.get(saved.headers["location"])).text


async def test_a_policy_the_service_refuses_is_not_created_and_says_why(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme)
    token = await _signed_in(client, acme.admin_email)
    refused = await client.post(
        f"/console/products/{product_id}/policies",
        data={"csrf": token, "name": "Bad", "maxMachines": "2"},
    )
    assert refused.status_code == 422, refused.text
    assert "must be equal to 1 for non-floating policy (MAX_MACHINES_INVALID)" in refused.text
    assert 'value="Bad"' in refused.text  # the form keeps what was typed
    listed = await client.get(f"{acme.base}/policies", headers=bearer(acme.key))
    assert listed.json()["data"] == []


async def test_a_sales_agent_sees_no_product_or_policy_changes_and_is_refused_them(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme, name="Desktop")
    policy_id = await factories.policy(client, acme, product_id, name="Yearly")
    email = f"sales-{uuid.uuid4().hex[:6]}@acme.test"
    await factories.user(app, acme, "sales-agent", email)
    token = await _signed_in(client, email)
    assert "New product" not in (await client.get("/console/products")).text
    page = await client.get(f"/console/products/{product_id}")
    assert page.status_code == 200
    assert "New policy" not in page.text
    assert ">Edit</a>" not in page.text
    assert ">Edit</a>" not in (await client.get(f"/console/policies/{policy_id}")).text
    for path, data in (
        ("/console/products", {"name": "Mine"}),
        (f"/console/products/{product_id}/edit", {"name": "Renamed"}),
        (f"/console/products/{product_id}/policies", {"name": "Mine"}),
        (f"/console/policies/{policy_id}/edit", {"name": "Renamed"}),
    ):
        refused = await client.post(path, data={"csrf": token, **data})
        assert refused.status_code == 403, path
        assert "ACCESS_DENIED" in refused.text, path
    assert (await client.get(f"/console/products/{product_id}/edit")).status_code == 403
    product = await client.get(f"{acme.base}/products/{product_id}", headers=bearer(acme.key))
    assert product.json()["data"]["attributes"]["name"] == "Desktop"
