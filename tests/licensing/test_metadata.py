"""Metadata as Keygen keeps it: keys in lowerCamelCase (nested ones too), two levels of
nesting at most, and filters that find keys the way they are kept."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from keyplane.licensing.metadata import camel_key
from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("example_key_1", "exampleKey1"),
        ("ExampleKey2", "exampleKey2"),
        ("exampleKey3", "exampleKey3"),
        ("example key 4", "exampleKey4"),
        ("external-id", "externalId"),
        ("ExternalID", "externalId"),
        ("FOO_BAR", "fooBar"),
        ("café", "cafe"),
        ("tier", "tier"),
    ],
)
def test_keys_are_kept_as_keygen_keeps_them(sent: str, kept: str) -> None:
    """Rails' ``underscore.parameterize(separator: '_')`` on the way in
    (config/initializers/jsonapi.rb), ``camelize(:lower)`` on the way out
    (app/serializers/license_serializer.rb)."""
    assert camel_key(sent) == kept


async def test_license_metadata_keys_are_camel_cased_on_write(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen: features/api/v1/licenses/create.feature, "Admin creates a license with metadata
    for their account and the keys should be transformed to camelcase"; nested keys too
    (``deep_transform_keys``)."""
    sent = {
        "example_key_1": 1,
        "ExampleKey2": 2,
        "exampleKey3": 3,
        "example key 4": 4,
        "nested_object": {"inner_key": {"deep_key": "v"}},
        "list_of": [{"item_key": 1}, "plain"],
    }
    license = await factories.license(client, acme, metadata=sent)
    expected = {
        "exampleKey1": 1,
        "exampleKey2": 2,
        "exampleKey3": 3,
        "exampleKey4": 4,
        "nestedObject": {"innerKey": {"deepKey": "v"}},
        "listOf": [{"itemKey": 1}, "plain"],
    }
    assert license["attributes"]["metadata"] == expected
    shown = await client.get(f"{acme.base}/licenses/{license['id']}", headers=bearer(acme.key))
    assert shown.json()["data"]["attributes"]["metadata"] == expected
    # An update is kept the same way; a filter finds a key by either spelling.
    patch = {"data": {"type": "licenses", "attributes": {"metadata": {"seat_count": 5}}}}
    updated = await client.patch(
        f"{acme.base}/licenses/{license['id']}", json=patch, headers=bearer(acme.key)
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["data"]["attributes"]["metadata"] == {"seatCount": 5}
    for spelling in ("seat_count", "seatCount", "SeatCount"):
        found = await client.get(
            f"{acme.base}/licenses", params={f"metadata[{spelling}]": "5"}, headers=bearer(acme.key)
        )
        assert [item["id"] for item in found.json()["data"]] == [license["id"]], spelling


@pytest.mark.parametrize("resource", ["products", "policies"])
async def test_other_resources_keep_metadata_the_same_way(
    client: httpx.AsyncClient, acme: Tenant, resource: str
) -> None:
    """Keygen's parser rewrites every body's keys alike (config/initializers/jsonapi.rb)."""
    attributes: dict[str, Any] = {"name": "X", "metadata": {"plan_name": {"sub_key": 1}}}
    if resource == "products":
        created = await client.post(
            f"{acme.base}/products", json=factories.document("products", attributes), headers=bearer(acme.key)
        )
        assert created.status_code == 201, created.text
        metadata = created.json()["data"]["attributes"]["metadata"]
    else:
        policy = await factories.policy(client, acme, **attributes)
        shown = await client.get(f"{acme.base}/policies/{policy}", headers=bearer(acme.key))
        metadata = shown.json()["data"]["attributes"]["metadata"]
    assert metadata == {"planName": {"subKey": 1}}


async def test_metadata_nested_deeper_than_keygen_allows_is_400(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen: 400 "maximum depth of 2 exceeded", pointing at the first value too deep
    (features/api/v1/licenses/create.feature, "Admin creates a license with too complex
    nested metadata"; typed_params ``depth: { maximum: 2 }``)."""
    policy = await factories.policy(client, acme)
    allowed = {"key": ["value"], "object": {"key": {"k": "v"}}, "array": [{"foo": 1}, {"bar": 2}, {"baz": 3}]}
    created = await client.post(
        f"{acme.base}/licenses",
        json=factories.document("licenses", {"metadata": allowed}, policy=policy),
        headers=bearer(acme.key),
    )
    assert created.status_code == 201, created.text
    assert created.json()["data"]["attributes"]["metadata"] == allowed
    deep = {"key": ["value"], "object": {"key": {"k": "v"}}, "array": [[0], [{"foo": 1}, 2, [3]]]}
    refused = await client.post(
        f"{acme.base}/licenses",
        json=factories.document("licenses", {"metadata": deep}, policy=policy),
        headers=bearer(acme.key),
    )
    body = jsonapi_error(refused, 400, "METADATA_TOO_DEEP")
    assert body["errors"][0]["title"] == "Bad request"
    assert body["errors"][0]["detail"] == "maximum depth of 2 exceeded"
    assert body["errors"][0]["source"] == {"pointer": "/data/attributes/metadata/array/1/0"}
    listed = await client.get(f"{acme.base}/licenses", headers=bearer(acme.key))
    assert [item["id"] for item in listed.json()["data"]] == [created.json()["data"]["id"]]
    # The same on an update: nothing changes.
    patch = {"data": {"type": "products", "attributes": {"metadata": {"a": {"b": {"c": {"d": 1}}}}}}}
    product = await factories.product(client, acme)
    jsonapi_error(
        await client.patch(f"{acme.base}/products/{product}", json=patch, headers=bearer(acme.key)),
        400,
        "METADATA_TOO_DEEP",
    )
    shown = await client.get(f"{acme.base}/products/{product}", headers=bearer(acme.key))
    assert shown.json()["data"]["attributes"]["metadata"] == {}


async def test_component_metadata_is_kept_the_same_way(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen's components take metadata like every resource (app/models/machine_component.rb
    ``validates :metadata``), its keys camelized as every resource's."""
    license = await factories.license(client, acme)
    machine = await factories.machine(client, acme, license["id"])
    made = await client.post(
        f"{acme.base}/components",
        json={
            "data": {
                "type": "components",
                "attributes": {"fingerprint": "E31EE496", "name": "MOBO", "metadata": {"serial_no": "X1"}},
                "relationships": {"machine": {"data": {"type": "machines", "id": machine["id"]}}},
            }
        },
        headers=bearer(acme.key),
    )
    assert made.status_code == 201, made.text
    assert made.json()["data"]["attributes"]["metadata"] == {"serialNo": "X1"}
