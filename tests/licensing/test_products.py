"""Products: CRUD in Keygen's JSON:API shapes, product tokens, list paging, permissions,
tenant isolation and the cascade a product's deletion carries."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import factories
from tests.auth.support import JSONAPI, jsonapi_error, plain_error
from tests.factories import Tenant, bearer

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _body(type_: str = "products", **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": type_, "attributes": attributes}}


async def _names(
    client: httpx.AsyncClient, account: Tenant, query: str = "", key: str | None = None
) -> list[str]:
    response = await client.get(f"{account.base}/products{query}", headers=bearer(key or account.key))
    assert response.status_code == 200, response.text
    return [item["attributes"]["name"] for item in response.json()["data"]]


async def _numbered(client: httpx.AsyncClient, account: Tenant, count: int) -> list[str]:
    """``count`` products named P00, P01, ... created in that order; their ids."""
    return [await factories.product(client, account, name=f"P{i:02d}") for i in range(count)]


def _pointer(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["source"]["pointer"])


# -- create / read / update / delete ---------------------------------------------------------


async def test_create_answers_201_with_location_and_the_full_document(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    body = _body(
        name="Rocket",
        code="rocket-app",
        distributionStrategy="OPEN",
        url="https://rocket.example.com/",
        platforms=["macOS", "Windows"],
        metadata={"tier": "gold", "seats": 3},
    )
    response = await client.post(f"{acme.base}/products", json=body, headers=bearer(acme.key))
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith(JSONAPI)
    data = response.json()["data"]
    product_id = data["id"]
    uuid.UUID(product_id)
    own = f"/v1/accounts/{acme.id}/products/{product_id}"
    assert response.headers["location"] == own
    assert data["type"] == "products"
    assert data["links"] == {"self": own}

    attributes = data["attributes"]
    assert set(attributes) == {
        "name",
        "code",
        "distributionStrategy",
        "url",
        "platforms",
        "metadata",
        "created",
        "updated",
    }
    assert attributes["name"] == "Rocket"
    assert attributes["code"] == "rocket-app"
    assert attributes["distributionStrategy"] == "OPEN"
    assert attributes["url"] == "https://rocket.example.com/"
    assert attributes["platforms"] == ["macOS", "Windows"]
    assert attributes["metadata"] == {"tier": "gold", "seats": 3}
    assert ISO_MS.match(attributes["created"]), attributes["created"]
    assert ISO_MS.match(attributes["updated"]), attributes["updated"]

    account = data["relationships"]["account"]
    assert account["data"] == {"type": "accounts", "id": str(acme.id)}
    assert account["links"]["related"] == f"/v1/accounts/{acme.id}"
    assert data["relationships"]["policies"]["links"]["related"] == f"{own}/policies"

    # The Location is a working address: the same product comes back from it.
    again = await client.get(response.headers["location"], headers=bearer(acme.key))
    assert again.status_code == 200
    assert again.json()["data"] == data


async def test_a_name_alone_gives_keygen_defaults(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.post(f"{acme.base}/products", json=_body(name="Bare"), headers=bearer(acme.key))
    assert response.status_code == 201, response.text
    attributes = response.json()["data"]["attributes"]
    assert attributes["code"] is None
    assert attributes["distributionStrategy"] == "LICENSED"
    assert attributes["url"] is None
    assert attributes["platforms"] is None
    assert attributes["metadata"] == {}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (_body(code="no-name"), "/data/attributes/name"),
        (_body(name="X", colour="red"), "/data/attributes/colour"),
        (_body(name=123), "/data/attributes/name"),
        (_body(name="X", platforms="macOS"), "/data/attributes/platforms"),
        (_body(name="X", metadata=["a"]), "/data/attributes/metadata"),
        ({"data": {"type": "products"}}, "/data/attributes"),
        ({"data": {"type": "products", "attributes": {"name": "X"}, "extra": 1}}, "/data/extra"),
    ],
    ids=[
        "missing-name",
        "unknown-attribute",
        "name-not-string",
        "platforms-not-list",
        "metadata-not-object",
        "no-attributes",
        "unknown-member",
    ],
)
async def test_malformed_bodies_are_400_with_a_pointer_and_create_nothing(
    client: httpx.AsyncClient, acme: Tenant, body: dict[str, Any], pointer: str
) -> None:
    response = await client.post(f"{acme.base}/products", json=body, headers=bearer(acme.key))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(JSONAPI)
    errors = response.json()["errors"]
    assert errors[0]["source"] == {"pointer": pointer}, errors
    assert await _names(client, acme) == []


async def test_a_wrong_resource_type_is_refused(client: httpx.AsyncClient, acme: Tenant) -> None:
    # The project answers a wrong ``type`` as 422 TYPE_INVALID everywhere (see the token tests).
    response = await client.post(
        f"{acme.base}/products", json=_body("licenses", name="X"), headers=bearer(acme.key)
    )
    body = jsonapi_error(response, 422, "TYPE_INVALID")
    assert _pointer(body) == "/data/type"
    assert await _names(client, acme) == []


async def test_singular_type_is_accepted(client: httpx.AsyncClient, acme: Tenant) -> None:
    created = await client.post(
        f"{acme.base}/products", json=_body("product", name="Single"), headers=bearer(acme.key)
    )
    assert created.status_code == 201, created.text
    assert created.json()["data"]["type"] == "products"
    product_id = created.json()["data"]["id"]
    patched = await client.patch(
        f"{acme.base}/products/{product_id}", json=_body("product", name="Renamed"), headers=bearer(acme.key)
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["attributes"]["name"] == "Renamed"


async def test_unknown_distribution_strategy_is_422_not_allowed(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    response = await client.post(
        f"{acme.base}/products", json=_body(name="X", distributionStrategy="FREE"), headers=bearer(acme.key)
    )
    body = jsonapi_error(response, 422, "DISTRIBUTION_STRATEGY_NOT_ALLOWED")
    assert _pointer(body) == "/data/attributes/distributionStrategy"
    assert await _names(client, acme) == []


async def test_code_is_unique_within_an_account_only(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    first = await factories.product(client, acme, name="First", code="app")
    duplicate = await client.post(
        f"{acme.base}/products", json=_body(name="Second", code="app"), headers=bearer(acme.key)
    )
    body = jsonapi_error(duplicate, 422, "CODE_TAKEN")
    assert _pointer(body) == "/data/attributes/code"
    assert body["errors"][0]["title"] == "Unprocessable resource"
    assert await _names(client, acme) == ["First"]

    # Another product may not take the code by renaming either; keeping one's own code is fine.
    other = await factories.product(client, acme, name="Other", code="other")
    taken = await client.patch(
        f"{acme.base}/products/{other}", json=_body(code="app"), headers=bearer(acme.key)
    )
    jsonapi_error(taken, 422, "CODE_TAKEN")
    kept = await client.patch(
        f"{acme.base}/products/{first}", json=_body(code="app"), headers=bearer(acme.key)
    )
    assert kept.status_code == 200, kept.text
    still = await client.get(f"{acme.base}/products/{other}", headers=bearer(acme.key))
    assert still.json()["data"]["attributes"]["code"] == "other"

    globex = await factories.tenant(app, "globex")
    await factories.product(client, globex, name="Globex app", code="app")


async def test_patch_changes_only_the_attributes_sent(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(
        client, acme, name="Before", code="keep", url="https://keep.example/", metadata={"a": 1}
    )
    original = (await client.get(f"{acme.base}/products/{product_id}", headers=bearer(acme.key))).json()[
        "data"
    ]

    patched = await client.patch(
        f"{acme.base}/products/{product_id}", json=_body(name="After"), headers=bearer(acme.key)
    )
    assert patched.status_code == 200, patched.text
    assert patched.headers["content-type"].startswith(JSONAPI)
    attributes = patched.json()["data"]["attributes"]
    assert attributes["name"] == "After"
    for unchanged in ("code", "url", "metadata", "distributionStrategy", "platforms", "created"):
        assert attributes[unchanged] == original["attributes"][unchanged], unchanged
    assert attributes["updated"] >= original["attributes"]["updated"]

    seen = await client.get(f"{acme.base}/products/{product_id}", headers=bearer(acme.key))
    assert seen.json()["data"]["attributes"] == attributes

    # Sending null clears an optional attribute; metadata is replaced, not merged.
    cleared = await client.patch(
        f"{acme.base}/products/{product_id}",
        json=_body(url=None, metadata={"b": 2}),
        headers=bearer(acme.key),
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["data"]["attributes"]["url"] is None
    assert cleared.json()["data"]["attributes"]["metadata"] == {"b": 2}
    assert cleared.json()["data"]["attributes"]["name"] == "After"


async def test_patch_refuses_bad_input_and_keeps_the_product(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme, name="Stable")
    unknown = await client.patch(
        f"{acme.base}/products/{product_id}", json=_body(colour="red"), headers=bearer(acme.key)
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["source"] == {"pointer": "/data/attributes/colour"}
    blank = await client.patch(
        f"{acme.base}/products/{product_id}", json=_body(name=None), headers=bearer(acme.key)
    )
    assert blank.status_code == 422, blank.text
    assert _pointer(blank.json()) == "/data/attributes/name"
    assert await _names(client, acme) == ["Stable"]


async def test_delete_is_204_then_the_product_is_gone(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    deleted = await client.delete(f"{acme.base}/products/{product_id}", headers=bearer(acme.key))
    assert deleted.status_code == 204
    assert deleted.content == b""

    gone = await client.get(f"{acme.base}/products/{product_id}", headers=bearer(acme.key))
    body = jsonapi_error(gone, 404, "NOT_FOUND")
    assert body["errors"][0]["detail"] == "The requested product was not found"
    again = await client.delete(f"{acme.base}/products/{product_id}", headers=bearer(acme.key))
    jsonapi_error(again, 404, "NOT_FOUND")
    patch = await client.patch(
        f"{acme.base}/products/{product_id}", json=_body(name="X"), headers=bearer(acme.key)
    )
    jsonapi_error(patch, 404, "NOT_FOUND")
    assert await _names(client, acme) == []


async def test_an_id_that_is_not_a_uuid_is_404(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.get(f"{acme.base}/products/not-a-uuid", headers=bearer(acme.key))
    jsonapi_error(response, 404, "NOT_FOUND")


async def test_response_media_type_follows_accept(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    url = f"{acme.base}/products/{product_id}"
    default = await client.get(url, headers=bearer(acme.key))
    assert default.headers["content-type"].startswith(JSONAPI)
    jsonapi = await client.get(url, headers={**bearer(acme.key), "Accept": JSONAPI})
    assert jsonapi.headers["content-type"].startswith(JSONAPI)
    plain = await client.get(url, headers={**bearer(acme.key), "Accept": "application/json"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("application/json")
    assert plain.json()["data"]["id"] == product_id
    created = await client.post(
        f"{acme.base}/products",
        json=_body(name="Plain"),
        headers={**bearer(acme.key), "Accept": "application/json"},
    )
    assert created.status_code == 201
    assert created.headers["content-type"].startswith("application/json")


async def test_missing_credentials_are_401(client: httpx.AsyncClient, acme: Tenant) -> None:
    jsonapi_error(await client.get(f"{acme.base}/products"), 401, "TOKEN_MISSING")
    response = await client.post(f"{acme.base}/products", json=_body(name="X"))
    jsonapi_error(response, 401, "TOKEN_MISSING")


# -- product tokens ------------------------------------------------------------------------


async def test_product_token_is_shown_once_and_listed_without_its_secret(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme)
    created = await client.post(f"{acme.base}/products/{product_id}/tokens", headers=bearer(acme.key))
    assert created.status_code == 200, created.text
    data = created.json()["data"]
    assert data["type"] == "tokens"
    assert data["attributes"]["kind"] == "product-token"
    secret = data["attributes"]["token"]
    assert isinstance(secret, str)
    assert len(secret) > 20
    assert data["attributes"]["expiry"] is None
    assert data["relationships"]["bearer"]["data"] == {"type": "products", "id": product_id}

    listed = await client.get(f"{acme.base}/products/{product_id}/tokens", headers=bearer(acme.key))
    assert listed.status_code == 200, listed.text
    items = listed.json()["data"]
    assert [item["id"] for item in items] == [data["id"]]
    assert items[0]["attributes"]["kind"] == "product-token"
    assert "token" not in items[0]["attributes"]
    assert secret not in listed.text

    # Another product's token list does not show it.
    other = await factories.product(client, acme, name="Other")
    others = await client.get(f"{acme.base}/products/{other}/tokens", headers=bearer(acme.key))
    assert others.status_code == 200
    assert others.json()["data"] == []


async def test_product_token_me_is_the_product(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme, name="Mine")
    token = await factories.product_token(client, acme, product_id)
    me = await client.get(f"{acme.base}/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    data = me.json()["data"]
    assert data["type"] == "products"
    assert data["id"] == product_id
    assert data["attributes"]["name"] == "Mine"


async def test_product_token_is_refused_outside_the_licensing_api(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    token = await factories.product_token(client, acme, await factories.product(client, acme))
    plain_error(await client.get(f"{acme.base}/api-keys", headers=bearer(token)), 403, "TOKEN_NOT_ALLOWED")
    created = await client.post(f"{acme.base}/api-keys", json={}, headers=bearer(token))
    plain_error(created, 403, "TOKEN_NOT_ALLOWED")
    jsonapi_error(await client.get(f"{acme.base}/users", headers=bearer(token)), 403, "TOKEN_NOT_ALLOWED")


async def test_deleting_the_product_revokes_its_tokens(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    token = await factories.product_token(client, acme, product_id)
    assert (await client.get(f"{acme.base}/products", headers=bearer(token))).status_code == 200
    deleted = await client.delete(f"{acme.base}/products/{product_id}", headers=bearer(acme.key))
    assert deleted.status_code == 204
    jsonapi_error(await client.get(f"{acme.base}/products", headers=bearer(token)), 401, "TOKEN_INVALID")
    jsonapi_error(await client.get(f"{acme.base}/me", headers=bearer(token)), 401, "TOKEN_INVALID")
    tokens = await client.get(f"{acme.base}/products/{product_id}/tokens", headers=bearer(acme.key))
    jsonapi_error(tokens, 404, "NOT_FOUND")


async def test_only_admins_and_developers_manage_product_tokens(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme)
    url = f"{acme.base}/products/{product_id}/tokens"
    for role in ("read-only", "support-agent", "sales-agent"):
        _, key = await factories.role_key(app, client, acme, role)
        assert (await client.post(url, headers=bearer(key))).status_code == 403, role
        assert (await client.get(url, headers=bearer(key))).status_code == 403, role
    product_token = await factories.product_token(client, acme, product_id)
    assert (await client.post(url, headers=bearer(product_token))).status_code == 403

    _, developer = await factories.role_key(app, client, acme, "developer")
    made = await client.post(url, headers=bearer(developer))
    assert made.status_code == 200, made.text
    listed = await client.get(url, headers=bearer(acme.key))
    assert len(listed.json()["data"]) == 2  # the admin's one above and the developer's


async def test_product_token_with_name_and_expiry(client: httpx.AsyncClient, acme: Tenant) -> None:
    product_id = await factories.product(client, acme)
    url = f"{acme.base}/products/{product_id}/tokens"
    body = {"data": {"type": "tokens", "attributes": {"name": "CI", "expiry": "2999-01-01T00:00:00.000Z"}}}
    made = await client.post(url, json=body, headers=bearer(acme.key))
    assert made.status_code == 200, made.text
    assert made.json()["data"]["attributes"]["name"] == "CI"
    assert made.json()["data"]["attributes"]["expiry"] == "2999-01-01T00:00:00.000Z"
    past = {"data": {"type": "tokens", "attributes": {"expiry": "2000-01-01T00:00:00.000Z"}}}
    refused = await client.post(url, json=past, headers=bearer(acme.key))
    assert refused.status_code == 422, refused.text
    listed = await client.get(url, headers=bearer(acme.key))
    assert len(listed.json()["data"]) == 1


# -- paging --------------------------------------------------------------------------------


async def test_default_list_is_ten_newest_first(client: httpx.AsyncClient, acme: Tenant) -> None:
    await _numbered(client, acme, 12)
    response = await client.get(f"{acme.base}/products", headers=bearer(acme.key))
    assert response.status_code == 200
    body = response.json()
    assert [item["attributes"]["name"] for item in body["data"]] == [f"P{i:02d}" for i in range(11, 1, -1)]
    assert "links" not in body
    assert await _names(client, acme, "?limit=5") == [f"P{i:02d}" for i in range(11, 6, -1)]
    assert await _names(client, acme, "?limit=100") == [f"P{i:02d}" for i in range(11, -1, -1)]
    assert await _names(client, acme, "?order=asc") == [f"P{i:02d}" for i in range(10)]
    assert await _names(client, acme, "?order=asc&limit=3") == ["P00", "P01", "P02"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("order=x", "order"),
        ("page[size]=101&page[number]=1", "page[size]"),
        ("page[size]=0&page[number]=1", "page[size]"),
        ("page[number]=0", "page[number]"),
        ("page[number]=101", "page[number]"),
        ("page[number]=two", "page[number]"),
        ("page=3", "page"),
        ("page[size]=5", "page"),
        ("page[bogus]=1", "page"),
        ("page[cursor]=not-a-uuid", "page[cursor]"),
    ],
)
async def test_bad_paging_is_400_naming_the_parameter(
    client: httpx.AsyncClient, acme: Tenant, query: str, parameter: str
) -> None:
    await factories.product(client, acme)
    response = await client.get(f"{acme.base}/products?{query}", headers=bearer(acme.key))
    body = jsonapi_error(response, 400, "PARAMETERS_INVALID")
    assert body["errors"][0]["source"] == {"parameter": parameter}


async def test_numbered_pages_carry_links_and_counts(client: httpx.AsyncClient, acme: Tenant) -> None:
    await _numbered(client, acme, 12)
    path = f"{acme.base}/products"

    def link(number: int) -> str:
        return f"{path}?page%5Bnumber%5D={number}&page%5Bsize%5D=5"

    second = await client.get(f"{path}?page[number]=2&page[size]=5", headers=bearer(acme.key))
    assert second.status_code == 200, second.text
    body = second.json()
    assert [item["attributes"]["name"] for item in body["data"]] == ["P06", "P05", "P04", "P03", "P02"]
    assert body["links"] == {
        "self": link(2),
        "prev": link(1),
        "next": link(3),
        "first": link(1),
        "last": link(3),
        "meta": {"pages": 3, "count": 12},
    }

    first = (await client.get(path + "?page[number]=1&page[size]=5", headers=bearer(acme.key))).json()
    assert first["links"]["prev"] is None
    assert first["links"]["next"] == link(2)
    last = (await client.get(path + "?page[number]=3&page[size]=5", headers=bearer(acme.key))).json()
    assert [item["attributes"]["name"] for item in last["data"]] == ["P01", "P00"]
    assert last["links"]["next"] is None
    assert last["links"]["prev"] == link(2)
    beyond = (await client.get(path + "?page[number]=4&page[size]=5", headers=bearer(acme.key))).json()
    assert beyond["data"] == []

    # page[size] defaults to limit (10); other query parameters are kept in the links.
    default_size = (await client.get(path + "?page[number]=2&order=asc", headers=bearer(acme.key))).json()
    assert [item["attributes"]["name"] for item in default_size["data"]] == ["P10", "P11"]
    assert default_size["links"]["meta"] == {"pages": 2, "count": 12}
    assert default_size["links"]["first"] == f"{path}?order=asc&page%5Bnumber%5D=1&page%5Bsize%5D=10"


async def test_cursor_paging_walks_every_record_once(client: httpx.AsyncClient, acme: Tenant) -> None:
    ids = await _numbered(client, acme, 12)
    url: str | None = f"{acme.base}/products?page[cursor]=&page[size]=5"
    seen: list[str] = []
    pages = 0
    while url is not None:
        response = await client.get(url, headers=bearer(acme.key))
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["id"] for item in body["data"]]
        assert set(body["links"]) == {"self", "next"}
        url = body["links"]["next"]
        pages += 1
        assert pages <= 5
    assert pages == 3
    assert seen == list(reversed(ids))

    ascending: list[str] = []
    next_url: str | None = f"{acme.base}/products?order=asc&page[cursor]=&page[size]=7"
    while next_url is not None:
        body = (await client.get(next_url, headers=bearer(acme.key))).json()
        ascending += [item["id"] for item in body["data"]]
        next_url = body["links"]["next"]
    assert ascending == ids

    # A cursor is the last id seen: the page after it starts right below it.
    after = await client.get(
        f"{acme.base}/products?page[cursor]={ids[5]}&page[size]=2", headers=bearer(acme.key)
    )
    assert [item["id"] for item in after.json()["data"]] == [ids[4], ids[3]]


# -- permissions ---------------------------------------------------------------------------


async def test_developer_manages_products(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    _, key = await factories.role_key(app, client, acme, "developer")
    product_id = await factories.product(client, acme, credential=key, name="Dev")
    patched = await client.patch(
        f"{acme.base}/products/{product_id}", json=_body(name="Dev2"), headers=bearer(key)
    )
    assert patched.status_code == 200
    assert (await client.delete(f"{acme.base}/products/{product_id}", headers=bearer(key))).status_code == 204
    assert await _names(client, acme) == []


@pytest.mark.parametrize("role", ["read-only", "support-agent", "sales-agent"])
async def test_other_staff_read_products_but_cannot_change_them(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, role: str
) -> None:
    product_id = await factories.product(client, acme, name="Shelf")
    _, key = await factories.role_key(app, client, acme, role)
    assert await _names(client, acme, key=key) == ["Shelf"]
    assert (await client.get(f"{acme.base}/products/{product_id}", headers=bearer(key))).status_code == 200

    created = await client.post(f"{acme.base}/products", json=_body(name="New"), headers=bearer(key))
    assert created.status_code == 403, created.text
    patched = await client.patch(
        f"{acme.base}/products/{product_id}", json=_body(name="Hack"), headers=bearer(key)
    )
    assert patched.status_code == 403
    deleted = await client.delete(f"{acme.base}/products/{product_id}", headers=bearer(key))
    assert deleted.status_code == 403
    assert await _names(client, acme) == ["Shelf"]


async def test_users_see_only_the_products_of_their_licenses(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    mine = await factories.product(client, acme, name="Mine")
    theirs = await factories.product(client, acme, name="Theirs")
    await factories.product(client, acme, name="Unlicensed")
    user_id, key = await factories.role_key(app, client, acme, "user")
    other_id = await factories.user(app, acme)
    await factories.license(client, acme, await factories.policy(client, acme, mine), owner=user_id)
    await factories.license(client, acme, await factories.policy(client, acme, theirs), owner=str(other_id))

    assert await _names(client, acme, key=key) == ["Mine"]
    assert (await client.get(f"{acme.base}/products/{mine}", headers=bearer(key))).status_code == 200
    jsonapi_error(await client.get(f"{acme.base}/products/{theirs}", headers=bearer(key)), 404, "NOT_FOUND")
    assert (
        await client.post(f"{acme.base}/products", json=_body(name="X"), headers=bearer(key))
    ).status_code == 403
    patched = await client.patch(f"{acme.base}/products/{mine}", json=_body(name="X"), headers=bearer(key))
    assert patched.status_code == 403
    assert (await client.delete(f"{acme.base}/products/{mine}", headers=bearer(key))).status_code == 403
    assert (await client.post(f"{acme.base}/products/{mine}/tokens", headers=bearer(key))).status_code == 403


async def test_a_user_without_licenses_sees_no_products(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    await factories.product(client, acme)
    _, key = await factories.role_key(app, client, acme, "user")
    assert await _names(client, acme, key=key) == []


async def test_product_token_sees_only_its_product_and_cannot_write_products(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    mine = await factories.product(client, acme, name="Mine")
    other = await factories.product(client, acme, name="Other")
    token = await factories.product_token(client, acme, mine)

    assert await _names(client, acme, key=token) == ["Mine"]
    assert (await client.get(f"{acme.base}/products/{mine}", headers=bearer(token))).status_code == 200
    jsonapi_error(await client.get(f"{acme.base}/products/{other}", headers=bearer(token)), 404, "NOT_FOUND")

    created = await client.post(f"{acme.base}/products", json=_body(name="New"), headers=bearer(token))
    assert created.status_code == 403, created.text
    patched = await client.patch(f"{acme.base}/products/{mine}", json=_body(name="X"), headers=bearer(token))
    assert patched.status_code == 403
    assert (await client.delete(f"{acme.base}/products/{mine}", headers=bearer(token))).status_code == 403
    assert (await client.delete(f"{acme.base}/products/{other}", headers=bearer(token))).status_code == 404
    assert sorted(await _names(client, acme)) == ["Mine", "Other"]


# -- tenants and cascade -------------------------------------------------------------------


async def test_products_are_isolated_between_accounts(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    product_id = await factories.product(client, acme, name="Acme only")
    globex = await factories.tenant(app, "globex")

    jsonapi_error(
        await client.get(f"{globex.base}/products/{product_id}", headers=bearer(globex.key)), 404, "NOT_FOUND"
    )
    patched = await client.patch(
        f"{globex.base}/products/{product_id}", json=_body(name="Stolen"), headers=bearer(globex.key)
    )
    jsonapi_error(patched, 404, "NOT_FOUND")
    deleted = await client.delete(f"{globex.base}/products/{product_id}", headers=bearer(globex.key))
    jsonapi_error(deleted, 404, "NOT_FOUND")
    tokens = await client.post(f"{globex.base}/products/{product_id}/tokens", headers=bearer(globex.key))
    jsonapi_error(tokens, 404, "NOT_FOUND")
    assert await _names(client, globex) == []

    # acme's key is unknown to globex, even for reading.
    jsonapi_error(await client.get(f"{globex.base}/products", headers=bearer(acme.key)), 401, "TOKEN_INVALID")
    jsonapi_error(
        await client.get(f"{globex.base}/products/{product_id}", headers=bearer(acme.key)),
        401,
        "TOKEN_INVALID",
    )
    token = await factories.product_token(client, acme, product_id)
    jsonapi_error(await client.get(f"{globex.base}/products", headers=bearer(token)), 401, "TOKEN_INVALID")
    assert await _names(client, acme) == ["Acme only"]


async def test_deleting_a_product_takes_its_policies_keys_and_licenses(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    doomed = await factories.product(client, acme, name="Doomed")
    kept = await factories.product(client, acme, name="Kept")
    pooled = await factories.policy(client, acme, doomed, usePool=True)
    plain = await factories.policy(client, acme, doomed)
    kept_policy = await factories.policy(client, acme, kept)
    await factories.pool_key(client, acme, pooled, "POOLED-KEY-0001")
    await factories.pool_key(client, acme, pooled, "POOLED-KEY-0002")
    doomed_license = await factories.license(client, acme, plain)
    pooled_license = await factories.license(client, acme, pooled)
    kept_license = await factories.license(client, acme, kept_policy)
    keys_before = await client.get(f"{acme.base}/keys", headers=bearer(acme.key))
    assert len(keys_before.json()["data"]) == 1  # one of the two was popped for the license

    assert (
        await client.delete(f"{acme.base}/products/{doomed}", headers=bearer(acme.key))
    ).status_code == 204

    for path in (
        f"products/{doomed}",
        f"policies/{pooled}",
        f"policies/{plain}",
        f"licenses/{doomed_license['id']}",
        f"licenses/{pooled_license['id']}",
    ):
        jsonapi_error(await client.get(f"{acme.base}/{path}", headers=bearer(acme.key)), 404, "NOT_FOUND")
    keys = await client.get(f"{acme.base}/keys", headers=bearer(acme.key))
    assert keys.status_code == 200
    assert keys.json()["data"] == []
    policies = await client.get(f"{acme.base}/policies", headers=bearer(acme.key))
    assert [item["id"] for item in policies.json()["data"]] == [kept_policy]
    licenses = await client.get(f"{acme.base}/licenses", headers=bearer(acme.key))
    assert [item["id"] for item in licenses.json()["data"]] == [kept_license["id"]]
    assert (await client.get(f"{acme.base}/products/{kept}", headers=bearer(acme.key))).status_code == 200
