"""Keygen's list filters on licenses, machines, users, keys and policies: each one narrows the
list to exactly the records it names, in SQL, together with the others."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.kit import clock
from keyplane.kit.timefmt import iso
from tests import factories
from tests.auth.support import jsonapi_error
from tests.factories import Tenant, bearer


def _in(delta: timedelta) -> str:
    return iso(clock.now() + delta)


async def _ids(client: httpx.AsyncClient, acme: Tenant, path: str, **params: str) -> set[str]:
    response = await client.get(
        f"{acme.base}/{path}", params={"limit": "100", **params}, headers=bearer(acme.key)
    )
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["data"]}


@pytest.fixture
async def world(app: FastAPI, client: httpx.AsyncClient, acme: Tenant) -> dict[str, Any]:
    """Two products with a policy each, licenses that differ in one thing each, machines."""
    alice = str(await factories.user(app, acme, email="alice@acme.test"))
    bob = str(await factories.user(app, acme, email="bob@acme.test", role="developer"))
    first = await factories.product(client, acme)
    second = await factories.product(client, acme)
    p1 = await factories.policy(client, acme, first)
    p2 = await factories.policy(client, acme, second)
    made = {
        "plain": await factories.license(client, acme, p1),
        "gold": await factories.license(
            client, acme, p1, metadata={"tier": "gold", "seats": 5, "trial": False}
        ),
        "silver": await factories.license(client, acme, p1, metadata={"tier": "silver", "seats": "5"}),
        "alice": await factories.license(client, acme, p2, owner=alice),
        "suspended": await factories.license(client, acme, p2, suspended=True),
        "expired": await factories.license(client, acme, p2, expiry=_in(-timedelta(hours=1))),
        "in2days": await factories.license(client, acme, p2, expiry=_in(timedelta(days=2))),
        "in10days": await factories.license(client, acme, p2, expiry=_in(timedelta(days=10))),
        "in60days": await factories.license(client, acme, p2, expiry=_in(timedelta(days=60))),
    }
    ids = {name: str(data["id"]) for name, data in made.items()}
    keys = {name: str(data["attributes"]["key"]) for name, data in made.items()}
    activated = {
        "m-gold": await factories.machine(
            client, acme, ids["gold"], "fp-gold", ip="10.0.0.1", hostname="gold-host"
        ),
        "m-alice": await factories.machine(
            client, acme, ids["alice"], "fp-alice", owner=alice, metadata={"rack": "r1"}
        ),
    }
    machines = {name: str(data["id"]) for name, data in activated.items()}
    return {
        "expiries": {name: data["attributes"]["expiry"] for name, data in made.items()},
        "ids": ids,
        "keys": keys,
        "machines": machines,
        "users": {"alice": alice, "bob": bob},
        "products": (first, second),
        "policies": (p1, p2),
    }


def _names(world: dict[str, Any], found: set[str]) -> set[str]:
    by_id = {v: k for k, v in {**world["ids"], **world["machines"]}.items()}
    return {by_id.get(i, i) for i in found}


EVERY = {"plain", "gold", "silver", "alice", "suspended", "expired", "in2days", "in10days", "in60days"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, EVERY),
        ({"metadata[tier]": "gold"}, {"gold"}),
        ({"metadata[seats]": "5"}, {"gold", "silver"}),  # the number and the string
        ({"metadata[trial]": "false"}, {"gold"}),
        ({"metadata[tier]": "gold", "metadata[seats]": "5"}, {"gold"}),
        ({"metadata[tier]": "bronze"}, set()),
        ({"metadata[nothing]": "null"}, set()),
        ({"expires[in]": "3d"}, {"in2days"}),
        ({"expires[in]": "2w"}, {"in2days", "in10days"}),
        ({"expires[within]": "1y"}, {"in2days", "in10days", "in60days"}),
        ({"expired": "true"}, {"expired"}),
        ({"expired": "false"}, EVERY - {"expired"}),
        ({"expiring": "true"}, {"in2days"}),
        ({"suspended": "true"}, {"suspended"}),
        ({"suspended": "false"}, EVERY - {"suspended"}),
        ({"unassigned": "false"}, {"alice"}),
        ({"unassigned": "true"}, EVERY - {"alice"}),
        ({"assigned": "true"}, {"alice"}),
        ({"activated": "true"}, {"gold", "alice"}),
        ({"activated": "false"}, EVERY - {"gold", "alice"}),
        ({"machine": "fp-gold"}, {"gold"}),
        ({"owner": "alice@acme.test"}, {"alice"}),
        ({"user": "ALICE@acme.test"}, {"alice"}),
        ({"owner": "nobody@acme.test"}, set()),
        ({"status": "expiring"}, {"in2days"}),
        ({"status": "EXPIRED"}, {"expired"}),
        ({"status": "SUSPENDED"}, {"suspended"}),
        ({"status": "ACTIVE", "metadata[tier]": "silver"}, {"silver"}),
    ],
)
async def test_license_filters(
    client: httpx.AsyncClient, acme: Tenant, world: dict[str, Any], params: dict[str, str], expected: set[str]
) -> None:
    assert _names(world, await _ids(client, acme, "licenses", **params)) == expected


async def test_expiry_windows(client: httpx.AsyncClient, acme: Tenant, world: dict[str, Any]) -> None:
    """Bounds are instants (ISO 8601 or epoch seconds) or a day; every bound given applies."""
    in11days = clock.now() + timedelta(days=11)
    expected = {"in2days", "in10days"}
    assert (
        _names(world, await _ids(client, acme, "licenses", **{"expires[before]": iso(in11days)})) == expected
    )
    epoch = str(int(in11days.timestamp()))
    assert _names(world, await _ids(client, acme, "licenses", **{"expires[before]": epoch})) == expected
    after = {"expires[after]": _in(timedelta(days=5))}
    assert _names(world, await _ids(client, acme, "licenses", **after)) == {"in10days", "in60days"}
    both = {**after, "expires[before]": _in(timedelta(days=30))}
    assert _names(world, await _ids(client, acme, "licenses", **both)) == {"in10days"}
    day = datetime.fromisoformat(world["expiries"]["in60days"]).date().isoformat()
    assert _names(world, await _ids(client, acme, "licenses", **{"expires[on]": day})) == {"in60days"}


async def test_license_filters_by_record(
    client: httpx.AsyncClient, acme: Tenant, world: dict[str, Any]
) -> None:
    ids, (first, second), (p1, p2) = world["ids"], world["products"], world["policies"]
    alice = world["users"]["alice"]
    assert _names(world, await _ids(client, acme, "licenses", product=first)) == {"plain", "gold", "silver"}
    assert _names(world, await _ids(client, acme, "licenses", policy=p2, suspended="true")) == {"suspended"}
    assert _names(world, await _ids(client, acme, "licenses", owner=alice)) == {"alice"}
    assert _names(world, await _ids(client, acme, "licenses", machine=world["machines"]["m-alice"])) == {
        "alice"
    }
    assert _names(world, await _ids(client, acme, f"policies/{p1}/licenses", user=alice)) == set()
    assert _names(world, await _ids(client, acme, f"products/{second}/licenses", user=alice)) == {"alice"}
    assert _names(world, await _ids(client, acme, f"products/{second}/licenses", suspended="true")) == {
        "suspended"
    }
    assert ids["alice"] in await _ids(client, acme, f"policies/{p2}/licenses", product=second)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"m-gold", "m-alice"}),
        ({"fingerprint": "fp-gold"}, {"m-gold"}),
        ({"ip": "10.0.0.1"}, {"m-gold"}),
        ({"hostname": "gold-host"}, {"m-gold"}),
        ({"metadata[rack]": "r1"}, {"m-alice"}),
        ({"user": "alice@acme.test"}, {"m-alice"}),
        ({"owner": "alice@acme.test"}, {"m-alice"}),
        ({"owner": "bob@acme.test"}, set()),
        ({"fingerprint": "fp-none"}, set()),
    ],
)
async def test_machine_filters(
    client: httpx.AsyncClient, acme: Tenant, world: dict[str, Any], params: dict[str, str], expected: set[str]
) -> None:
    assert _names(world, await _ids(client, acme, "machines", **params)) == expected


async def test_machine_filters_by_record(
    client: httpx.AsyncClient, acme: Tenant, world: dict[str, Any]
) -> None:
    ids, keys, (first, _), (_, p2) = world["ids"], world["keys"], world["products"], world["policies"]
    assert _names(world, await _ids(client, acme, "machines", product=first)) == {"m-gold"}
    assert _names(world, await _ids(client, acme, "machines", policy=p2)) == {"m-alice"}
    assert _names(world, await _ids(client, acme, "machines", license=ids["gold"])) == {"m-gold"}
    assert _names(world, await _ids(client, acme, "machines", license=keys["alice"])) == {"m-alice"}
    assert _names(world, await _ids(client, acme, "machines", key=keys["gold"])) == {"m-gold"}
    path = f"licenses/{ids['gold']}/machines"
    assert _names(world, await _ids(client, acme, path, fingerprint="fp-gold")) == {"m-gold"}
    assert _names(world, await _ids(client, acme, path, fingerprint="fp-alice")) == set()


async def test_user_filters(client: httpx.AsyncClient, acme: Tenant, world: dict[str, Any]) -> None:
    alice, bob = world["users"]["alice"], world["users"]["bob"]
    first, second = world["products"]
    admin = str(acme.admin_id)
    assert await _ids(client, acme, "users") == {admin, alice, bob}
    assert await _ids(client, acme, "users", **{"roles[]": "user"}) == {alice}
    response = await client.get(
        f"{acme.base}/users?roles[]=developer&roles[]=admin", headers=bearer(acme.key)
    )
    assert {u["id"] for u in response.json()["data"]} == {admin, bob}
    assert await _ids(client, acme, "users", assigned="true") == {alice}
    assert await _ids(client, acme, "users", active="false") == {admin, bob}
    assert await _ids(client, acme, "users", product=second) == {alice}
    assert await _ids(client, acme, "users", product=first) == set()
    assert await _ids(client, acme, "users", license=world["keys"]["alice"]) == {alice}
    assert await _ids(client, acme, "users", license=world["ids"]["gold"]) == set()
    assert await _ids(client, acme, "users", status="active") == {admin, alice, bob}
    assert await _ids(client, acme, "users", status="BANNED") == set()


async def test_key_and_policy_filters(client: httpx.AsyncClient, acme: Tenant, world: dict[str, Any]) -> None:
    first, second = world["products"]
    p1, p2 = world["policies"]
    pooled = await factories.policy(client, acme, second, usePool=True)
    key = (await factories.pool_key(client, acme, pooled, "POOLED-KEY-1"))["id"]
    assert await _ids(client, acme, "keys", product=second) == {key}
    assert await _ids(client, acme, "keys", product=first) == set()
    assert await _ids(client, acme, "keys", policy=pooled) == {key}
    assert await _ids(client, acme, "keys", policy=p2) == set()
    assert await _ids(client, acme, "policies", product=first) == {p1}
    assert await _ids(client, acme, "policies", product=second) == {p2, pooled}


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("licenses", {"expires[in]": "soon"}, "expires[in]"),
        ("licenses", {"expires[before]": "tomorrow"}, "expires[before]"),
        ("licenses", {"unassigned": "maybe"}, "unassigned"),
        ("licenses", {"metadata[a.b]": "1"}, "metadata[a.b]"),
        ("licenses", {"product": "not-an-id"}, "product"),
        ("licenses", {"group": "g"}, "group"),
        ("machines", {"status": "ALIVE"}, "status"),
        ("users", {"roles[]": "wizard"}, "roles[]"),
        ("keys", {"policy": "x"}, "policy"),
        ("policies", {"product": "x"}, "product"),
    ],
)
async def test_bad_filter_values_are_400(
    client: httpx.AsyncClient, acme: Tenant, path: str, params: dict[str, str], parameter: str
) -> None:
    response = await client.get(f"{acme.base}/{path}", params=params, headers=bearer(acme.key))
    assert jsonapi_error(response, 400, "PARAMETERS_INVALID")["errors"][0]["source"] == {
        "parameter": parameter
    }


async def test_filters_follow_the_page_links(
    client: httpx.AsyncClient, acme: Tenant, world: dict[str, Any]
) -> None:
    response = await client.get(
        f"{acme.base}/licenses",
        params={"metadata[seats]": "5", "page[number]": "1", "page[size]": "1"},
        headers=bearer(acme.key),
    )
    first = response.json()
    assert first["links"]["meta"] == {"pages": 2, "count": 2}
    second = (await client.get(first["links"]["next"], headers=bearer(acme.key))).json()
    assert _names(world, {first["data"][0]["id"], second["data"][0]["id"]}) == {"gold", "silver"}
    assert second["links"]["next"] is None
