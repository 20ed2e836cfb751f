"""License files and machine files (``check-out`` actions), read with a verifier written from
Keygen's steps (``tests/licensing/files.py``): Keygen's shapes, options, codes and rules
(keygen-api ``features/api/v1/licenses/actions/checkouts.feature`` and
``features/api/v1/machines/actions/checkouts.feature``)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from fastapi import FastAPI

from keyplane.checkouts.certificate import expiry
from keyplane.errors import BadRequest
from tests import factories
from tests.events.support import logged
from tests.factories import Tenant, bearer
from tests.licensing import files
from tests.licensing.test_signatures import _public_key as public_key
from tests.licensing.test_validation import license_auth

MONTH = 2_629_746


def _url(acme: Tenant, kind: str, ref: str) -> str:
    return f"{acme.base}/{kind}s/{ref}/actions/check-out"


async def _post(
    client: httpx.AsyncClient,
    acme: Tenant,
    kind: str,
    ref: str,
    meta: dict[str, Any] | None = None,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = None if meta is None else {"meta": meta}
    return await client.post(
        _url(acme, kind, ref), json=body, params=params, headers=headers or bearer(acme.key)
    )


async def _file(
    client: httpx.AsyncClient,
    acme: Tenant,
    kind: str,
    ref: str,
    meta: dict[str, Any] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    response = await _post(client, acme, kind, ref, meta, **kw)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _refused(response: httpx.Response, status: int, code: str, detail: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["errors"][0]
    assert error["code"] == code, error
    if detail is not None:
        assert error["detail"] == detail
    return error


# -- Keygen's TTL arithmetic (ActiveSupport::Duration.build) ---------------------------------


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [
        (MONTH, "2022-11-16T14:52:48"),
        (86_400, "2022-10-17T14:52:48"),
        (3_600, "2022-10-16T15:52:48"),
        (189_341_712, "2028-10-16T14:52:48"),
    ],
)
def test_expiry_is_calendar_arithmetic_as_keygens(ttl: int, expected: str) -> None:
    """The expiries of keygen-api's checkouts.feature ("with defaults", "custom TTL", "TTL that
    is very long"), all from 2022-10-16T14:52:48Z: a month of TTL lands on the same day."""
    issued = datetime(2022, 10, 16, 14, 52, 48, tzinfo=UTC)
    assert expiry(issued, ttl) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_a_month_from_the_31st_is_the_months_last_day() -> None:
    """``Time#advance(months: 1)`` clamps the day (ActiveSupport), and so does Keyplane."""
    assert expiry(datetime(2023, 1, 31, 8, tzinfo=UTC), MONTH) == datetime(2023, 2, 28, 8, tzinfo=UTC)
    assert expiry(datetime(2023, 1, 31, 8, tzinfo=UTC), MONTH + 90) == datetime(
        2023, 2, 28, 8, 1, 30, tzinfo=UTC
    )


def test_an_expiry_past_the_year_9999_is_a_400() -> None:
    with pytest.raises(BadRequest) as refused:
        expiry(datetime(9999, 6, 1, tzinfo=UTC), 2 * 31_556_952)
    assert refused.value.code == "CHECKOUT_TTL_INVALID"


# -- license files ---------------------------------------------------------------------------


async def test_license_file_with_defaults(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """ "Admin performs a license checkout with defaults (POST)": a ``license-files`` document
    whose certificate is signed with the account's Ed25519 key over ``license/<enc>``; its
    data is the license with ``meta {issued, expiry, ttl}`` (a month), nothing included;
    ``lastCheckOut`` recorded and ``license.checked-out`` in the event log."""
    made = await factories.license(client, acme)
    response = await _post(client, acme, "license", made["id"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.api+json")
    data = response.json()["data"]
    assert data["type"] == "license-files"
    attributes = data["attributes"]
    assert attributes["algorithm"] == "base64+ed25519"
    assert attributes["ttl"] == MONTH
    assert attributes["includes"] == []
    issued = _when(attributes["issued"])
    assert abs(datetime.now(UTC) - issued) < timedelta(minutes=1)
    assert _when(attributes["expiry"]) == expiry(issued, MONTH)
    assert data["relationships"]["license"] == {
        "links": {"related": f"/v1/accounts/{acme.id}/licenses/{made['id']}"},
        "data": {"type": "licenses", "id": made["id"]},
    }

    public = await public_key(client, acme)
    certificate = attributes["certificate"]
    body = certificate.split("\n")[1:-2]
    # Broken into lines of 60 characters, as Ruby's ``Base64.encode64`` breaks them.
    assert all(len(line) == 60 for line in body[:-1])
    assert 0 < len(body[-1]) <= 60
    document = files.read(certificate, "license", public)
    assert document["data"]["type"] == "licenses"
    assert document["data"]["id"] == made["id"]
    assert document["data"]["attributes"]["key"] == made["attributes"]["key"]
    assert document["meta"] == {"issued": attributes["issued"], "expiry": attributes["expiry"], "ttl": MONTH}
    assert "included" not in document

    again = await client.get(f"{acme.base}/licenses/{made['id']}", headers=bearer(acme.key))
    assert again.json()["data"]["attributes"]["lastCheckOut"] == attributes["issued"]
    [event] = await logged(app, client, acme, "license.checked-out")
    assert event["relationships"]["resource"]["data"] == {"type": "licenses", "id": made["id"]}


async def test_get_answers_the_certificate_as_an_attachment(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """ "Admin performs a license checkout with defaults (GET)": the certificate itself,
    ``application/octet-stream``, ``Content-Disposition: attachment; filename="<id>.lic"``;
    a GET check-out is recorded as the POST is."""
    made = await factories.license(client, acme)
    response = await client.get(_url(acme, "license", made["id"]), headers=bearer(acme.key))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == f'attachment; filename="{made["id"]}.lic"'
    document = files.read(response.text, "license", await public_key(client, acme))
    assert document["data"]["id"] == made["id"]
    assert document["meta"]["ttl"] == MONTH
    assert response.headers["keygen-signature"]
    assert len(await logged(app, client, acme, "license.checked-out")) == 1
    again = await client.get(f"{acme.base}/licenses/{made['id']}", headers=bearer(acme.key))
    assert again.json()["data"]["attributes"]["lastCheckOut"] == document["meta"]["issued"]


async def test_encrypted_license_file(client: httpx.AsyncClient, acme: Tenant) -> None:
    """ "Admin performs an encrypted license checkout": AES-256-GCM with SHA-256 of the license
    key, ``ciphertext.iv.tag``; another secret does not open it."""
    made = await factories.license(client, acme)
    key = made["attributes"]["key"]
    public = await public_key(client, acme)
    posted = await _file(client, acme, "license", made["id"], {"encrypt": True})
    assert posted["attributes"]["algorithm"] == "aes-256-gcm+ed25519"
    document = files.read(posted["attributes"]["certificate"], "license", public, key)
    assert document["data"]["id"] == made["id"]
    with pytest.raises(InvalidTag):
        files.decrypt(files.envelope(posted["attributes"]["certificate"], "license")["enc"], key + "x")

    got = await client.get(
        _url(acme, "license", made["id"]), params={"encrypt": "1"}, headers=bearer(acme.key)
    )
    assert files.read(got.text, "license", public, key)["data"]["id"] == made["id"]
    # ``encrypt`` blank or null: not encrypted ("with blank value").
    blank = await client.get(
        _url(acme, "license", made["id"]), params={"encrypt": ""}, headers=bearer(acme.key)
    )
    assert files.envelope(blank.text, "license")["alg"] == "base64+ed25519"
    null = await _file(client, acme, "license", made["id"], {"encrypt": None})
    assert null["attributes"]["algorithm"] == "base64+ed25519"
    # An algorithm given decides, whatever ``encrypt`` says (Keygen's ``algorithm.presence``).
    chosen = await _file(client, acme, "license", made["id"], {"algorithm": "aes-256-gcm+ed25519"})
    assert files.read(chosen["attributes"]["certificate"], "license", public, key)["data"]["id"] == made["id"]


async def test_a_tampered_file_fails_verification(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """The signature covers ``enc`` (and its ``license/`` prefix): a changed dataset, a
    changed signature, a machine file passed for a license file, or another account's key
    do not verify."""
    made = await factories.license(client, acme)
    public = await public_key(client, acme)
    certificate = (await _file(client, acme, "license", made["id"]))["attributes"]["certificate"]
    found = files.envelope(certificate, "license")
    document = json.loads(base64.b64decode(found["enc"]))
    document["meta"]["expiry"] = "2999-01-01T00:00:00.000Z"

    def armour(envelope: dict[str, str], kind: str = "LICENSE") -> str:
        encoded = base64.b64encode(json.dumps(envelope).encode()).decode()
        return f"-----BEGIN {kind} FILE-----\n{encoded}\n-----END {kind} FILE-----\n"

    forged = {**found, "enc": base64.b64encode(json.dumps(document).encode()).decode()}
    with pytest.raises(files.NotGenuine):
        files.verify(armour(forged), "license", public)
    flipped = base64.b64decode(found["sig"])
    resigned = {**found, "sig": base64.b64encode(bytes([flipped[0] ^ 1]) + flipped[1:]).decode()}
    with pytest.raises(files.NotGenuine):
        files.verify(armour(resigned), "license", public)
    with pytest.raises(files.NotGenuine):
        files.verify(armour(found, "MACHINE"), "machine", public)
    other = await factories.tenant(app, "other")
    with pytest.raises(files.NotGenuine):
        files.verify(certificate, "license", await public_key(client, other))
    files.verify(certificate, "license", public)  # the untouched one does


async def test_ttl(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """ "custom TTL", "nil TTL", "empty TTL", "TTL that is too short": seconds of at least
    3600; null (or an empty query value) is a file that never expires; less is 400
    ``CHECKOUT_TTL_INVALID`` naming ``ttl``, and nothing is recorded."""
    made = await factories.license(client, acme)
    public = await public_key(client, acme)
    day = await _file(client, acme, "license", made["id"], {"ttl": 86_400})
    meta = files.read(day["attributes"]["certificate"], "license", public)["meta"]
    assert meta["ttl"] == 86_400
    assert _when(meta["expiry"]) - _when(meta["issued"]) == timedelta(days=1)
    hour = await client.get(
        _url(acme, "license", made["id"]), params={"ttl": "3600"}, headers=bearer(acme.key)
    )
    assert files.read(hour.text, "license", public)["meta"]["ttl"] == 3600
    forever = await _file(client, acme, "license", made["id"], {"ttl": None})
    assert (forever["attributes"]["ttl"], forever["attributes"]["expiry"]) == (None, None)
    meta = files.read(forever["attributes"]["certificate"], "license", public)["meta"]
    assert (meta["ttl"], meta["expiry"]) == (None, None)
    empty = await client.get(_url(acme, "license", made["id"]), params={"ttl": ""}, headers=bearer(acme.key))
    assert files.read(empty.text, "license", public)["meta"]["expiry"] is None
    # ``meta`` wins over the query string.
    both = await _file(client, acme, "license", made["id"], {"ttl": 7200}, params={"ttl": "86400"})
    assert both["attributes"]["ttl"] == 7200
    before = len(await logged(app, client, acme, "license.checked-out"))

    for response in (
        await _post(client, acme, "license", made["id"], {"ttl": 60}),
        await client.get(_url(acme, "license", made["id"]), params={"ttl": "1"}, headers=bearer(acme.key)),
    ):
        error = _refused(
            response, 400, "CHECKOUT_TTL_INVALID", "must be greater than or equal to 3600 (1 hour)"
        )
        assert error["source"] == {"parameter": "ttl"}
        assert error["title"] == "Bad request"
    _refused(
        await _post(client, acme, "license", made["id"], params={"ttl": "soon"}), 400, "PARAMETERS_INVALID"
    )
    assert len(await logged(app, client, acme, "license.checked-out")) == before


async def test_algorithm(client: httpx.AsyncClient, acme: Tenant) -> None:
    """ "invalid encoding algorithm", "invalid signing algorithm" (400
    ``CHECKOUT_ALGORITHM_INVALID`` naming ``algorithm``), "nil algorithm" and "empty
    algorithm" (the default). Accounts here hold an Ed25519 key only: Keygen's RSA and ECDSA
    algorithms are refused as not supported."""
    made = await factories.license(client, acme)
    for algorithm, detail in (
        ("foo+ed25519", "invalid encoding algorithm"),
        ("base64+foo", "invalid signing algorithm"),
        ("base64+rsa-sha256", "signing algorithm is not supported"),
        ("aes-256-gcm+ecdsa-p256", "signing algorithm is not supported"),
    ):
        error = _refused(
            await _post(client, acme, "license", made["id"], {"algorithm": algorithm}),
            400,
            "CHECKOUT_ALGORITHM_INVALID",
            detail,
        )
        assert error["source"] == {"parameter": "algorithm"}
    assert (await _file(client, acme, "license", made["id"], {"algorithm": None}))["attributes"][
        "algorithm"
    ] == "base64+ed25519"
    got = await client.get(
        _url(acme, "license", made["id"]), params={"algorithm": ""}, headers=bearer(acme.key)
    )
    assert files.envelope(got.text, "license")["alg"] == "base64+ed25519"


async def test_includes(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """ "owner include", "user include" (Keygen's older name for owner), "users include",
    "policy include", "product include", "encrypted includes" (query and meta together),
    "empty includes" (nothing included) and "invalid includes" (400
    ``CHECKOUT_INCLUDE_INVALID`` naming ``include``)."""
    owner = await factories.user(app, acme)
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id)
    made = await factories.license(client, acme, policy_id, owner=owner)
    public = await public_key(client, acme)

    def types(data: dict[str, Any], secret: str | None = None) -> list[tuple[str, str]]:
        document = files.read(data["attributes"]["certificate"], "license", public, secret)
        return [(item["type"], item["id"]) for item in document.get("included", [])]

    assert types(await _file(client, acme, "license", made["id"], params={"include": "owner"})) == [
        ("users", str(owner))
    ]
    aliased = await _file(client, acme, "license", made["id"], params={"include": "user"})
    assert aliased["attributes"]["includes"] == ["owner"]
    assert types(aliased) == [("users", str(owner))]
    assert types(await _file(client, acme, "license", made["id"], {"include": ["users"]})) == [
        ("users", str(owner))
    ]
    assert types(await _file(client, acme, "license", made["id"], {"include": ["product"]})) == [
        ("products", product_id)
    ]
    both = await _file(
        client, acme, "license", made["id"], {"encrypt": True}, params={"include": "policy,owner"}
    )
    assert types(both, made["attributes"]["key"]) == [("policies", policy_id), ("users", str(owner))]
    included = files.read(both["attributes"]["certificate"], "license", public, made["attributes"]["key"])[
        "included"
    ]
    assert included[1]["attributes"]["email"].endswith("@acme.test")
    assert types(await _file(client, acme, "license", made["id"], {"include": []})) == []
    got = await client.get(
        _url(acme, "license", made["id"]), params={"include": ""}, headers=bearer(acme.key)
    )
    assert "included" not in files.read(got.text, "license", public)
    for response in (
        await _post(client, acme, "license", made["id"], {"include": ["account"]}),
        await client.get(
            _url(acme, "license", made["id"]), params={"include": "account"}, headers=bearer(acme.key)
        ),
        await _post(client, acme, "license", made["id"], params={"include": "license"}),
    ):
        error = _refused(response, 400, "CHECKOUT_INCLUDE_INVALID", "invalid includes")
        assert error["source"] == {"parameter": "include"}


async def test_by_key_and_refusals(client: httpx.AsyncClient, acme: Tenant) -> None:
    """ "license checkout by key"; an unknown license is 404, no credential 401, an unknown
    query parameter or body member 400."""
    made = await factories.license(client, acme, key="0092E3-41347C-7EB2AD-65965A-0C3224-V3")
    by_key = await _file(client, acme, "license", "0092E3-41347C-7EB2AD-65965A-0C3224-V3")
    assert by_key["relationships"]["license"]["data"]["id"] == made["id"]
    _refused(await _post(client, acme, "license", "nope"), 404, "NOT_FOUND")
    anonymous = await client.post(_url(acme, "license", made["id"]))
    assert anonymous.status_code == 401
    _refused(
        await _post(client, acme, "license", made["id"], params={"expiry": "1"}), 400, "PARAMETERS_INVALID"
    )
    unknown = await client.post(
        _url(acme, "license", made["id"]), json={"meta": {"ttl": 3600, "x": 1}}, headers=bearer(acme.key)
    )
    assert unknown.status_code == 400, unknown.text
    text = await client.post(
        _url(acme, "license", made["id"]), json={"meta": {"encrypt": "yes"}}, headers=bearer(acme.key)
    )
    assert text.status_code == 400, text.text


# -- who may check out -------------------------------------------------------------------------


async def test_who_may_check_out_a_license(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """``license_policy.rb#check_out?``: staff but read-only, the license's product, the
    license itself, its owner unless it is protected; another product's or user's license
    is 404 ("Product performs a checkout for a license of another product", "User performs a
    license checkout for a license they don't own")."""
    product_id = await factories.product(client, acme)
    policy_id = await factories.policy(client, acme, product_id, authenticationStrategy="LICENSE")
    owner = await factories.user(app, acme, email="owner@acme.test")
    made = await factories.license(client, acme, policy_id, owner=owner)
    for role in ("developer", "sales-agent", "support-agent"):
        _, key = await factories.role_key(app, client, acme, role)
        await _file(client, acme, "license", made["id"], headers=bearer(key))
    _, read_only = await factories.role_key(app, client, acme, "read-only")
    _refused(
        await _post(client, acme, "license", made["id"], headers=bearer(read_only)), 403, "INSUFFICIENT_SCOPE"
    )

    own_product = await factories.product_token(client, acme, product_id)
    await _file(client, acme, "license", made["id"], headers=bearer(own_product))
    other_product = await factories.product_token(client, acme, await factories.product(client, acme))
    _refused(
        await _post(client, acme, "license", made["id"], headers=bearer(other_product)), 404, "NOT_FOUND"
    )

    itself = license_auth(made["attributes"]["key"])
    await _file(client, acme, "license", made["id"], headers=itself)
    other = await factories.license(client, acme, policy_id)
    _refused(await _post(client, acme, "license", other["id"], headers=itself), 404, "NOT_FOUND")

    token = (await factories.token(client, acme, "owner@acme.test"))["attributes"]["token"]
    await _file(client, acme, "license", made["id"], headers=bearer(token))
    _refused(await _post(client, acme, "license", other["id"], headers=bearer(token)), 404, "NOT_FOUND")
    guarded = await factories.license(client, acme, policy_id, owner=owner, protected=True)
    _refused(await _post(client, acme, "license", guarded["id"], headers=bearer(token)), 403, "ACCESS_DENIED")


async def test_from_first_download_does_not_start_at_a_check_out(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    """Keygen starts a ``FROM_FIRST_DOWNLOAD`` license's clock on ``artifact.downloaded``,
    ``release.downloaded`` and ``release.upgraded`` (``app/models/license.rb``,
    ``set_expiry_on_first_download!``), never on a check-out: the license keeps no expiry."""
    made = await factories.license(
        client, acme, policy={"duration": 86_400 * 30, "expirationBasis": "FROM_FIRST_DOWNLOAD"}
    )
    assert made["attributes"]["expiry"] is None
    await _file(client, acme, "license", made["id"])
    again = await client.get(f"{acme.base}/licenses/{made['id']}", headers=bearer(acme.key))
    assert again.json()["data"]["attributes"]["expiry"] is None


# -- machine files -----------------------------------------------------------------------------


async def test_machine_file(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """ "Admin performs a machine checkout with defaults" and "encrypted machine checkout":
    a ``machine-files`` document signed over ``machine/<enc>``, encrypted with SHA-256 of the
    license key followed by the fingerprint; ``lastCheckOut`` on the machine and
    ``machine.checked-out`` recorded; "by fingerprint"."""
    made = await factories.license(client, acme)
    key = made["attributes"]["key"]
    machine = await factories.machine(client, acme, made["id"], "fp-checkout")
    public = await public_key(client, acme)
    plain = await _file(client, acme, "machine", machine["id"])
    assert plain["type"] == "machine-files"
    assert plain["relationships"]["machine"]["data"] == {"type": "machines", "id": machine["id"]}
    assert plain["relationships"]["license"]["data"] == {"type": "licenses", "id": made["id"]}
    document = files.read(plain["attributes"]["certificate"], "machine", public)
    assert document["data"]["type"] == "machines"
    assert document["data"]["id"] == machine["id"]
    assert document["meta"]["ttl"] == MONTH
    with pytest.raises(files.NotGenuine):  # a machine file is no license file
        files.verify(plain["attributes"]["certificate"].replace("MACHINE", "LICENSE"), "license", public)

    sealed = await _file(client, acme, "machine", "fp-checkout", {"encrypt": True})
    assert (
        files.read(sealed["attributes"]["certificate"], "machine", public, key + "fp-checkout")["data"]["id"]
        == machine["id"]
    )
    with pytest.raises(InvalidTag):
        files.decrypt(files.envelope(sealed["attributes"]["certificate"], "machine")["enc"], key)

    got = await client.get(_url(acme, "machine", machine["id"]), headers=bearer(acme.key))
    assert got.headers["content-disposition"] == f'attachment; filename="{machine["id"]}.lic"'
    assert files.read(got.text, "machine", public)["data"]["id"] == machine["id"]
    again = await client.get(f"{acme.base}/machines/{machine['id']}", headers=bearer(acme.key))
    assert _when(again.json()["data"]["attributes"]["lastCheckOut"]) >= _when(plain["attributes"]["issued"])
    events = await logged(app, client, acme, "machine.checked-out")
    assert len(events) == 3
    assert events[0]["relationships"]["resource"]["data"]["id"] == machine["id"]


async def test_machine_file_includes(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """ "license include", "owner include", "license owner include", "license user include"
    (older name), "policy include" (``license.policy`` brings the license too), "invalid
    includes"."""
    owner = await factories.user(app, acme)
    policy_id = await factories.policy(client, acme)
    made = await factories.license(client, acme, policy_id, owner=owner)
    machine = await factories.machine(client, acme, made["id"])
    public = await public_key(client, acme)

    async def included(include: str) -> list[tuple[str, str]]:
        data = await _file(client, acme, "machine", machine["id"], params={"include": include})
        document = files.read(data["attributes"]["certificate"], "machine", public)
        return [(item["type"], item["id"]) for item in document.get("included", [])]

    license_ref = ("licenses", made["id"])
    assert await included("license") == [license_ref]
    # The machine's own owner (which may differ from its license's).
    machine_owner = machine["relationships"]["owner"]["data"]
    assert await included("owner") == ([] if machine_owner is None else [("users", machine_owner["id"])])
    assert await included("license.owner") == [license_ref, ("users", str(owner))]
    assert await included("license.user") == [license_ref, ("users", str(owner))]
    assert await included("license.policy") == [license_ref, ("policies", policy_id)]
    assert await included("license,license.policy,license.owner") == [
        license_ref,
        ("policies", policy_id),
        ("users", str(owner)),
    ]
    _refused(
        await _post(client, acme, "machine", machine["id"], params={"include": "policy"}),
        400,
        "CHECKOUT_INCLUDE_INVALID",
    )


async def test_who_may_check_out_a_machine(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> None:
    """``machine_policy.rb#check_out?``: the license a machine is activated on may check it
    out ("License performs a machine checkout"), so may its owner ("User performs a machine
    checkout for their machine"), a support agent, not a read-only user; another license's
    machine is 404."""
    policy_id = await factories.policy(client, acme, authenticationStrategy="LICENSE")
    owner = await factories.user(app, acme, email="owner@acme.test")
    made = await factories.license(client, acme, policy_id, owner=owner)
    machine = await factories.machine(client, acme, made["id"])
    await _file(client, acme, "machine", machine["id"], headers=license_auth(made["attributes"]["key"]))
    token = (await factories.token(client, acme, "owner@acme.test"))["attributes"]["token"]
    await _file(client, acme, "machine", machine["id"], headers=bearer(token))
    _, support = await factories.role_key(app, client, acme, "support-agent")
    await _file(client, acme, "machine", machine["id"], headers=bearer(support))
    _, read_only = await factories.role_key(app, client, acme, "read-only")
    _refused(
        await _post(client, acme, "machine", machine["id"], headers=bearer(read_only)),
        403,
        "INSUFFICIENT_SCOPE",
    )
    other = await factories.license(client, acme, policy_id)
    _refused(
        await _post(client, acme, "machine", machine["id"], headers=license_auth(other["attributes"]["key"])),
        404,
        "NOT_FOUND",
    )


def test_the_certificate_armour_is_keygens() -> None:
    """``-----BEGIN LICENSE FILE-----\\n`` ... ``-----END LICENSE FILE-----\\n`` (the model's
    ``validates_format_of :certificate``)."""
    from keyplane.accounts.signing import Signer
    from keyplane.checkouts.certificate import Algorithm, Encoding, FileKind, certificate

    made = certificate(
        FileKind.LICENSE, {"data": None}, Algorithm(Encoding.BASE64, "ed25519"), Signer.generate(), b""
    )
    assert re.fullmatch(
        r"-----BEGIN LICENSE FILE-----\n[A-Za-z0-9+/=\n]+\n-----END LICENSE FILE-----\n", made
    )


async def test_group_include(client: httpx.AsyncClient, acme: Tenant) -> None:
    """Keygen (app/services/license_checkout_service.rb, machine_checkout_service.rb:
    ``group`` and ``license.group`` among ALLOWED_INCLUDES): a file embeds the license's or the
    machine's group; a license without one embeds nothing."""
    made = await client.post(
        f"{acme.base}/groups",
        json={"data": {"type": "groups", "attributes": {"name": "ACME Corp"}}},
        headers=bearer(acme.key),
    )
    assert made.status_code == 201, made.text
    group_id = made.json()["data"]["id"]
    policy_id = await factories.policy(client, acme)
    grouped = await factories.license(client, acme, policy_id)
    joined = await client.put(
        f"{acme.base}/licenses/{grouped['id']}/group",
        json={"data": {"type": "groups", "id": group_id}},
        headers=bearer(acme.key),
    )
    assert joined.status_code == 200, joined.text
    machine = await factories.machine(client, acme, grouped["id"])  # joins its license's group
    alone = await factories.license(client, acme, policy_id)
    public = await public_key(client, acme)

    async def included(kind: str, id_: str, include: str) -> list[tuple[str, str]]:
        data = await _file(client, acme, kind, id_, params={"include": include})
        document = files.read(data["attributes"]["certificate"], kind, public)
        return [(item["type"], item["id"]) for item in document.get("included", [])]

    assert await included("license", grouped["id"], "group") == [("groups", group_id)]
    assert await included("license", alone["id"], "group") == []
    assert await included("machine", machine["id"], "group") == [("groups", group_id)]
