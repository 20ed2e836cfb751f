"""Which API a path belongs to: one rule for errors' envelopes, signing and routing."""

from __future__ import annotations

import pytest

from keyplane.kit.families import DIALECTS, Family, dialect, family, is_plain, is_signed, split


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/licenses", Family.LICENSING),
        ("/v1/licenses/actions/validate-key", Family.LICENSING),
        ("/v1/accounts/acme/licenses", Family.LICENSING),
        ("/v1/accounts/acme", Family.LICENSING),
        ("/v1/accounts", Family.LICENSING),
        ("/v1/me", Family.LICENSING),
        ("/v1/ping", Family.LICENSING),
        ("/v1/api-keys", Family.API_KEYS),
        ("/v1/api-keys/verify", Family.API_KEYS),
        ("/v1/accounts/acme/api-keys/0b6c", Family.API_KEYS),
        ("/v1/api-versions", Family.API_KEYS),
        ("/v1/accounts/acme/api-versions", Family.API_KEYS),
        ("/v1/oauth/token", Family.OAUTH),
        ("/v1/accounts/acme/oauth/token", Family.OAUTH),
        ("/healthz", Family.OPERATIONS),
        ("/readyz", Family.OPERATIONS),
        ("/metrics", Family.OPERATIONS),
        ("/docs", Family.OTHER),
        ("/openapi.json", Family.OTHER),
        ("/", Family.OTHER),
        ("/v1", Family.OTHER),
        # A segment named like another family's, in the wrong place, is not that family.
        ("/v1/licenses/api-keys", Family.LICENSING),
        ("/v1/accounts/api-keys/licenses", Family.LICENSING),
        ("/v1/healthz", Family.LICENSING),
        ("/api-keys/verify", Family.OTHER),
    ],
)
def test_family_of_a_path(path: str, expected: Family) -> None:
    assert family(path) is expected


@pytest.mark.parametrize(
    ("path", "envelope", "plain", "signed"),
    [
        ("/v1/licenses", "jsonapi", False, True),
        ("/v1/accounts/acme/api-keys", "plain", True, False),
        ("/v1/api-versions", "plain", True, False),
        ("/v1/oauth/token", "oauth", True, True),
        ("/healthz", "plain", True, False),
        ("/docs", "jsonapi", False, False),
    ],
)
def test_what_a_family_means_for_errors_and_signing(
    path: str, envelope: str, plain: bool, signed: bool
) -> None:
    assert dialect(path) == envelope
    assert is_plain(path) is plain
    assert is_signed(path) is signed


def test_every_family_has_an_error_envelope() -> None:
    assert set(DIALECTS) == set(Family)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/api-keys/verify", (None, ["api-keys", "verify"])),
        ("/v1/accounts/acme/api-keys/verify", ("acme", ["api-keys", "verify"])),
        ("/v1/accounts/acme", ("acme", [])),
        ("/v1/accounts/acme/", ("acme", [""])),
        ("/v1/accounts", None),
        ("/v1/accounts/", None),
        ("/v1/accounts//licenses", None),
        ("/healthz", None),
        ("/v1", None),
    ],
)
def test_split_names_the_account_and_the_rest(
    path: str, expected: tuple[str | None, list[str]] | None
) -> None:
    assert split(path) == expected
