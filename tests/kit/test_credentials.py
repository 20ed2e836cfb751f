"""The credential format, as a scanner, a client or the server sees it. No database."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from keyplane.kit.credentials import (
    ALPHABET,
    CREDENTIAL_PATTERN,
    START_LENGTH,
    CredentialHasher,
    CredentialKind,
    generate,
    parse,
)

BRANDS = {CredentialKind.API_KEY: "kp", CredentialKind.TOKEN: "kpt", CredentialKind.ACCESS_TOKEN: "kpa"}
BODY = re.compile(r"[0-9A-Za-z]{61}")


@pytest.mark.parametrize("kind", list(CredentialKind))
def test_generate_gives_brand_and_61_base62_characters(kind: CredentialKind) -> None:
    plaintext, parsed = generate(kind)
    brand, _, body = plaintext.partition("_")
    assert brand == BRANDS[kind] == kind.brand
    assert BODY.fullmatch(body), plaintext
    assert len(plaintext) == len(brand) + 1 + 61
    assert CREDENTIAL_PATTERN.fullmatch(plaintext)
    assert parsed.kind is kind


@pytest.mark.parametrize("kind", list(CredentialKind))
def test_parse_round_trips_kind_lookup_and_start(kind: CredentialKind) -> None:
    plaintext, made = generate(kind)
    parsed = parse(plaintext)
    assert parsed == made
    assert parsed.kind is kind
    assert parsed.lookup == plaintext.partition("_")[2][:12]
    assert len(parsed.lookup) == 12


def test_every_single_character_change_is_rejected() -> None:
    plaintext, _ = generate(CredentialKind.API_KEY)
    assert parse(plaintext) is not None
    tried = 0
    for position, original in enumerate(plaintext):
        for replacement in ALPHABET + "_":
            if replacement == original:
                continue
            changed = plaintext[:position] + replacement + plaintext[position + 1 :]
            assert parse(changed) is None, (position, replacement)
            tried += 1
    assert tried == len(plaintext) * 62


def test_swapping_two_neighbours_is_rejected() -> None:
    plaintext, _ = generate(CredentialKind.TOKEN)
    for position in range(4, len(plaintext) - 1):
        a, b = plaintext[position], plaintext[position + 1]
        if a == b:
            continue
        swapped = plaintext[:position] + b + a + plaintext[position + 2 :]
        assert parse(swapped) is None, position


def test_rebranding_a_credential_is_rejected() -> None:
    plaintext, _ = generate(CredentialKind.API_KEY)
    body = plaintext.partition("_")[2]
    for brand in ("kpt", "kpa"):
        assert parse(f"{brand}_{body}") is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "kp_",
        "kp",
        "kp_" + "A" * 60,
        "kp_" + "A" * 62,
        "kx_" + "A" * 61,
        "KP_" + "A" * 61,
        "sk_" + "A" * 61,
        "kp-" + "A" * 61,
        "kp_" + "A" * 60 + "-",
        "kp_" + "A" * 60 + "é",
        "kp_" + "A" * 60 + " ",
        " kp_" + "A" * 61,
        "kp_" + "A" * 61 + "\n",
    ],
    ids=lambda text: repr(text)[:24],
)
def test_wrong_length_prefix_or_charset_is_none(text: str) -> None:
    assert parse(text) is None


def test_surrounding_whitespace_is_not_stripped_by_parse() -> None:
    plaintext, _ = generate(CredentialKind.API_KEY)
    assert parse(f" {plaintext}") is None
    assert parse(f"{plaintext}\n") is None


def test_generated_credentials_differ() -> None:
    made = [generate(CredentialKind.API_KEY) for _ in range(200)]
    assert len({plaintext for plaintext, _ in made}) == 200
    assert len({parsed.lookup for _, parsed in made}) == 200


def test_pattern_finds_credentials_in_text_and_not_inside_words() -> None:
    key, _ = generate(CredentialKind.API_KEY)
    token, _ = generate(CredentialKind.TOKEN)
    text = f'config = {{"key": "{key}"}}\nAuthorization: Bearer {token}\n'
    assert [match.group(0) for match in CREDENTIAL_PATTERN.finditer(text)] == [key, token]
    assert CREDENTIAL_PATTERN.search(f"x{key}") is None
    assert CREDENTIAL_PATTERN.search(f"{key}x") is None
    assert CREDENTIAL_PATTERN.search(key[:-1]) is None


def test_start_is_a_non_secret_prefix() -> None:
    for kind in CredentialKind:
        plaintext, parsed = generate(kind)
        assert plaintext.startswith(parsed.start)
        assert parsed.start == f"{kind.brand}_{parsed.lookup[:START_LENGTH]}"
        body = plaintext.partition("_")[2]
        secret = body[12:-6]
        assert len(secret) == 43
        # The preview ends inside the public lookup handle: the secret lies wholly after it.
        assert len(parsed.start) == len(kind.brand) + 1 + START_LENGTH
        assert START_LENGTH < 12
        assert secret in plaintext[len(parsed.start) :]
        assert plaintext.index(secret) >= len(parsed.start) + (12 - START_LENGTH)


def test_hasher_matches_only_the_same_credential_and_key() -> None:
    hasher = CredentialHasher(b"server-secret-one")
    plaintext, _ = generate(CredentialKind.API_KEY)
    other, _ = generate(CredentialKind.API_KEY)
    digest = hasher.digest(plaintext)
    assert len(digest) == 32
    assert digest == hasher.digest(plaintext)
    assert hasher.matches(plaintext, digest) is True
    assert hasher.matches(other, digest) is False
    assert hasher.matches(plaintext[:-1], digest) is False
    assert hasher.matches(plaintext, digest[:-1] + bytes([digest[-1] ^ 1])) is False
    assert hasher.matches(plaintext, b"") is False
    # A stolen digest is useless under another server secret.
    assert CredentialHasher(b"server-secret-two").matches(plaintext, digest) is False
    assert plaintext.encode() not in digest


@pytest.mark.parametrize("key", [b"", b"k", b"s" * 63, b"s" * 64, b"s" * 65, b"x" * 200])
def test_hasher_is_hmac_sha256_with_the_server_secret(key: bytes) -> None:
    # Digests already stored stay valid: the prepared-state HMAC is the standard one.
    plaintext, _ = generate(CredentialKind.API_KEY)
    expected = hmac.new(key, plaintext.encode(), hashlib.sha256).digest()
    assert CredentialHasher(key).digest(plaintext) == expected
    assert CredentialHasher(key).digest(plaintext + "x") != expected
