"""Every refusal carries a code, on every API: clients branch on it, never on the wording."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from keyplane.errors import AppError, BadRequest, Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized
from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer


@pytest.mark.parametrize(
    "error", [AppError, BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooManyRequests]
)
def test_an_error_cannot_be_raised_without_a_code(error: type[AppError]) -> None:
    with pytest.raises(TypeError):
        error("no code")  # type: ignore[call-arg]  # the point: mypy refuses it too


async def test_a_sales_agent_creating_a_product_is_refused_with_a_code(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, key = await factories.role_key(app, client, acme, "sales-agent")
    body = {"data": {"type": "products", "attributes": {"name": "Not mine to make"}}}
    refused = await client.post(f"{acme.base}/products", json=body, headers=bearer(key))
    error = jsonapi_error(refused, 403, "ACCESS_DENIED")["errors"][0]
    assert error["title"] == "Access denied"
    assert "sales-agent" in error["detail"]


async def test_an_end_customer_listing_keys_is_refused_with_a_code(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    _, key = await factories.role_key(app, client, acme, "user")
    jsonapi_error(await client.get(f"{acme.base}/keys", headers=bearer(key)), 403, "ACCESS_DENIED")


async def test_protected_policies_and_licenses_are_refused_with_their_codes(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    user_id, key = await factories.role_key(app, client, acme, "user")
    protected = await factories.policy(client, acme, protected=True)
    # An end customer names themselves as the owner (else 403 ACCESS_DENIED before the policy).
    body = factories.document("licenses", {}, policy=protected, owner=user_id)
    jsonapi_error(
        await client.post(f"{acme.base}/licenses", json=body, headers=bearer(key)), 403, "POLICY_PROTECTED"
    )

    license = await factories.license(client, acme, protected, owner=user_id)
    machine = {
        "data": {
            "type": "machines",
            "attributes": {"fingerprint": "f1:f2"},
            "relationships": {"license": factories.ref("licenses", license["id"])},
        }
    }
    refused = await client.post(f"{acme.base}/machines", json=machine, headers=bearer(key))
    jsonapi_error(refused, 403, "LICENSE_PROTECTED")
