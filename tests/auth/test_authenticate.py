"""Authentication and authorisation of every request: credentials, refusals, IPs, scopes."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from keyplane.kit.credentials import CredentialKind, _checksum, generate
from keyplane.services import services_of
from tests import factories
from tests.auth.support import basic, flip, jsonapi_error, plain_error, secret_part, timestamp
from tests.factories import Tenant, bearer


def _keys(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [str(item["id"]) for item in response.json()["data"]]


async def _refused_everywhere(
    client: httpx.AsyncClient, acme: Tenant, key: str, status: int, code: str
) -> None:
    """The same refusal on a plain route and on a JSON:API route; the key never echoed."""
    plain = await client.get(f"{acme.base}/api-keys", headers=bearer(key))
    plain_error(plain, status, code)
    assert key not in plain.text
    jsonapi = await client.get(f"{acme.base}/me", headers=bearer(key))
    jsonapi_error(jsonapi, status, code)
    assert key not in jsonapi.text


@pytest.fixture
async def peer_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose TCP peer is an IPv6 address."""
    transport = httpx.ASGITransport(app=app, client=("2001:db8::1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def _trust(app: FastAPI, *networks: str) -> None:
    services_of(app).settings = services_of(app).settings.model_copy(
        update={"trusted_proxies": [ipaddress.ip_network(n) for n in networks]}
    )


# -- presenting a credential ---------------------------------------------------------------


async def test_no_credential_is_token_missing(client: httpx.AsyncClient, acme: Tenant) -> None:
    body = plain_error(await client.get(f"{acme.base}/api-keys"), 401, "TOKEN_MISSING")
    assert body["error"]["field"] is None
    jsonapi_error(await client.get(f"{acme.base}/me"), 401, "TOKEN_MISSING")


async def test_empty_x_api_key_is_token_missing(client: httpx.AsyncClient, acme: Tenant) -> None:
    plain_error(await client.get(f"{acme.base}/api-keys", headers={"X-API-Key": ""}), 401, "TOKEN_MISSING")
    plain_error(
        await client.get(f"{acme.base}/api-keys", headers={"Authorization": "Bearer   "}),
        401,
        "TOKEN_MISSING",
    )


async def test_basic_authorization_is_refused_on_api_routes(client: httpx.AsyncClient, acme: Tenant) -> None:
    headers = basic(acme.admin_email, factories.PASSWORD)
    body = plain_error(await client.get(f"{acme.base}/api-keys", headers=headers), 401, "TOKEN_MISSING")
    assert body["error"]["field"] == "Authorization"
    assert factories.PASSWORD not in str(body)
    me = jsonapi_error(await client.get(f"{acme.base}/me", headers=headers), 401, "TOKEN_MISSING")
    assert me["errors"][0]["source"] == {"header": "Authorization"}


async def test_basic_with_the_key_as_password_is_still_refused(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    response = await client.get(f"{acme.base}/api-keys", headers=basic("", acme.key))
    plain_error(response, 401, "TOKEN_MISSING")
    assert acme.key not in response.text


@pytest.mark.parametrize(
    "junk",
    ["junk", "kp_", "kp_short", "sk_live_0123456789abcdef", "kp_" + "!" * 61, "Bearer", "kp_ spaced key"],
)
async def test_junk_is_token_format_invalid(client: httpx.AsyncClient, acme: Tenant, junk: str) -> None:
    await _refused_everywhere(client, acme, junk, 401, "TOKEN_FORMAT_INVALID")


async def test_one_changed_character_is_token_format_invalid(client: httpx.AsyncClient, acme: Tenant) -> None:
    for index in (3, 10, 20, 40, -1):
        broken = flip(acme.key, index)
        assert broken != acme.key
        await _refused_everywhere(client, acme, broken, 401, "TOKEN_FORMAT_INVALID")
    # The real key still works afterwards.
    assert (await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))).status_code == 200


async def test_well_formed_unknown_key_is_token_invalid(client: httpx.AsyncClient, acme: Tenant) -> None:
    for kind in CredentialKind:
        unknown, _ = generate(kind)
        await _refused_everywhere(client, acme, unknown, 401, "TOKEN_INVALID")


async def test_real_lookup_with_wrong_secret_is_token_invalid(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    other_secret = generate(CredentialKind.API_KEY)[0]
    unsigned = acme.key[: -len(secret_part(acme.key)) - 6] + secret_part(other_secret)
    forged = unsigned + _checksum(unsigned)
    assert forged != acme.key
    assert forged[:15] == acme.key[:15]
    await _refused_everywhere(client, acme, forged, 401, "TOKEN_INVALID")


@pytest.mark.parametrize(
    "header",
    [
        lambda key: {"Authorization": f"Bearer {key}"},
        lambda key: {"Authorization": f"bearer {key}"},
        lambda key: {"Authorization": f"Token {key}"},
        lambda key: {"X-API-Key": key},
        lambda key: {"x-api-key": f"  {key}  "},
    ],
    ids=["bearer", "bearer-lowercase", "token", "x-api-key", "x-api-key-padded"],
)
async def test_each_way_of_presenting_a_key_works(
    client: httpx.AsyncClient, acme: Tenant, header: object
) -> None:
    assert callable(header)
    headers: dict[str, str] = header(acme.key)
    listed = await client.get(f"{acme.base}/api-keys", headers=headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 1
    me = await client.get(f"{acme.base}/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["data"]["attributes"]["email"] == acme.admin_email


async def test_authorization_header_wins_over_x_api_key(client: httpx.AsyncClient, acme: Tenant) -> None:
    junk = generate(CredentialKind.API_KEY)[0]
    response = await client.get(
        f"{acme.base}/api-keys", headers={"Authorization": f"Bearer {junk}", "X-API-Key": acme.key}
    )
    plain_error(response, 401, "TOKEN_INVALID")


async def test_account_may_be_named_by_id_or_be_the_default(client: httpx.AsyncClient, acme: Tenant) -> None:
    by_id = await client.get(f"/v1/accounts/{acme.id}/api-keys", headers=bearer(acme.key))
    assert _keys(by_id) == _keys(await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key)))
    bare = await client.get("/v1/me", headers=bearer(acme.key))
    assert bare.status_code == 200, bare.text
    assert bare.json()["data"]["id"] == str(acme.admin_id)
    missing = await client.get("/v1/accounts/nope/api-keys", headers=bearer(acme.key))
    plain_error(missing, 404, "NOT_FOUND")


# -- tenant isolation and lifecycle ---------------------------------------------------------


async def test_another_accounts_key_is_token_invalid(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    globex = await factories.tenant(app, "globex")
    home = await client.get(f"{globex.base}/api-keys", headers=bearer(globex.key))
    assert _keys(home) != _keys(await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key)))
    await _refused_everywhere(client, acme, globex.key, 401, "TOKEN_INVALID")
    by_id = await client.get(f"/v1/accounts/{acme.id}/me", headers=bearer(globex.key))
    jsonapi_error(by_id, 401, "TOKEN_INVALID")


async def test_deleted_key_is_revoked_on_the_next_request(client: httpx.AsyncClient, acme: Tenant) -> None:
    admin_keys = _keys(await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key)))
    made = await factories.api_key(client, acme, name="doomed")
    key, key_id = str(made["key"]), str(made["id"])
    assert (await client.get(f"{acme.base}/me", headers=bearer(key))).status_code == 200
    deleted = await client.delete(f"{acme.base}/api-keys/{key_id}", headers=bearer(acme.key))
    assert deleted.status_code == 204, deleted.text
    await _refused_everywhere(client, acme, key, 401, "TOKEN_REVOKED")
    # Only the deleted key is affected.
    assert _keys(await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))) == admin_keys
    gone = await client.get(f"{acme.base}/api-keys", params={"status": "inactive"}, headers=bearer(acme.key))
    assert _keys(gone) == [key_id]
    assert gone.json()["data"][0]["deletedAt"] is not None


async def test_deactivated_key_is_inactive_until_reactivated(client: httpx.AsyncClient, acme: Tenant) -> None:
    made = await factories.api_key(client, acme)
    key, key_id = str(made["key"]), str(made["id"])
    off = await client.patch(
        f"{acme.base}/api-keys/{key_id}", json={"status": "inactive"}, headers=bearer(acme.key)
    )
    assert off.status_code == 200, off.text
    assert off.json()["status"] == "inactive"
    await _refused_everywhere(client, acme, key, 401, "TOKEN_INACTIVE")
    on = await client.patch(
        f"{acme.base}/api-keys/{key_id}", json={"status": "active"}, headers=bearer(acme.key)
    )
    assert on.status_code == 200, on.text
    again = await client.get(f"{acme.base}/me", headers=bearer(key))
    assert again.status_code == 200, again.text


async def test_expired_key_is_token_expired(client: httpx.AsyncClient, acme: Tenant) -> None:
    expires = (clock.now() + timedelta(days=1)).isoformat()
    made = await factories.api_key(client, acme, expiresAt=expires)
    key = str(made["key"])
    assert (await client.get(f"{acme.base}/api-keys", headers=bearer(key))).status_code == 200
    clock.advance(timedelta(hours=23))
    assert (await client.get(f"{acme.base}/api-keys", headers=bearer(key))).status_code == 200
    clock.advance(timedelta(hours=2))
    await _refused_everywhere(client, acme, key, 401, "TOKEN_EXPIRED")
    # The admin key has no expiry and is unaffected.
    assert (await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))).status_code == 200


async def test_refusal_order_deleted_before_inactive_before_expired(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    made = await factories.api_key(client, acme, expiresAt=(clock.now() + timedelta(hours=1)).isoformat())
    key, key_id = str(made["key"]), str(made["id"])
    patched = await client.patch(
        f"{acme.base}/api-keys/{key_id}", json={"status": "inactive"}, headers=bearer(acme.key)
    )
    assert patched.status_code == 200
    clock.advance(timedelta(hours=2))
    plain_error(await client.get(f"{acme.base}/api-keys", headers=bearer(key)), 401, "TOKEN_INACTIVE")
    assert (
        await client.delete(f"{acme.base}/api-keys/{key_id}", headers=bearer(acme.key))
    ).status_code == 204
    plain_error(await client.get(f"{acme.base}/api-keys", headers=bearer(key)), 401, "TOKEN_REVOKED")


# -- envelopes ------------------------------------------------------------------------------


async def test_jsonapi_refusal_envelope(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.get(f"{acme.base}/me", headers=bearer(generate(CredentialKind.API_KEY)[0]))
    body = jsonapi_error(response, 401, "TOKEN_INVALID")
    assert body["errors"] == [
        {"title": "Unauthorized", "detail": "The credential is invalid", "code": "TOKEN_INVALID"}
    ]
    assert response.headers["www-authenticate"] == 'Bearer realm="keyplane"'
    other = await client.get(f"{acme.base}/me")
    assert other.json()["meta"]["id"] != body["meta"]["id"]


async def test_plain_refusal_envelope(client: httpx.AsyncClient, acme: Tenant) -> None:
    response = await client.get(f"{acme.base}/api-keys", headers=bearer("kp_nonsense"))
    body = plain_error(response, 401, "TOKEN_FORMAT_INVALID")
    assert body["error"] == {
        "code": "TOKEN_FORMAT_INVALID",
        "message": "The credential is not a well-formed Keyplane credential",
        "field": None,
    }


# -- IP allowlists and proxies --------------------------------------------------------------


async def test_key_allowed_from_its_network(client: httpx.AsyncClient, acme: Tenant) -> None:
    made = await factories.api_key(client, acme, whitelistedIPs=["203.0.113.0/24"])
    assert made["whitelistedIPs"] == ["203.0.113.0/24"]
    response = await client.get(f"{acme.base}/me", headers=bearer(str(made["key"])))
    assert response.status_code == 200, response.text


async def test_key_refused_outside_its_network(client: httpx.AsyncClient, acme: Tenant) -> None:
    made = await factories.api_key(client, acme, whitelistedIPs=["10.0.0.0/8"])
    key = str(made["key"])
    body = plain_error(await client.get(f"{acme.base}/api-keys", headers=bearer(key)), 403, "IP_NOT_ALLOWED")
    assert key not in str(body)
    jsonapi_error(await client.get(f"{acme.base}/me", headers=bearer(key)), 403, "IP_NOT_ALLOWED")
    assert key not in (await client.get(f"{acme.base}/me", headers=bearer(key))).text


async def test_ipv6_entries_are_accepted_and_matched(
    client: httpx.AsyncClient, peer_client: httpx.AsyncClient, acme: Tenant
) -> None:
    made = await factories.api_key(client, acme, whitelistedIPs=["2001:db8::/32", "203.0.113.7"])
    assert made["whitelistedIPs"] == ["2001:db8::/32", "203.0.113.7/32"]
    key = str(made["key"])
    assert (await peer_client.get(f"{acme.base}/me", headers=bearer(key))).status_code == 200
    assert (await client.get(f"{acme.base}/me", headers=bearer(key))).status_code == 200
    v6_only = await factories.api_key(client, acme, whitelistedIPs=["2001:db8:ffff::/48"])
    refused = await peer_client.get(f"{acme.base}/api-keys", headers=bearer(str(v6_only["key"])))
    plain_error(refused, 403, "IP_NOT_ALLOWED")
    refused_v4 = await client.get(f"{acme.base}/api-keys", headers=bearer(str(v6_only["key"])))
    plain_error(refused_v4, 403, "IP_NOT_ALLOWED")


async def test_ipv4_mapped_ipv6_peer_matches_ipv4_entries(app: FastAPI, acme: Tenant) -> None:
    transport = httpx.ASGITransport(app=app, client=("::ffff:203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as mapped:
        made = await factories.api_key(mapped, acme, whitelistedIPs=["203.0.113.0/24"])
        response = await mapped.get(f"{acme.base}/me", headers=bearer(str(made["key"])))
    assert response.status_code == 200, response.text


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    inside = await factories.api_key(client, acme, whitelistedIPs=["10.0.0.0/8"])
    here = await factories.api_key(client, acme, whitelistedIPs=["203.0.113.0/24"])
    spoof = {"X-Forwarded-For": "10.1.2.3"}
    plain_error(
        await client.get(f"{acme.base}/api-keys", headers=bearer(str(inside["key"])) | spoof),
        403,
        "IP_NOT_ALLOWED",
    )
    # The peer address still counts: a key for the peer's network keeps working.
    ok = await client.get(f"{acme.base}/me", headers=bearer(str(here["key"])) | spoof)
    assert ok.status_code == 200, ok.text


async def test_forwarded_for_is_believed_from_a_trusted_proxy(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    inside = await factories.api_key(client, acme, whitelistedIPs=["10.0.0.0/8"])
    key = str(inside["key"])
    _trust(app, "203.0.113.0/24")
    forwarded = await client.get(f"{acme.base}/me", headers=bearer(key) | {"X-Forwarded-For": "10.1.2.3"})
    assert forwarded.status_code == 200, forwarded.text
    # Without the header the proxy's own address is the client.
    plain_error(await client.get(f"{acme.base}/api-keys", headers=bearer(key)), 403, "IP_NOT_ALLOWED")
    # Hops that are themselves trusted proxies are skipped.
    chain = await client.get(
        f"{acme.base}/me", headers=bearer(key) | {"X-Forwarded-For": "10.1.2.3, 203.0.113.50"}
    )
    assert chain.status_code == 200, chain.text


async def test_spoofed_leftmost_forwarded_entry_is_not_the_client(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    inside = await factories.api_key(client, acme, whitelistedIPs=["10.0.0.0/8"])
    outside = await factories.api_key(client, acme, whitelistedIPs=["198.51.100.0/24"])
    _trust(app, "203.0.113.0/24")
    spoofed = {"X-Forwarded-For": "10.1.2.3, 198.51.100.9"}
    plain_error(
        await client.get(f"{acme.base}/api-keys", headers=bearer(str(inside["key"])) | spoofed),
        403,
        "IP_NOT_ALLOWED",
    )
    # 198.51.100.9 is who the proxy saw, so a key for that network works.
    resolved = await client.get(f"{acme.base}/me", headers=bearer(str(outside["key"])) | spoofed)
    assert resolved.status_code == 200, resolved.text


@pytest.mark.parametrize("forwarded", ["not-an-ip", "10.1.2.3, garbage", ",,,", "10.1.2.3:8080"])
async def test_garbage_forwarded_for_falls_back_to_the_peer(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant, forwarded: str
) -> None:
    inside = await factories.api_key(client, acme, whitelistedIPs=["10.0.0.0/8"])
    _trust(app, "203.0.113.0/24")
    response = await client.get(
        f"{acme.base}/api-keys", headers=bearer(str(inside["key"])) | {"X-Forwarded-For": forwarded}
    )
    plain_error(response, 403, "IP_NOT_ALLOWED")


# -- scopes ---------------------------------------------------------------------------------


async def test_read_only_users_key_can_read_but_not_create(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    reader_id = await factories.user(app, acme, role="read-only")
    made = await factories.api_key(client, acme, userId=str(reader_id), scopes=["READ"])
    assert made["userId"] == str(reader_id)
    assert made["scopes"] == ["READ"]
    key = str(made["key"])
    listed = await client.get(f"{acme.base}/api-keys", headers=bearer(key))
    assert _keys(listed) == [str(made["id"])]  # no MANAGE: only its own keys
    refused = await client.post(f"{acme.base}/api-keys", json={"name": "more"}, headers=bearer(key))
    plain_error(refused, 403, "INSUFFICIENT_SCOPE")
    after = await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))
    assert after.json()["total"] == 2  # the admin key and the read-only key; nothing was created


async def test_read_only_user_cannot_be_given_write_scopes(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    reader_id = await factories.user(app, acme, role="read-only")
    response = await client.post(
        f"{acme.base}/api-keys",
        json={"userId": str(reader_id), "scopes": ["READ", "CREATE"]},
        headers=bearer(acme.key),
    )
    plain_error(response, 422, "SCOPES_NOT_ALLOWED")
    listed = await client.get(f"{acme.base}/api-keys", headers=bearer(acme.key))
    assert listed.json()["total"] == 1


async def test_role_is_checked_on_every_request(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    developer_id = await factories.user(app, acme, role="developer")
    made = await factories.api_key(client, acme, userId=str(developer_id), scopes=["READ", "CREATE"])
    key = str(made["key"])
    first = await client.post(f"{acme.base}/api-keys", json={"name": "child"}, headers=bearer(key))
    assert first.status_code == 201, first.text
    demoted = await client.patch(
        f"{acme.base}/users/{developer_id}",
        json={"data": {"type": "users", "attributes": {"role": "read-only"}}},
        headers=bearer(acme.key),
    )
    assert demoted.status_code == 200, demoted.text
    second = await client.post(f"{acme.base}/api-keys", json={"name": "child2"}, headers=bearer(key))
    plain_error(second, 403, "INSUFFICIENT_SCOPE")
    assert (await client.get(f"{acme.base}/api-keys", headers=bearer(key))).status_code == 200


# -- lastUsedAt -----------------------------------------------------------------------------


async def test_last_used_at_is_recorded_after_flush(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    made = await factories.api_key(client, acme)
    key, key_id = str(made["key"]), str(made["id"])
    assert made["lastUsedAt"] is None
    before = await client.get(f"{acme.base}/api-keys/{key_id}", headers=bearer(acme.key))
    assert before.json()["lastUsedAt"] is None
    clock.advance(timedelta(days=3))
    used_at = clock.now()
    assert (await client.get(f"{acme.base}/me", headers=bearer(key))).status_code == 200
    await services_of(app).usage.flush()
    after = await client.get(f"{acme.base}/api-keys/{key_id}", headers=bearer(acme.key))
    assert after.status_code == 200
    last_used = timestamp(after.json()["lastUsedAt"])
    assert abs(last_used - used_at) < timedelta(seconds=5)


async def test_last_used_at_is_kept_to_the_resolution(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """A key in constant use is written once per ``KEYPLANE_USAGE_RESOLUTION_SECONDS`` (60 by
    default), not on every flush: the stored time is at most that old."""
    assert services_of(app).settings.usage_resolution_seconds == 60
    made = await factories.api_key(client, acme)
    key, key_id = str(made["key"]), str(made["id"])

    async def use_then_read() -> datetime:
        assert (await client.get(f"{acme.base}/me", headers=bearer(key))).status_code == 200
        await services_of(app).usage.flush()
        read = await client.get(f"{acme.base}/api-keys/{key_id}", headers=bearer(acme.key))
        return timestamp(read.json()["lastUsedAt"])

    first_use = clock.now()
    first = await use_then_read()
    assert abs(first - first_use) < timedelta(seconds=5)
    clock.advance(timedelta(seconds=30))
    assert await use_then_read() == first  # within the resolution: not written again
    clock.advance(timedelta(seconds=31))
    later_use = clock.now()
    later = await use_then_read()
    assert abs(later - later_use) < timedelta(seconds=5)
    assert later - first >= timedelta(seconds=60)


async def test_a_reloaded_key_keeps_the_resolution_of_its_last_written_use(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    """A change drops the cached state of a key and the next use loads a new one: that use
    is still within the resolution of the last written one, so nothing is written again."""
    made = await factories.api_key(client, acme)
    key, key_id = str(made["key"]), str(made["id"])
    url = f"{acme.base}/api-keys/{key_id}"

    async def use_then_read() -> datetime:
        assert (await client.get(f"{acme.base}/me", headers=bearer(key))).status_code == 200
        await services_of(app).usage.flush()
        return timestamp((await client.get(url, headers=bearer(acme.key))).json()["lastUsedAt"])

    first = await use_then_read()
    renamed = await client.patch(url, json={"name": "renamed"}, headers=bearer(acme.key))
    assert renamed.status_code == 200
    clock.advance(timedelta(seconds=30))
    assert await use_then_read() == first
    clock.advance(timedelta(seconds=31))
    assert await use_then_read() - first >= timedelta(seconds=60)


async def test_refused_requests_do_not_count_as_use(
    app: FastAPI, client: httpx.AsyncClient, acme: Tenant
) -> None:
    made = await factories.api_key(client, acme, whitelistedIPs=["10.0.0.0/8"])
    assert (await client.get(f"{acme.base}/me", headers=bearer(str(made["key"])))).status_code == 403
    await services_of(app).usage.flush()
    after = await client.get(f"{acme.base}/api-keys/{made['id']}", headers=bearer(acme.key))
    assert after.status_code == 200
    assert after.json()["lastUsedAt"] is None
