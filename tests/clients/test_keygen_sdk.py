"""keygen-sdk (``import keygen``), Keygen's Python SDK, against a live Keyplane, configured as
its documentation says, with the account's public key pinned: every answer it accepts (2xx
and 4xx alike) had a signature it verified.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import keygen
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from keygen._config import Settings
from keygen.errors import (
    LicenseFileError,
    LicenseFileNotGenuineError,
    LicenseKeyNotGenuineError,
    LicenseNotActivatedError,
    MachineAlreadyActivatedError,
    MachineFileError,
    MachineFileNotGenuineError,
    MachineLimitExceededError,
    NotFoundError,
    RequestSignatureInvalidError,
    ResponseDigestMissingError,
    ResponseSignatureInvalidError,
)

from tests.clients.support import LiveAccount

pytestmark = pytest.mark.xdist_group("clients")
"""One worker runs these tests (``make test`` distributes by group): the live server of
``conftest.live_account`` starts once per module and database, not once per worker."""


def _configure(**values: Any) -> None:
    """Module-level configuration, the SDK's documented way (``keygen.api_url = ...``)."""
    for name, value in values.items():
        assert name in Settings.FIELDS, name
        setattr(keygen, name, value)


@pytest.fixture
def sdk(live_account: LiveAccount) -> Iterator[LiveAccount]:
    """The SDK pointed at the live server; its module configuration reset afterwards."""
    session = requests.Session()
    _configure(
        api_url=live_account.base,
        account=live_account.id,
        public_key=live_account.public_key,
        http_client=session,
    )
    try:
        yield live_account
    finally:
        for name in Settings.FIELDS:
            if name != "http_client":
                delattr(keygen, name)  # the SDK's reset: back to the default
        _configure(http_client=None)
        session.close()


def _other_public_key() -> str:
    return (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        .hex()
    )


def test_the_license_flow(sdk: LiveAccount) -> None:
    product = sdk.product()
    policy = sdk.policy(product, strict=True, floating=True, maxMachines=2)
    license_id, key = sdk.license(policy)
    _configure(product=product, license_key=key)

    # A strict floating license without machines: not activated.
    with pytest.raises(LicenseNotActivatedError) as refused:
        keygen.validate("fp-1")
    assert refused.value.result is not None
    assert refused.value.result.code == "NO_MACHINES"
    license = refused.value.license
    assert license is not None
    assert license.id == license_id
    assert license.key == key
    assert license.policy_id == policy

    first = license.activate("fp-1")
    assert first.fingerprint == "fp-1"
    assert first.license_id == license_id
    assert first.require_heartbeat is False
    assert first.heartbeat_status == keygen.HeartbeatStatus.NOT_STARTED
    with pytest.raises(MachineAlreadyActivatedError):
        license.activate("fp-1")

    validated = keygen.validate("fp-1")
    assert validated.id == license_id
    assert validated.last_validation is not None
    assert validated.last_validation.valid is True
    assert validated.last_validation.code == "VALID"
    assert validated.last_validation.scope is not None
    assert validated.last_validation.scope.fingerprint == "fp-1"
    assert validated.last_validated is not None

    second = license.activate("fp-2")
    with pytest.raises(MachineLimitExceededError):
        license.activate("fp-3")
    assert sorted(machine.fingerprint for machine in license.machines()) == ["fp-1", "fp-2"]
    assert license.machine(second.id).fingerprint == "fp-2"

    first.deactivate()
    with pytest.raises(LicenseNotActivatedError) as gone:
        keygen.validate("fp-1")
    assert gone.value.result is not None
    assert gone.value.result.code == "FINGERPRINT_SCOPE_MISMATCH"
    third = license.activate("fp-3")  # the freed seat
    license.deactivate(third.id)
    with pytest.raises(NotFoundError):
        license.machine(third.id)
    assert [machine.fingerprint for machine in license.machines()] == ["fp-2"]


def test_a_signed_key_verifies_offline(sdk: LiveAccount) -> None:
    product = sdk.product()
    policy = sdk.policy(product, scheme="ED25519_SIGN")
    license_id, key = sdk.license(policy)
    _configure(product=product, license_key=key)

    license = keygen.validate()
    assert license.scheme == keygen.SchemeCode.ED25519
    dataset = json.loads(license.verify())
    assert dataset["account"]["id"] == sdk.id
    assert dataset["product"]["id"] == product
    assert dataset["policy"]["id"] == policy
    assert dataset["license"]["id"] == license_id

    # Offline, with the key and the public key alone.
    verifier = keygen.Verifier(sdk.public_key)
    assert json.loads(verifier.verify_license_key("ED25519_SIGN", key)) == dataset
    with pytest.raises(LicenseKeyNotGenuineError):
        keygen.Verifier(_other_public_key()).verify_license_key("ED25519_SIGN", key)
    data, _, signature = key.partition(".")
    with pytest.raises(LicenseKeyNotGenuineError):
        verifier.verify_license_key("ED25519_SIGN", f"{data}.{signature[::-1]}")


def test_a_license_lists_its_entitlements(sdk: LiveAccount) -> None:
    """``License.entitlements()``: the license's own and its policy's (Keygen's
    ``License#entitlements``), read with the license key, signed answers verified; and the
    license file ``License.checkout()`` makes embeds them (``include=entitlements``)."""
    product = sdk.product()
    policy = sdk.policy(product)
    license_id, key = sdk.license(policy)
    _, other_key = sdk.license(policy)
    basic = sdk.entitlement("BASIC", metadata={"seats": 5})
    pro = sdk.entitlement("PRO")
    sdk.entitlement("TEAM")
    sdk.attach(f"policies/{policy}", basic)
    sdk.attach(f"licenses/{license_id}", pro)
    _configure(product=product, license_key=key)

    license = keygen.validate()
    entitlements = sorted(license.entitlements(), key=lambda e: e.code)
    assert [(e.id, e.code, e.name) for e in entitlements] == [(basic, "BASIC", "Basic"), (pro, "PRO", "Pro")]
    assert entitlements[0].metadata == {"seats": 5}
    assert entitlements[0].created is not None
    # Offline: a license file carries them (``checkout`` includes entitlements by default).
    dataset = license.checkout().decrypt(key)
    assert sorted(e.code for e in dataset.entitlements) == ["BASIC", "PRO"]
    # Another license of the policy has the policy's alone.
    _configure(product=product, license_key=other_key)
    assert [e.code for e in keygen.validate().entitlements()] == ["BASIC"]


def test_license_and_machine_files_verify_and_decrypt_offline(sdk: LiveAccount) -> None:
    """Offline licensing as the SDK does it: ``License.checkout`` (encrypted, with its default
    ``entitlements`` include) and ``Machine.checkout`` (``license`` and
    ``license.entitlements``), each file verified with the account's public key alone and
    decrypted with the license key (and the fingerprint, for a machine file); a file signed
    by another key, a changed one, or the wrong secret is refused."""
    product = sdk.product()
    license_id, key = sdk.license(sdk.policy(product, floating=True, maxMachines=2))
    _configure(product=product, license_key=key)
    license = keygen.me()

    license_file = license.checkout()
    assert license_file.license_id == license_id
    assert license_file.ttl == 2_629_746
    license_file.verify(sdk.public_key)
    dataset = license_file.decrypt(key)
    assert dataset.license.id == license_id
    assert dataset.license.key == key
    assert dataset.entitlements == []
    assert dataset.ttl == 2_629_746
    assert dataset.expiry == license_file.expiry
    with pytest.raises(LicenseFileNotGenuineError):
        license_file.verify(_other_public_key())
    with pytest.raises(LicenseFileError):
        license_file.decrypt(key + "-not-it")
    plain = license.checkout(encrypt=False, ttl=3600, include=("product",))
    plain.verify(sdk.public_key)
    assert plain.decode().ttl == 3600
    body = plain.certificate.splitlines()
    altered = keygen.LicenseFile(certificate="\n".join([body[0], body[1][:-4] + "AAAA", *body[2:]]) + "\n")
    with pytest.raises(LicenseFileError):  # not genuine, or no longer decodable
        altered.verify(sdk.public_key)

    machine = license.activate("fp-offline")
    machine_file = machine.checkout()
    assert machine_file.machine_id == machine.id
    machine_file.verify(sdk.public_key)
    offline = machine_file.decrypt(key + "fp-offline")
    assert offline.machine.fingerprint == "fp-offline"
    assert offline.license.id == license_id
    with pytest.raises(MachineFileError):
        machine_file.decrypt(key)
    with pytest.raises(MachineFileNotGenuineError):
        machine_file.verify(_other_public_key())


def test_answers_signed_by_another_key_are_refused(sdk: LiveAccount) -> None:
    product = sdk.product()
    _, key = sdk.license(sdk.policy(product))
    _configure(product=product, license_key=key, public_key=_other_public_key())
    with pytest.raises(ResponseSignatureInvalidError):
        keygen.me()


def test_account_scoped_urls_are_signed_too(sdk: LiveAccount) -> None:
    """``api_prefix`` keeps the account segment in every path, so in every signed target."""
    product = sdk.product()
    license_id, key = sdk.license(sdk.policy(product))
    for account in (sdk.id, sdk.slug):
        _configure(product=product, license_key=key, api_prefix=f"v1/accounts/{account}")
        assert keygen.Client().url("me") == f"{sdk.base}/v1/accounts/{account}/me"
        license = keygen.validate()
        assert license.id == license_id
        assert license.last_validation is not None
        assert license.last_validation.code == "VALID"
    # An account that does not exist has no key: its 404 is unsigned (as Keygen's is), which
    # a client that pins a key refuses.
    _configure(api_prefix=f"v1/accounts/{uuid.uuid4()}")
    with pytest.raises(ResponseDigestMissingError) as unknown:
        keygen.me()
    assert unknown.value.response is not None
    assert unknown.value.response.status == 404


def test_live_answers_carry_one_date_and_sign_the_host_with_its_port(sdk: LiveAccount) -> None:
    """What the SDK relies on, on the wire: uvicorn adds no second ``Date``, and the signed
    host is ``127.0.0.1:<port>`` as the SDK sent it (Keygen would drop the port)."""
    admin = {"Authorization": f"Bearer {sdk.api_key}"}
    foreign = f'keyid="{uuid.uuid4()}", algorithm="ed25519"'
    cases: list[tuple[str, str, dict[str, str], int]] = [
        ("GET", "/v1/products?limit=5", admin, 200),
        ("POST", "/v1/products", admin, 400),
        ("GET", "/v1/products", {}, 401),
        ("GET", "/v1/products", {"Keygen-Accept-Signature": foreign}, 400),
        ("GET", "/v1/products", {"Keygen-Accept-Signature": 'algorithm="rsa-sha256"'}, 400),
        ("GET", f"/v1/accounts/{sdk.id}", admin, 200),
        ("GET", f"/v1/accounts/{uuid.uuid4()}/products", admin, 404),
    ]
    verifier = keygen.Verifier(sdk.public_key)
    for method, target, headers, status in cases:
        response = httpx.request(method, f"{sdk.base}{target}", headers=headers)
        assert response.status_code == status, (target, response.text)
        assert len(response.headers.get_list("date")) == 1, (target, response.headers)
        if "keygen-signature" not in response.headers:
            # Only what has no signature of the kind asked for, or no account to sign with.
            assert "rsa-sha256" in headers.get("Keygen-Accept-Signature", "") or status == 404
            continue
        assert response.headers["date"] == response.headers["keygen-date"]
        verifier.verify_request(
            method=method,
            url=f"{sdk.base}{target}",
            headers=dict(response.headers),
            body=response.content,
        )
        with pytest.raises(RequestSignatureInvalidError):
            verifier.verify_request(
                method=method,
                url=f"http://127.0.0.1{target}",
                headers=dict(response.headers),
                body=response.content,
            )
