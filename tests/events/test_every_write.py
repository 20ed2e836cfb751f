"""Every write any route makes is in the event log, with who made it.

The test walks every mutating operation of ``/openapi.json`` (under ``/v1/accounts/{account}``:
the ``/v1`` forms are the same handlers), makes each succeed once, and checks the newest
event: its name, its resource, its whodunnit and the request it came with. An operation
added to the API without a step here fails ``test_every_mutating_route_is_walked``.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from keyplane.services import services_of
from tests import factories
from tests.factories import Tenant, bearer

PREFIX = "/v1/accounts/{account}"
NOT_WRITES = {
    ("POST", "/api-keys/verify"): "checks a key and changes nothing (refusals are batched, not per request)",
    ("POST", "/licenses/actions/validate-key"): "a validation: recorded in batches, off the request's path",
    (
        "POST",
        "/licenses/{license}/actions/validate",
    ): "a validation: recorded in batches, off the request's path",
}


@dataclass
class Walk:
    client: httpx.AsyncClient
    acme: Tenant
    admin_key_id: str
    walked: set[tuple[str, str]] = field(default_factory=set)

    async def act(
        self,
        method: str,
        template: str,
        path: str,
        event: str,
        resource: str | None = None,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        whodunnit: tuple[str, str] | None = None,
        form: dict[str, str] | None = None,
        made: Callable[[], Awaitable[str]] | None = None,
    ) -> httpx.Response:
        """Make the request, then check it left ``event`` on ``resource`` (the new record's
        id when None: the answer's, or what ``made`` finds when the answer names none) by
        ``whodunnit`` (the admin's key by default)."""
        request_id = f"walk-{uuid.uuid4().hex[:12]}"
        sent = {**(headers if headers is not None else bearer(self.acme.key)), "X-Request-Id": request_id}
        url = f"{self.acme.base}{path}"
        if form is not None:
            response = await self.client.request(method, url, data=form, headers=sent)
        else:
            response = await self.client.request(method, url, json=body, headers=sent)
        assert response.status_code < 300, (method, path, response.text)
        self.walked.add((method, template))
        if resource is None and made is not None:
            resource = await made()
        if resource is None:
            resource = (
                str(response.json()["data"]["id"]) if "data" in response.json() else response.json()["id"]
            )
        newest = await self.client.get(
            f"{self.acme.base}/event-logs", params={"request": request_id}, headers=bearer(self.acme.key)
        )
        assert newest.status_code == 200, newest.text
        found = [entry for entry in newest.json()["data"] if entry["attributes"]["event"] == event]
        assert found, (method, template, event, [e["attributes"]["event"] for e in newest.json()["data"]])
        entry = found[0]
        assert entry["relationships"]["resource"]["data"]["id"] == resource, (method, template)
        who_type, who_id = whodunnit or ("api-keys", self.admin_key_id)
        assert entry["relationships"]["whodunnit"]["data"] == {"type": who_type, "id": who_id}, (
            method,
            template,
        )
        assert entry["relationships"]["request"]["data"] == {"type": "requests", "id": request_id}
        return response


async def _walk(client: httpx.AsyncClient, acme: Tenant) -> Walk:
    listed = await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))
    walk = Walk(client, acme, listed.json()["data"][-1]["id"])

    # The API-key surface.
    created = (
        await walk.act("POST", "/api-keys", "/api-keys", "api-key.created", body={"name": "ci"})
    ).json()
    key_id = created["id"]
    await walk.act(
        "PUT", "/api-keys/{key_id}", f"/api-keys/{key_id}", "api-key.updated", key_id, body={"name": "a"}
    )
    await walk.act(
        "PATCH", "/api-keys/{key_id}", f"/api-keys/{key_id}", "api-key.updated", key_id, body={"name": "b"}
    )
    oauth = await client.post(
        f"{acme.base}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": key_id, "client_secret": created["key"]},
        headers={"X-Request-Id": "walk-oauth"},
    )
    assert oauth.status_code == 200, oauth.text
    walk.walked.add(("POST", "/oauth/token"))
    token_events = await client.get(
        f"{acme.base}/event-logs", params={"request": "walk-oauth"}, headers=bearer(acme.key)
    )
    [issued] = token_events.json()["data"]
    assert issued["attributes"]["event"] == "token.generated"
    assert issued["relationships"]["whodunnit"]["data"] == {"type": "api-keys", "id": key_id}
    await walk.act("DELETE", "/api-keys/{key_id}", f"/api-keys/{key_id}", "api-key.deleted", key_id)

    # Webhooks (to a port nothing listens on: this server may not send to loopback anyway).
    hook = await walk.act(
        "POST",
        "/webhook-endpoints",
        "/webhook-endpoints",
        "webhook-endpoint.created",
        body=factories.document("webhook-endpoints", {"url": "http://127.0.0.1:9/hooks"}),
    )
    hook_id = hook.json()["data"]["id"]
    await walk.act(
        "PATCH",
        "/webhook-endpoints/{endpoint}",
        f"/webhook-endpoints/{hook_id}",
        "webhook-endpoint.updated",
        hook_id,
        body=factories.document("webhook-endpoints", {"subscriptions": ["license.created"]}),
    )
    [delivery] = (await client.get(f"{acme.base}/webhook-events", headers=bearer(acme.key))).json()["data"]
    await walk.act(
        "POST",
        "/webhook-events/{event}/actions/retry",
        f"/webhook-events/{delivery['id']}/actions/retry",
        "webhook-event.retried",
    )
    await walk.act(
        "DELETE",
        "/webhook-endpoints/{endpoint}",
        f"/webhook-endpoints/{hook_id}",
        "webhook-endpoint.deleted",
        hook_id,
    )

    # Users and tokens.
    user = await walk.act(
        "POST",
        "/users",
        "/users",
        "user.created",
        body=factories.document("users", {"email": "c@acme.test", "password": "pw-123456789"}),
    )
    user_id = user.json()["data"]["id"]
    await walk.act(
        "PATCH",
        "/users/{user}",
        f"/users/{user_id}",
        "user.updated",
        user_id,
        body=factories.document("users", {"firstName": "C"}),
    )
    basic = base64.b64encode(b"c@acme.test:pw-123456789").decode()
    token = await walk.act(
        "POST",
        "/tokens",
        "/tokens",
        "token.generated",
        headers={"Authorization": f"Basic {basic}"},
        whodunnit=("users", user_id),
    )
    token_id = token.json()["data"]["id"]
    await walk.act("PUT", "/tokens/{token_id}", f"/tokens/{token_id}", "token.regenerated", token_id)
    await walk.act("DELETE", "/tokens/{token_id}", f"/tokens/{token_id}", "token.revoked", token_id)

    # Products, policies, the pool.
    product = await walk.act(
        "POST",
        "/products",
        "/products",
        "product.created",
        body=factories.document("products", {"name": "P"}),
    )
    product_id = product.json()["data"]["id"]
    await walk.act(
        "PATCH",
        "/products/{product}",
        f"/products/{product_id}",
        "product.updated",
        product_id,
        body=factories.document("products", {"name": "Q"}),
    )
    product_token = await walk.act(
        "POST", "/products/{product}/tokens", f"/products/{product_id}/tokens", "token.generated"
    )
    assert product_token.json()["data"]["attributes"]["token"]
    policy_attributes = {
        "name": "Yearly",
        "duration": 86_400 * 365,
        "requireCheckIn": True,
        "checkInInterval": "DAY",
        "checkInIntervalCount": 1,
        "maxUses": 10,
    }
    policy = await walk.act(
        "POST",
        "/policies",
        "/policies",
        "policy.created",
        body=factories.document("policies", policy_attributes, product=product_id),
    )
    policy_id = policy.json()["data"]["id"]
    await walk.act(
        "PATCH",
        "/policies/{policy}",
        f"/policies/{policy_id}",
        "policy.updated",
        policy_id,
        body=factories.document("policies", {"name": "Annual"}),
    )
    pooled = await walk.act(
        "POST",
        "/policies",
        "/policies",
        "policy.created",
        body=factories.document("policies", {"name": "Pooled", "usePool": True}, product=product_id),
    )
    pooled_id = pooled.json()["data"]["id"]
    key = await walk.act(
        "POST",
        "/keys",
        "/keys",
        "key.created",
        body=factories.document("keys", {"key": "POOL-KEY-0001"}, policy=pooled_id),
    )
    pool_key_id = key.json()["data"]["id"]
    await walk.act(
        "PATCH",
        "/keys/{key}",
        f"/keys/{pool_key_id}",
        "key.updated",
        pool_key_id,
        body=factories.document("keys", {"key": "POOL-KEY-0002"}),
    )
    await walk.act("DELETE", "/keys/{key}", f"/keys/{pool_key_id}", "key.deleted", pool_key_id)
    for value in ("POOL-KEY-0003", "POOL-KEY-0004"):
        await walk.act(
            "POST",
            "/keys",
            "/keys",
            "key.created",
            body=factories.document("keys", {"key": value}, policy=pooled_id),
        )
    await walk.act(
        "DELETE", "/policies/{policy}/pool", f"/policies/{pooled_id}/pool", "policy.pool.popped", pooled_id
    )

    async def newest_pool_key() -> str:
        pool = await client.get(f"{acme.base}/policies/{pooled_id}/pool?limit=1", headers=bearer(acme.key))
        return str(pool.json()["data"][0]["id"])

    await walk.act(
        "POST",
        "/policies/{policy}/pool/import",
        f"/policies/{pooled_id}/pool/import",
        "key.created",
        body={"data": [{"type": "keys", "attributes": {"key": "POOL-KEY-0005"}}]},
        made=newest_pool_key,
    )

    # Licenses and their actions.
    license = await walk.act(
        "POST",
        "/licenses",
        "/licenses",
        "license.created",
        body=factories.document("licenses", {"name": "L"}, policy=policy_id),
    )
    license_id = license.json()["data"]["id"]
    at = f"/licenses/{license_id}"
    await walk.act(
        "PATCH",
        "/licenses/{license}",
        at,
        "license.updated",
        license_id,
        body=factories.document("licenses", {"name": "M"}),
    )
    for action, event in (
        ("suspend", "license.suspended"),
        ("reinstate", "license.reinstated"),
        ("renew", "license.renewed"),
        ("check-in", "license.checked-in"),
        ("check-out", "license.checked-out"),
        ("increment-usage", "license.usage.incremented"),
        ("decrement-usage", "license.usage.decremented"),
        ("reset-usage", "license.usage.reset"),
    ):
        await walk.act(
            "POST", f"/licenses/{{license}}/actions/{action}", f"{at}/actions/{action}", event, license_id
        )
    other = await walk.act(
        "POST",
        "/policies",
        "/policies",
        "policy.created",
        body=factories.document("policies", {"name": "Other"}, product=product_id),
    )
    await walk.act(
        "PUT",
        "/licenses/{license}/policy",
        f"{at}/policy",
        "license.policy.updated",
        license_id,
        body={"data": {"type": "policies", "id": other.json()["data"]["id"]}},
    )
    await walk.act(
        "PUT",
        "/licenses/{license}/owner",
        f"{at}/owner",
        "license.owner.updated",
        license_id,
        body={"data": {"type": "users", "id": user_id}},
    )
    await walk.act("POST", "/licenses/{license}/tokens", f"{at}/tokens", "token.generated")

    # Groups, and the group relationship of licenses, machines and users.
    group = await walk.act(
        "POST",
        "/groups",
        "/groups",
        "group.created",
        body={"data": {"type": "groups", "attributes": {"name": "G"}}},
    )
    group_id = group.json()["data"]["id"]
    await walk.act(
        "PATCH",
        "/groups/{group}",
        f"/groups/{group_id}",
        "group.updated",
        group_id,
        body={"data": {"type": "groups", "attributes": {"maxLicenses": 5}}},
    )
    joined = {"data": {"type": "groups", "id": group_id}}
    await walk.act(
        "PUT", "/licenses/{license}/group", f"{at}/group", "license.group.updated", license_id, body=joined
    )
    await walk.act(
        "PUT", "/users/{user}/group", f"/users/{user_id}/group", "user.group.updated", user_id, body=joined
    )
    owners = {"data": [{"type": "users", "id": user_id}]}
    await walk.act(
        "POST",
        "/groups/{group}/owners",
        f"/groups/{group_id}/owners",
        "group.owners.attached",
        group_id,
        body=owners,
    )
    await walk.act(
        "DELETE",
        "/groups/{group}/owners",
        f"/groups/{group_id}/owners",
        "group.owners.detached",
        group_id,
        body=owners,
    )

    # Entitlements, and attaching them.
    entitlement = await walk.act(
        "POST",
        "/entitlements",
        "/entitlements",
        "entitlement.created",
        body=factories.document("entitlements", {"name": "Pro", "code": "PRO"}),
    )
    entitlement_id = entitlement.json()["data"]["id"]
    await walk.act(
        "PATCH",
        "/entitlements/{entitlement}",
        f"/entitlements/{entitlement_id}",
        "entitlement.updated",
        entitlement_id,
        body=factories.document("entitlements", {"name": "Professional"}),
    )
    attached = {"data": [{"type": "entitlements", "id": entitlement_id}]}
    for owner, template, owner_id, kind in (
        (f"/policies/{policy_id}", "/policies/{policy}", policy_id, "policy"),
        (at, "/licenses/{license}", license_id, "license"),
    ):
        for method, event in (("POST", "attached"), ("DELETE", "detached")):
            await walk.act(
                method,
                f"{template}/entitlements",
                f"{owner}/entitlements",
                f"{kind}.entitlements.{event}",
                owner_id,
                body=attached,
            )
    await walk.act(
        "DELETE",
        "/entitlements/{entitlement}",
        f"/entitlements/{entitlement_id}",
        "entitlement.deleted",
        entitlement_id,
    )
    licensee = await walk.act(
        "POST",
        "/users",
        "/users",
        "user.created",
        body=factories.document("users", {"email": "licensee@acme.test", "password": "pw-123456789"}),
    )
    licensee_id = licensee.json()["data"]["id"]
    users = {"data": [{"type": "users", "id": licensee_id}]}
    await walk.act(
        "POST", "/licenses/{license}/users", f"{at}/users", "license.users.attached", license_id, body=users
    )
    await walk.act(
        "DELETE", "/licenses/{license}/users", f"{at}/users", "license.users.detached", license_id, body=users
    )

    # Machines.
    machine = await walk.act(
        "POST",
        "/machines",
        "/machines",
        "machine.created",
        body=factories.document("machines", {"fingerprint": "fp-1"}, license=license_id),
    )
    machine_id = machine.json()["data"]["id"]
    await walk.act(
        "PATCH",
        "/machines/{machine}",
        f"/machines/{machine_id}",
        "machine.updated",
        machine_id,
        body=factories.document("machines", {"name": "build box"}),
    )
    await walk.act(
        "POST",
        "/machines/{machine}/actions/ping",
        f"/machines/{machine_id}/actions/ping",
        "machine.heartbeat.ping",
        machine_id,
    )
    await walk.act(
        "POST",
        "/machines/{machine}/actions/check-out",
        f"/machines/{machine_id}/actions/check-out",
        "machine.checked-out",
        machine_id,
    )
    await walk.act(
        "PUT",
        "/machines/{machine}/group",
        f"/machines/{machine_id}/group",
        "machine.group.updated",
        machine_id,
        body={"data": None},  # it joined its license's group on activation: it leaves it
    )

    # Processes.
    process = await walk.act(
        "POST",
        "/processes",
        "/processes",
        "process.created",
        body={
            "data": {
                "type": "processes",
                "attributes": {"pid": "4242"},
                "relationships": {"machine": factories.ref("machines", machine_id)},
            }
        },
    )
    process_id = process.json()["data"]["id"]
    await walk.act(
        "PATCH",
        "/processes/{process}",
        f"/processes/{process_id}",
        "process.updated",
        process_id,
        body={"data": {"type": "processes", "attributes": {"metadata": {"tier": "gold"}}}},
    )
    await walk.act(
        "POST",
        "/processes/{process}/actions/ping",
        f"/processes/{process_id}/actions/ping",
        "process.heartbeat.ping",
        process_id,
    )
    await walk.act(
        "DELETE", "/processes/{process}", f"/processes/{process_id}", "process.deleted", process_id
    )

    # Components.
    component = await walk.act(
        "POST",
        "/components",
        "/components",
        "component.created",
        body={
            "data": {
                "type": "components",
                "attributes": {"fingerprint": "E31EE496", "name": "MOBO"},
                "relationships": {"machine": factories.ref("machines", machine_id)},
            }
        },
    )
    component_id = component.json()["data"]["id"]
    await walk.act(
        "PATCH",
        "/components/{component}",
        f"/components/{component_id}",
        "component.updated",
        component_id,
        body={"data": {"type": "components", "attributes": {"name": "CPU"}}},
    )
    await walk.act(
        "DELETE", "/components/{component}", f"/components/{component_id}", "component.deleted", component_id
    )
    await walk.act("DELETE", "/machines/{machine}", f"/machines/{machine_id}", "machine.deleted", machine_id)
    await walk.act("DELETE", "/groups/{group}", f"/groups/{group_id}", "group.deleted", group_id)

    # The deletes last: each takes what hangs off it.
    await walk.act(
        "DELETE", "/licenses/{license}/actions/revoke", f"{at}/actions/revoke", "license.revoked", license_id
    )
    spare = await walk.act(
        "POST",
        "/licenses",
        "/licenses",
        "license.created",
        body=factories.document("licenses", {}, policy=policy_id),
    )
    spare_id = spare.json()["data"]["id"]
    await walk.act("DELETE", "/licenses/{license}", f"/licenses/{spare_id}", "license.deleted", spare_id)
    await walk.act("DELETE", "/policies/{policy}", f"/policies/{policy_id}", "policy.deleted", policy_id)
    await walk.act("DELETE", "/products/{product}", f"/products/{product_id}", "product.deleted", product_id)
    await walk.act("DELETE", "/users/{user}", f"/users/{user_id}", "user.deleted", user_id)
    return walk


async def test_every_write_records_its_event_with_its_whodunnit(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    # Webhook endpoints on loopback are accepted (their deliveries are still refused by
    # this process's worker, started without it).
    services_of(app).settings = services_of(app).settings.model_copy(update={"webhooks_allow_private": True})
    walk = await _walk(client, acme)
    mutating = {
        (method.upper(), path.removeprefix(PREFIX))
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(PREFIX)
        for method in operations
        if method in ("post", "put", "patch", "delete")
    }
    assert mutating - set(NOT_WRITES) - walk.walked == set(), "a mutating route this walk does not take"
    assert set(NOT_WRITES) <= mutating
