"""keygen-py (``import keygen_sh``, a Rust extension over keygen-rs) against a live Keyplane,
with the account's public key pinned and ``verify_keygen_signature`` on: every 2xx answer it
accepts had a signature it verified. Its parsing is strict (``meta.scope`` an object, licenses
with ``metadata``, machines with ``requireHeartbeat`` and ``heartbeatStatus``...): a missing
field would surface as an error here.

The package ships ``.pyi`` stubs without a ``py.typed`` marker, so mypy sees it as untyped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import keygen_sh  # type: ignore[import-untyped]  # stubs without py.typed
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from keygen_sh import errors
from keygen_sh._errors import KeygenError  # type: ignore[import-untyped]
from keygen_sh.config import KeygenConfig, set_config  # type: ignore[import-untyped]
from keygen_sh.license import License, SchemeCode  # type: ignore[import-untyped]
from keygen_sh.license_file import LicenseFile  # type: ignore[import-untyped]

from tests.clients.support import LiveAccount

pytestmark = pytest.mark.xdist_group("clients")
"""One worker runs these tests (``make test`` distributes by group): the live server of
``conftest.live_account`` starts once per module and database, not once per worker."""


def _configure(account: LiveAccount, **values: Any) -> None:
    set_config(
        KeygenConfig(
            **{
                "api_url": account.base,
                "api_version": "1.7",
                "api_prefix": "v1",
                "account": account.id,
                "product": "",
                "public_key": account.public_key,
                "verify_keygen_signature": True,
                "max_clock_drift": 5,
                **values,
            }
        )
    )


@pytest.fixture
def configured(live_account: LiveAccount) -> Iterator[LiveAccount]:
    """keygen-py's global configuration pointed at the live server; unset afterwards."""
    _configure(live_account)
    yield live_account
    set_config(
        KeygenConfig(
            api_url="https://api.keygen.sh", api_version="1.7", api_prefix="v1", account="", product=""
        )
    )


def _error(error: Any) -> Any:
    """keygen-py raises one exception type carrying JSON; its package maps it to a class."""
    assert isinstance(error, KeygenError)
    return errors.Error.from_error(error)


def _other_public_key() -> str:
    return (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        .hex()
    )


async def test_the_license_flow(configured: LiveAccount) -> None:
    product = configured.product()
    policy = configured.policy(product, strict=True, floating=True, maxMachines=2)
    license_id, key = configured.license(policy)
    _configure(configured, product=product, license_key=key)

    # A strict floating license without machines: not activated.
    with pytest.raises(KeygenError) as refused:
        await keygen_sh.validate(["fp-1"])
    not_activated = _error(refused.value)
    assert isinstance(not_activated, errors.LicenseNotActivated)
    assert not_activated.code == "NO_MACHINES"
    assert not_activated.license["id"] == license_id
    assert not_activated.license["key"] == key
    assert not_activated.license["policy"] == policy
    assert not_activated.license["metadata"] == {}

    first = await License.activate_machine(license_id, "fp-1")
    assert first.fingerprint == "fp-1"
    assert first.require_heartbeat is False
    assert first.heartbeat_status == "NOT_STARTED"
    with pytest.raises(KeygenError) as taken:
        await License.activate_machine(license_id, "fp-1")
    assert isinstance(_error(taken.value), errors.MachineAlreadyActivated)

    license = await keygen_sh.validate(["fp-1"])
    assert license.id == license_id
    assert license.key == key
    assert license.policy == policy
    assert license.status == "ACTIVE"
    assert (await license.validate(["fp-1"])).id == license_id  # by id, not key

    second = await license.activate("fp-2", [])
    with pytest.raises(KeygenError) as limit:
        await license.activate("fp-3", [])
    exceeded = _error(limit.value)
    assert isinstance(exceeded, errors.MachineLimitExceeded)
    assert exceeded.code == "MACHINE_LIMIT_EXCEEDED"
    assert sorted(machine.fingerprint for machine in await license.machines()) == ["fp-1", "fp-2"]
    assert (await license.machine(second.id)).fingerprint == "fp-2"

    await first.deactivate()
    with pytest.raises(KeygenError) as gone:
        await keygen_sh.validate(["fp-1"])
    mismatch = _error(gone.value)
    assert isinstance(mismatch, errors.LicenseNotActivated)
    assert mismatch.code == "FINGERPRINT_SCOPE_MISMATCH"
    third = await license.activate("fp-3", [])  # the freed seat
    await license.deactivate(third.id)
    assert [machine.fingerprint for machine in await license.machines()] == ["fp-2"]


async def test_a_signed_key_verifies_offline(configured: LiveAccount) -> None:
    product = configured.product()
    policy = configured.policy(product, scheme="ED25519_SIGN")
    license_id, key = configured.license(policy)
    _configure(configured, product=product, license_key=key)

    license = await keygen_sh.validate()
    assert license.id == license_id
    assert license.key == key

    dataset = json.loads(keygen_sh.verify(SchemeCode.Ed25519Sign, key))
    assert dataset["account"]["id"] == configured.id
    assert dataset["product"]["id"] == product
    assert dataset["policy"]["id"] == policy
    assert dataset["license"]["id"] == license_id

    # keygen-rs never reads ``scheme`` from the API (License::from sets it to None), so a
    # fetched license's own verify() says "not signed" whatever the server sends.
    with pytest.raises(KeygenError) as unsigned:
        license.verify()
    assert isinstance(_error(unsigned.value), errors.LicenseNotSigned)

    _configure(configured, product=product, license_key=key, public_key=_other_public_key())
    with pytest.raises(KeygenError) as forged:
        keygen_sh.verify(SchemeCode.Ed25519Sign, key)
    assert isinstance(_error(forged.value), errors.LicenseKeyNotGenuine)


async def test_validation_with_entitlements(configured: LiveAccount) -> None:
    """keygen-py's ``validate(fingerprints, entitlements)`` sends ``scope.entitlements``: the
    license's own and its policy's pass, one it lacks is ENTITLEMENTS_MISSING
    (license_validation_service.rb); ``License.entitlements()`` lists them (keygen-rs reads
    ``GET /licenses/{id}/entitlements``)."""
    product = configured.product()
    policy = configured.policy(product)
    license_id, key = configured.license(policy)
    basic = configured.entitlement("BASIC")
    pro = configured.entitlement("PRO")
    configured.entitlement("TEAM")
    configured.attach(f"policies/{policy}", basic)
    configured.attach(f"licenses/{license_id}", pro)
    _configure(configured, product=product, license_key=key)

    license = await keygen_sh.validate(None, ["BASIC", "PRO"])
    assert license.id == license_id
    with pytest.raises(KeygenError) as missing:
        await keygen_sh.validate(None, ["BASIC", "TEAM"])
    refused = _error(missing.value)
    assert isinstance(refused, errors.LicenseKeyInvalid)  # keygen-rs's error for other codes
    assert refused.code == "ENTITLEMENTS_MISSING"
    assert refused.detail == "is missing one or more required entitlements"
    # keygen-rs parses each (its EntitlementAttributes: a shape it did not expect would be an
    # error here); its Python binding exposes none of their fields, so only the count shows.
    assert len(await license.entitlements()) == 2


async def test_machine_and_license_files_verify_and_decrypt_offline(configured: LiveAccount) -> None:
    """keygen-rs's offline licensing: ``Machine.checkout`` (encrypted, ``license.entitlements``
    included, which brings the license), verified with the pinned public key and decrypted
    with the license key followed by the fingerprint; a license file from ``POST
    /licenses/{id}/actions/check-out`` read by ``LicenseFile.build_from_cert`` with the
    license key. Another public key, or the wrong secret, is refused."""
    product = configured.product()
    license_id, key = configured.license(configured.policy(product, floating=True, maxMachines=2))
    _configure(configured, product=product, license_key=key)
    machine = await License.activate_machine(license_id, "fp-offline")

    machine_file = await machine.checkout(None, None)
    assert machine_file.ttl == 2_629_746
    machine_file.verify()
    dataset = machine_file.decrypt(key + "fp-offline")
    assert dataset.machine.id == machine.id
    assert dataset.machine.fingerprint == "fp-offline"
    assert dataset.license.id == license_id
    assert dataset.license.key == key
    with pytest.raises(KeygenError):
        machine_file.decrypt(key)

    answer = configured.admin("POST", f"licenses/{license_id}/actions/check-out", {"meta": {"encrypt": True}})
    assert answer.status_code == 200, answer.text
    certificate = answer.json()["data"]["attributes"]["certificate"]
    license_file = LicenseFile.build_from_cert(key, certificate)
    license_file.verify()
    assert license_file.decrypt(key).license.id == license_id
    with pytest.raises(KeygenError):
        LicenseFile.build_from_cert(key + "x", certificate)

    _configure(configured, product=product, license_key=key, public_key=_other_public_key())
    with pytest.raises(KeygenError):
        machine_file.verify()
    with pytest.raises(KeygenError):
        license_file.verify()


async def test_answers_signed_by_another_key_are_refused(configured: LiveAccount) -> None:
    product = configured.product()
    _, key = configured.license(configured.policy(product))
    _configure(configured, product=product, license_key=key, public_key=_other_public_key())
    with pytest.raises(KeygenError):  # keygen-rs reports a bad signature as "Unknown error"
        await keygen_sh.validate()
    # The same call with the check off succeeds: it was the signature that failed.
    _configure(
        configured,
        product=product,
        license_key=key,
        public_key=_other_public_key(),
        verify_keygen_signature=False,
    )
    assert (await keygen_sh.validate()).key == key


async def test_account_scoped_urls_are_signed_too(configured: LiveAccount) -> None:
    product = configured.product()
    license_id, key = configured.license(configured.policy(product))
    _configure(
        configured,
        product=product,
        license_key=key,
        api_url=f"{configured.base}/v1/accounts",
        api_prefix=configured.slug,
    )
    assert (await keygen_sh.validate()).id == license_id
