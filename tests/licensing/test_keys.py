"""The ``keys`` resource (seed 001; Keygen's features/api/v1/keys/*): pool keys of pooled policies."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer, ref

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
VALUE = "C1B6DE-39A6E3-DE1529-8559A0-4AF593-V3"


# -- helpers ------------------------------------------------------------------------------------


def _body(policy_id: str, value: str, type_: str = "keys") -> dict[str, Any]:
    return {
        "data": {
            "type": type_,
            "attributes": {"key": value},
            "relationships": {"policy": ref("policies", policy_id)},
        }
    }


def _patch(value: str) -> dict[str, Any]:
    return {"data": {"type": "keys", "attributes": {"key": value}}}


async def _create(
    client: httpx.AsyncClient, account: Tenant, policy_id: str, value: str, key: str | None = None
) -> httpx.Response:
    return await client.post(
        f"{account.base}/keys", json=_body(policy_id, value), headers=bearer(key or account.key)
    )


async def _ids(client: httpx.AsyncClient, account: Tenant, query: str = "limit=100") -> list[str]:
    response = await client.get(f"{account.base}/keys?{query}", headers=bearer(account.key))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def _invalid(response: httpx.Response, code: str, pointer: str) -> dict[str, Any]:
    """A model-validation 422: title "Unprocessable resource", the code and its pointer."""
    body = jsonapi_error(response, 422, code)
    error: dict[str, Any] = body["errors"][0]
    assert error["title"] == "Unprocessable resource", error
    assert error["source"] == {"pointer": pointer}, error
    return error


# -- the document -------------------------------------------------------------------------------


async def test_created_key_has_the_seed_document_shape(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id, usePool=True)
    response = await _create(client, acme, policy_id, VALUE)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/vnd.api+json")
    data = response.json()["data"]
    key_id = data["id"]
    uuid.UUID(key_id)
    base = f"/v1/accounts/{acme.id}"
    own = f"{base}/keys/{key_id}"
    attributes = data.pop("attributes")
    assert data == {
        "id": key_id,
        "type": "keys",
        "links": {"self": own},
        "relationships": {
            "account": {"links": {"related": base}, "data": {"type": "accounts", "id": str(acme.id)}},
            "product": {
                "links": {"related": f"{own}/product"},
                "data": {"type": "products", "id": product_id},
            },
            "policy": {
                "links": {"related": f"{own}/policy"},
                "data": {"type": "policies", "id": policy_id},
            },
        },
    }
    assert set(attributes) == {"key", "created", "updated"}
    assert attributes["key"] == VALUE
    for stamp in (attributes["created"], attributes["updated"]):
        assert ISO_MS.match(stamp), stamp
    created = datetime.fromisoformat(attributes["created"])
    assert abs(created - clock.now()) < timedelta(minutes=1)
    assert attributes["created"] == attributes["updated"]
    assert response.headers["location"] == own

    shown = await client.get(own, headers=bearer(acme.key))
    assert shown.status_code == 200, shown.text
    assert shown.json()["data"] == {**data, "attributes": attributes}
    # The account's slug and its id address the same key.
    by_slug = await client.get(f"{acme.base}/keys/{key_id}", headers=bearer(acme.key))
    assert by_slug.json()["data"]["id"] == key_id


async def test_singular_type_is_accepted_and_other_types_are_not(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    singular = await client.post(
        f"{acme.base}/keys", json=_body(policy_id, "singular-key", "key"), headers=bearer(acme.key)
    )
    assert singular.status_code == 201, singular.text
    assert singular.json()["data"]["type"] == "keys"
    wrong = await client.post(
        f"{acme.base}/keys", json=_body(policy_id, "licensed-key", "licenses"), headers=bearer(acme.key)
    )
    assert wrong.status_code in (400, 422), wrong.text
    assert await _ids(client, acme) == [singular.json()["data"]["id"]]


async def test_related_links_lead_to_the_product_and_the_policy(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme, name="Pooled App")
    policy_id = await factories.policy(client, acme, product_id, usePool=True)
    data = await factories.pool_key(client, acme, policy_id, VALUE)

    product = await client.get(data["relationships"]["product"]["links"]["related"], headers=bearer(acme.key))
    assert product.status_code == 200, product.text
    assert product.json()["data"]["type"] == "products"
    assert product.json()["data"]["id"] == product_id
    assert product.json()["data"]["attributes"]["name"] == "Pooled App"

    policy = await client.get(data["relationships"]["policy"]["links"]["related"], headers=bearer(acme.key))
    assert policy.status_code == 200, policy.text
    assert policy.json()["data"]["type"] == "policies"
    assert policy.json()["data"]["id"] == policy_id
    assert policy.json()["data"]["attributes"]["usePool"] is True

    missing = uuid.uuid4()
    for tail in ("product", "policy"):
        gone = await client.get(f"{acme.base}/keys/{missing}/{tail}", headers=bearer(acme.key))
        jsonapi_error(gone, 404, "NOT_FOUND")


async def test_unknown_key_is_404_without_repeating_it(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.get(f"{acme.base}/keys/invalid", headers=bearer(acme.key))
    body = jsonapi_error(response, 404, "NOT_FOUND")
    assert body["errors"][0]["title"] == "Not found"
    assert body["errors"][0]["detail"] == "The requested key was not found"
    missing = uuid.uuid4()
    by_uuid = await client.get(f"{acme.base}/keys/{missing}", headers=bearer(acme.key))
    jsonapi_error(by_uuid, 404, "NOT_FOUND")
    assert str(missing) not in by_uuid.text


# -- create rules -------------------------------------------------------------------------------


async def test_key_for_an_unpooled_policy_is_refused(client: httpx.AsyncClient, acme: Tenant) -> None:
    unpooled = await factories.policy(client, acme)
    response = await _create(client, acme, unpooled, VALUE)
    _invalid(response, "POLICY_NOT_SUPPORTED", "/data/relationships/policy")
    assert await _ids(client, acme) == []


async def test_key_for_a_policy_that_does_not_exist_is_refused(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    # Keygen's feature names a user's id as the policy: an id of the wrong kind is no policy.
    for policy_ref in (str(uuid.uuid4()), str(acme.admin_id), "not-a-uuid"):
        response = await _create(client, acme, policy_ref, VALUE)
        error = _invalid(response, "POLICY_NOT_FOUND", "/data/relationships/policy")
        assert error["detail"] == "must exist"
    assert await _ids(client, acme) == []


async def test_duplicate_key_in_the_account_is_taken(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    other_policy = await factories.policy(client, acme, usePool=True)
    first = await _create(client, acme, policy_id, VALUE)
    assert first.status_code == 201
    for target in (policy_id, other_policy):  # unique in the account, not only in the policy
        again = await _create(client, acme, target, VALUE)
        _invalid(again, "KEY_TAKEN", "/data/attributes/key")
    assert await _ids(client, acme) == [first.json()["data"]["id"]]
    # Uniqueness is case-sensitive, as Keygen's is.
    assert (await _create(client, acme, policy_id, VALUE.lower())).status_code == 201


async def test_key_equal_to_a_license_key_conflicts(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id, usePool=True)
    unpooled = await factories.policy(client, acme, product_id)
    await factories.license(client, acme, unpooled, key="EXISTING-LICENSE-KEY")
    response = await _create(client, acme, policy_id, "EXISTING-LICENSE-KEY")
    _invalid(response, "KEY_CONFLICT", "/data/attributes/key")
    assert await _ids(client, acme) == []


async def test_key_equal_to_a_license_id_conflicts(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id, usePool=True)
    unpooled = await factories.policy(client, acme, product_id)
    license_id = (await factories.license(client, acme, unpooled, key="SOME-LICENSE-KEY"))["id"]
    response = await _create(client, acme, policy_id, license_id)
    _invalid(response, "KEY_CONFLICT", "/data/attributes/key")
    # A UUID that is no license's id is an ordinary key.
    assert (await _create(client, acme, policy_id, str(uuid.uuid4()))).status_code == 201
    assert len(await _ids(client, acme)) == 1


@pytest.mark.parametrize("value", ["actions", "action"])
async def test_reserved_key_is_not_allowed(client: httpx.AsyncClient, acme: Tenant, value: str) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    response = await _create(client, acme, policy_id, value)
    error = _invalid(response, "KEY_NOT_ALLOWED", "/data/attributes/key")
    assert error["detail"] == "is reserved"
    assert await _ids(client, acme) == []


async def test_key_length_must_be_8_to_1024(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    short = await _create(client, acme, policy_id, "x" * 7)
    error = _invalid(short, "KEY_TOO_SHORT", "/data/attributes/key")
    assert error["detail"] == "is too short (minimum is 8 characters)"
    empty = await _create(client, acme, policy_id, "")
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["source"] == {"pointer": "/data/attributes/key"}
    long = await _create(client, acme, policy_id, "y" * 1025)
    _invalid(long, "KEY_TOO_LONG", "/data/attributes/key")
    assert await _ids(client, acme) == []

    shortest = await _create(client, acme, policy_id, "x" * 8)
    longest = await _create(client, acme, policy_id, "y" * 1024)
    assert shortest.status_code == 201, shortest.text
    assert longest.status_code == 201, longest.text
    assert longest.json()["data"]["attributes"]["key"] == "y" * 1024


async def test_same_value_in_another_account_is_allowed(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    globex = await factories.tenant(app, "globex")
    globex_product = await factories.product(client, globex)
    globex_policy = await factories.policy(client, globex, globex_product, usePool=True)
    globex_unpooled = await factories.policy(client, globex, globex_product)
    assert (await _create(client, globex, globex_policy, VALUE)).status_code == 201
    await factories.license(client, globex, globex_unpooled, key="GLOBEX-LICENSE-KEY")

    policy_id = await factories.policy(client, acme, usePool=True)
    as_key = await _create(client, acme, policy_id, VALUE)
    assert as_key.status_code == 201, as_key.text
    assert as_key.json()["data"]["attributes"]["key"] == VALUE
    as_license = await _create(client, acme, policy_id, "GLOBEX-LICENSE-KEY")
    assert as_license.status_code == 201, as_license.text


async def test_malformed_create_bodies_are_400(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    no_key = _body(policy_id, VALUE)
    del no_key["data"]["attributes"]["key"]
    response = await client.post(f"{acme.base}/keys", json=no_key, headers=bearer(acme.key))
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"] == {"pointer": "/data/attributes/key"}

    no_attributes = _body(policy_id, VALUE)
    del no_attributes["data"]["attributes"]
    response = await client.post(f"{acme.base}/keys", json=no_attributes, headers=bearer(acme.key))
    assert response.status_code == 400, response.text

    no_policy = _body(policy_id, VALUE)
    del no_policy["data"]["relationships"]
    response = await client.post(f"{acme.base}/keys", json=no_policy, headers=bearer(acme.key))
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"] == {"pointer": "/data/relationships"}

    unknown = _body(policy_id, VALUE)
    unknown["data"]["attributes"]["expiry"] = None
    response = await client.post(f"{acme.base}/keys", json=unknown, headers=bearer(acme.key))
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"] == {"pointer": "/data/attributes/expiry"}

    not_a_string = _body(policy_id, VALUE)
    not_a_string["data"]["attributes"]["key"] = 12345678
    response = await client.post(f"{acme.base}/keys", json=not_a_string, headers=bearer(acme.key))
    assert response.status_code == 400, response.text

    for content_type in ("application/vnd.api+json", "application/json"):
        broken = await client.post(
            f"{acme.base}/keys",
            content=b'{"data": {"type": "keys", ',
            headers={**bearer(acme.key), "Content-Type": content_type},
        )
        jsonapi_error(broken, 400, "JSON_INVALID")
    assert await _ids(client, acme) == []


# -- update and delete --------------------------------------------------------------------------


async def test_update_changes_the_value(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    created = await factories.pool_key(client, acme, policy_id, VALUE)
    clock.advance(timedelta(seconds=5))
    response = await client.patch(
        f"{acme.base}/keys/{created['id']}", json=_patch("NEW-KEY-VALUE"), headers=bearer(acme.key)
    )
    assert response.status_code == 200, response.text
    attributes = response.json()["data"]["attributes"]
    assert attributes["key"] == "NEW-KEY-VALUE"
    assert attributes["created"] == created["attributes"]["created"]
    assert datetime.fromisoformat(attributes["updated"]) > datetime.fromisoformat(attributes["created"])

    shown = await client.get(f"{acme.base}/keys/{created['id']}", headers=bearer(acme.key))
    assert shown.json()["data"]["attributes"]["key"] == "NEW-KEY-VALUE"
    assert shown.json()["data"]["relationships"] == created["relationships"]
    # The old value is free again; re-sending the current value is no collision with itself.
    assert (await _create(client, acme, policy_id, VALUE)).status_code == 201
    same = await client.patch(
        f"{acme.base}/keys/{created['id']}", json=_patch("NEW-KEY-VALUE"), headers=bearer(acme.key)
    )
    assert same.status_code == 200, same.text


async def test_update_cannot_move_a_key_to_another_policy(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    other_policy = await factories.policy(client, acme, usePool=True)
    created = await factories.pool_key(client, acme, policy_id, VALUE)
    body = _patch("MOVED-KEY-VALUE")
    body["data"]["relationships"] = {"policy": ref("policies", other_policy)}
    response = await client.patch(f"{acme.base}/keys/{created['id']}", json=body, headers=bearer(acme.key))
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"] == {"pointer": "/data/relationships"}

    shown = (await client.get(f"{acme.base}/keys/{created['id']}", headers=bearer(acme.key))).json()["data"]
    assert shown["relationships"]["policy"]["data"]["id"] == policy_id
    assert shown["attributes"]["key"] == VALUE


async def test_update_to_a_taken_or_conflicting_value_is_refused(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id, usePool=True)
    unpooled = await factories.policy(client, acme, product_id)
    license_data = await factories.license(client, acme, unpooled, key="ACME-LICENSE-KEY")
    first = await factories.pool_key(client, acme, policy_id, "FIRST-KEY-VALUE")
    second = await factories.pool_key(client, acme, policy_id, "SECOND-KEY-VALUE")
    url = f"{acme.base}/keys/{second['id']}"

    conflict = await client.patch(url, json=_patch("ACME-LICENSE-KEY"), headers=bearer(acme.key))
    _invalid(conflict, "KEY_CONFLICT", "/data/attributes/key")
    by_id = await client.patch(url, json=_patch(license_data["id"]), headers=bearer(acme.key))
    _invalid(by_id, "KEY_CONFLICT", "/data/attributes/key")
    taken = await client.patch(url, json=_patch(first["attributes"]["key"]), headers=bearer(acme.key))
    _invalid(taken, "KEY_TAKEN", "/data/attributes/key")
    reserved = await client.patch(url, json=_patch("actions"), headers=bearer(acme.key))
    _invalid(reserved, "KEY_NOT_ALLOWED", "/data/attributes/key")
    short = await client.patch(url, json=_patch("short"), headers=bearer(acme.key))
    _invalid(short, "KEY_TOO_SHORT", "/data/attributes/key")
    shown = await client.get(url, headers=bearer(acme.key))
    assert shown.json()["data"]["attributes"]["key"] == "SECOND-KEY-VALUE"

    # A license of another account is no conflict.
    globex = await factories.tenant(app, "globex")
    globex_policy = await factories.policy(client, globex)
    await factories.license(client, globex, globex_policy, key="GLOBEX-KEY-1")
    moved = await client.patch(url, json=_patch("GLOBEX-KEY-1"), headers=bearer(acme.key))
    assert moved.status_code == 200, moved.text
    assert moved.json()["data"]["attributes"]["key"] == "GLOBEX-KEY-1"


async def test_delete_removes_the_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    keep = await factories.pool_key(client, acme, policy_id, "KEEP-THIS-KEY")
    doomed = await factories.pool_key(client, acme, policy_id, VALUE)
    url = f"{acme.base}/keys/{doomed['id']}"

    response = await client.delete(url, headers=bearer(acme.key))
    assert response.status_code == 204, response.text
    assert response.content == b""
    jsonapi_error(await client.get(url, headers=bearer(acme.key)), 404, "NOT_FOUND")
    jsonapi_error(await client.delete(url, headers=bearer(acme.key)), 404, "NOT_FOUND")
    assert await _ids(client, acme) == [keep["id"]]
    # Its value can be used again.
    assert (await _create(client, acme, policy_id, VALUE)).status_code == 201


# -- listing ------------------------------------------------------------------------------------


async def test_list_is_newest_first(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    made = [key["id"] for key in await factories.pool_keys(client, acme, policy_id, 3, "LISTED-KEY")]
    response = await client.get(f"{acme.base}/keys", headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["data"]] == made[::-1]
    assert all(item["type"] == "keys" for item in body["data"])
    assert [item["attributes"]["key"] for item in body["data"]] == [
        "LISTED-KEY-0002",
        "LISTED-KEY-0001",
        "LISTED-KEY-0000",
    ]
    ascending = await client.get(f"{acme.base}/keys?order=asc", headers=bearer(acme.key))
    assert [item["id"] for item in ascending.json()["data"]] == made


async def test_list_limit(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    made = [key["id"] for key in await factories.pool_keys(client, acme, policy_id, 20, "LISTED-KEY")]
    newest_first = made[::-1]
    assert await _ids(client, acme, "") == newest_first[:10]
    assert await _ids(client, acme, "limit=5") == newest_first[:5]
    assert await _ids(client, acme, "limit=20") == newest_first
    for limit in ("900", "-900", "0", "ten"):
        response = await client.get(f"{acme.base}/keys?limit={limit}", headers=bearer(acme.key))
        body = jsonapi_error(response, 400, "PARAMETERS_INVALID")
        assert body["errors"][0]["source"] == {"parameter": "limit"}


async def test_list_page_number_and_size(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    made = [key["id"] for key in await factories.pool_keys(client, acme, policy_id, 20, "LISTED-KEY")]
    newest_first = made[::-1]
    response = await client.get(f"{acme.base}/keys?page[number]=2&page[size]=5", headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["data"]] == newest_first[5:10]
    assert body["links"]["meta"] == {"pages": 4, "count": 20}
    assert body["links"]["prev"] is not None
    assert body["links"]["next"] is not None
    last = await client.get(f"{acme.base}/keys?page[number]=4&page[size]=5", headers=bearer(acme.key))
    assert [item["id"] for item in last.json()["data"]] == newest_first[15:]
    assert last.json()["links"]["next"] is None

    for query, parameter in (
        ("page[number]=1&page[size]=250", "page[size]"),
        ("page[number]=1&page[size]=-250", "page[size]"),
        ("page[number]=-1&page[size]=5", "page[number]"),
    ):
        bad = await client.get(f"{acme.base}/keys?{query}", headers=bearer(acme.key))
        error = jsonapi_error(bad, 400, "PARAMETERS_INVALID")["errors"][0]
        assert error["source"] == {"parameter": parameter}


async def test_list_keyset_pages(client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    made = [key["id"] for key in await factories.pool_keys(client, acme, policy_id, 19, "LISTED-KEY")]
    seen: list[str] = []
    sizes = []
    url: str | None = f"{acme.base}/keys?page[cursor]=&page[size]=5"
    while url is not None:
        response = await client.get(url, headers=bearer(acme.key))
        assert response.status_code == 200, response.text
        body = response.json()
        sizes.append(len(body["data"]))
        seen += [item["id"] for item in body["data"]]
        url = body["links"]["next"]
        assert len(sizes) <= 4
    assert sizes == [5, 5, 5, 4]
    assert seen == made[::-1]
    bad = await client.get(f"{acme.base}/keys?page[cursor]=nope&page[size]=5", headers=bearer(acme.key))
    jsonapi_error(bad, 400, "PARAMETERS_INVALID")


async def test_list_filters_by_product_and_policy(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_a = await factories.product(client, acme, name="A")
    policy_a1 = await factories.policy(client, acme, product_a, usePool=True)
    policy_a2 = await factories.policy(client, acme, product_a, usePool=True)
    product_b = await factories.product(client, acme, name="B")
    policy_b = await factories.policy(client, acme, product_b, usePool=True)
    a1 = (await factories.pool_key(client, acme, policy_a1, "KEY-OF-A1-POLICY"))["id"]
    a2 = (await factories.pool_key(client, acme, policy_a2, "KEY-OF-A2-POLICY"))["id"]
    b = (await factories.pool_key(client, acme, policy_b, "KEY-OF-B-POLICY"))["id"]

    assert await _ids(client, acme, f"product={product_a}") == [a2, a1]
    assert await _ids(client, acme, f"product={product_b}") == [b]
    assert await _ids(client, acme, f"policy={policy_a1}") == [a1]
    assert await _ids(client, acme, f"policy={policy_a2}") == [a2]
    assert await _ids(client, acme, f"product={product_a}&policy={policy_b}") == []
    assert await _ids(client, acme, f"policy={uuid.uuid4()}") == []
    assert await _ids(client, acme) == [b, a2, a1]


# -- permissions --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["read-only", "support-agent", "sales-agent"])
async def test_read_only_staff_read_but_do_not_write(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    existing = await factories.pool_key(client, acme, policy_id, VALUE)
    _, staff = await factories.role_key(app, client, acme, role)
    url = f"{acme.base}/keys/{existing['id']}"

    listed = await client.get(f"{acme.base}/keys", headers=bearer(staff))
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["data"]] == [existing["id"]]
    shown = await client.get(url, headers=bearer(staff))
    assert shown.status_code == 200, shown.text
    assert (await client.get(f"{url}/policy", headers=bearer(staff))).status_code == 200

    assert (await _create(client, acme, policy_id, "STAFF-MADE-KEY", key=staff)).status_code == 403
    assert (await client.patch(url, json=_patch("STAFF-EDITED"), headers=bearer(staff))).status_code == 403
    assert (await client.delete(url, headers=bearer(staff))).status_code == 403

    after = await client.get(url, headers=bearer(acme.key))
    assert after.json()["data"]["attributes"]["key"] == VALUE
    assert await _ids(client, acme) == [existing["id"]]


async def test_developer_manages_keys(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    _, developer = await factories.role_key(app, client, acme, "developer")
    created = await _create(client, acme, policy_id, VALUE, key=developer)
    assert created.status_code == 201, created.text
    url = f"{acme.base}/keys/{created.json()['data']['id']}"
    listed = await client.get(f"{acme.base}/keys", headers=bearer(developer))
    assert len(listed.json()["data"]) == 1
    updated = await client.patch(url, json=_patch("DEVELOPER-EDIT"), headers=bearer(developer))
    assert updated.status_code == 200, updated.text
    assert updated.json()["data"]["attributes"]["key"] == "DEVELOPER-EDIT"
    assert (await client.delete(url, headers=bearer(developer))).status_code == 204
    assert await _ids(client, acme) == []


async def test_product_token_sees_and_manages_only_its_product(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme, name="Mine")
    own_policy = await factories.policy(client, acme, product_id, usePool=True)
    other_policy = await factories.policy(client, acme, usePool=True)
    own = await factories.pool_key(client, acme, own_policy, "OWN-PRODUCT-KEY")
    other = await factories.pool_key(client, acme, other_policy, "OTHER-PRODUCT-KEY")
    token = await factories.product_token(client, acme, product_id)

    listed = await client.get(f"{acme.base}/keys", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["data"]] == [own["id"]]
    filtered = await client.get(f"{acme.base}/keys?policy={other_policy}", headers=bearer(token))
    assert filtered.json()["data"] == []

    assert (await client.get(f"{acme.base}/keys/{own['id']}", headers=bearer(token))).status_code == 200
    other_url = f"{acme.base}/keys/{other['id']}"
    jsonapi_error(await client.get(other_url, headers=bearer(token)), 404, "NOT_FOUND")
    jsonapi_error(await client.get(f"{other_url}/product", headers=bearer(token)), 404, "NOT_FOUND")
    jsonapi_error(await client.get(f"{other_url}/policy", headers=bearer(token)), 404, "NOT_FOUND")

    made = await _create(client, acme, own_policy, "PRODUCT-MADE-KEY", key=token)
    assert made.status_code == 201, made.text
    assert made.json()["data"]["relationships"]["product"]["data"]["id"] == product_id
    refused = await _create(client, acme, other_policy, "PRODUCT-STOLEN-KEY", key=token)
    assert refused.status_code == 403, refused.text

    edited = await client.patch(
        f"{acme.base}/keys/{own['id']}", json=_patch("OWN-PRODUCT-EDIT"), headers=bearer(token)
    )
    assert edited.status_code == 200, edited.text
    jsonapi_error(
        await client.patch(other_url, json=_patch("OTHER-PRODUCT-EDIT"), headers=bearer(token)),
        404,
        "NOT_FOUND",
    )
    jsonapi_error(await client.delete(other_url, headers=bearer(token)), 404, "NOT_FOUND")
    assert (await client.delete(f"{acme.base}/keys/{own['id']}", headers=bearer(token))).status_code == 204

    remaining = (await client.get(f"{acme.base}/keys", headers=bearer(acme.key))).json()["data"]
    assert {item["attributes"]["key"] for item in remaining} == {"PRODUCT-MADE-KEY", "OTHER-PRODUCT-KEY"}


@pytest.mark.parametrize("owns_license", [False, True])
async def test_end_users_cannot_see_or_touch_keys(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, owns_license: bool
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    existing = await factories.pool_key(client, acme, policy_id, VALUE)
    user_id, user_key = await factories.role_key(app, client, acme, "user")
    if owns_license:
        await factories.license(client, acme, policy_id, key="USER-OWNED-LICENSE", owner=user_id)
    url = f"{acme.base}/keys/{existing['id']}"

    assert (await client.get(f"{acme.base}/keys", headers=bearer(user_key))).status_code == 403
    for response in (
        await client.get(url, headers=bearer(user_key)),
        await client.get(f"{url}/product", headers=bearer(user_key)),
        await client.get(f"{url}/policy", headers=bearer(user_key)),
        await client.patch(url, json=_patch("USER-EDITED-KEY"), headers=bearer(user_key)),
        await client.delete(url, headers=bearer(user_key)),
    ):
        jsonapi_error(response, 404, "NOT_FOUND")
    created = await _create(client, acme, policy_id, "USER-MADE-KEY", key=user_key)
    assert created.status_code == 403, created.text

    after = await client.get(url, headers=bearer(acme.key))
    assert after.status_code == 200
    assert after.json()["data"]["attributes"]["key"] == VALUE
    assert await _ids(client, acme) == [existing["id"]]


async def test_missing_and_foreign_credentials_are_401(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    existing = await factories.pool_key(client, acme, policy_id, VALUE)
    globex = await factories.tenant(app, "globex")
    url = f"{acme.base}/keys/{existing['id']}"
    requests = [
        ("GET", f"{acme.base}/keys", None),
        ("POST", f"{acme.base}/keys", _body(policy_id, "ANOTHER-KEY-VALUE")),
        ("GET", url, None),
        ("GET", f"{url}/product", None),
        ("GET", f"{url}/policy", None),
        ("PATCH", url, _patch("ANOTHER-KEY-VALUE")),
        ("DELETE", url, None),
    ]
    for method, path, body in requests:
        anonymous = await client.request(method, path, json=body)
        jsonapi_error(anonymous, 401, "TOKEN_MISSING")
        foreign = await client.request(method, path, json=body, headers=bearer(globex.key))
        foreign_body = jsonapi_error(foreign, 401, "TOKEN_INVALID")
        assert len(foreign_body["errors"]) == 1
    after = await client.get(url, headers=bearer(acme.key))
    assert after.json()["data"]["attributes"]["key"] == VALUE
    assert await _ids(client, acme) == [existing["id"]]


async def test_keys_are_isolated_between_accounts(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    policy_id = await factories.policy(client, acme, usePool=True)
    existing = await factories.pool_key(client, acme, policy_id, VALUE)
    globex = await factories.tenant(app, "globex")
    globex_policy = await factories.policy(client, globex, usePool=True)
    globex_key = await factories.pool_key(client, globex, globex_policy, "GLOBEX-OWN-KEY")

    listed = await client.get(f"{globex.base}/keys", headers=bearer(globex.key))
    assert [item["id"] for item in listed.json()["data"]] == [globex_key["id"]]
    filtered = await client.get(f"{globex.base}/keys?policy={policy_id}", headers=bearer(globex.key))
    assert filtered.json()["data"] == []

    url = f"{globex.base}/keys/{existing['id']}"
    for response in (
        await client.get(url, headers=bearer(globex.key)),
        await client.get(f"{url}/product", headers=bearer(globex.key)),
        await client.get(f"{url}/policy", headers=bearer(globex.key)),
        await client.patch(url, json=_patch("HIJACKED-KEY"), headers=bearer(globex.key)),
        await client.delete(url, headers=bearer(globex.key)),
    ):
        jsonapi_error(response, 404, "NOT_FOUND")
    # Another account's policy is no policy here.
    into_acme = await _create(client, globex, policy_id, "SMUGGLED-KEY")
    _invalid(into_acme, "POLICY_NOT_FOUND", "/data/relationships/policy")

    after = await client.get(f"{acme.base}/keys/{existing['id']}", headers=bearer(acme.key))
    assert after.json()["data"]["attributes"]["key"] == VALUE
    assert await _ids(client, acme) == [existing["id"]]
    assert await _ids(client, globex) == [globex_key["id"]]
