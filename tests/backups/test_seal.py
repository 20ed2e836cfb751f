"""The passphrase seal of a backup's server secret: only the passphrase, and only the
manifest it was sealed with, open it; a manifest cannot make a restore spend unbounded work."""

from __future__ import annotations

from typing import Any

import pytest

from keyplane.backups.seal import Sealed, passphrase_refusal, seal, unseal

SECRET = b"server secret " + b"s" * 40
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def sealed() -> Sealed:
    return seal(SECRET, PASSPHRASE, b"manifest")


def test_the_passphrase_and_the_manifest_open_it(sealed: Sealed) -> None:
    assert unseal(Sealed.from_json(sealed.to_json()), PASSPHRASE, b"manifest") == SECRET
    assert SECRET not in sealed.ciphertext


@pytest.mark.parametrize(
    ("passphrase", "context"),
    [("correct horse battery stapler", b"manifest"), (PASSPHRASE, b"manifest, altered")],
)
def test_another_passphrase_or_manifest_opens_nothing(
    sealed: Sealed, passphrase: str, context: bytes
) -> None:
    assert unseal(sealed, passphrase, context) is None


@pytest.mark.parametrize(
    "change",
    [
        {"n": 2**21},  # past the bound: a crafted file must not cost gigabytes
        {"n": 3000},  # not a power of two
        {"r": 0},
        {"p": "1"},
        {"kdf": "pbkdf2"},
        {"cipher": "aes-128-cbc"},
        {"nonce": "AAAA"},
        {"salt": "not base64!"},
    ],
)
def test_a_malformed_seal_is_refused(sealed: Sealed, change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any malformed field, one error type
        Sealed.from_json(sealed.to_json() | change)


@pytest.mark.parametrize(
    ("passphrase", "refused"),
    [("", True), ("eleven char", True), ("twelve chars", False), (PASSPHRASE, False)],
)
def test_passphrase_length(passphrase: str, refused: bool) -> None:
    assert (passphrase_refusal(passphrase) is not None) is refused
