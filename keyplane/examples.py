"""Examples of the main operations' requests and answers, for the contract (``/openapi.json``).

Each is attached to its model (``json_schema_extra``), and a test validates every example
against its model, so an example never shows a member the server does not send.
"""

from __future__ import annotations

from typing import Any

from keyplane.kit.jsonapi import account_base, resource, to_many, to_one

ACCOUNT = "0193b1e2-0000-7000-8000-000000000001"
USER = "0193b1e2-0000-7000-8000-000000000002"
PRODUCT = "0193b1e2-0000-7000-8000-000000000003"
POLICY = "0193b1e2-0000-7000-8000-000000000004"
LICENSE = "0193b1e2-0000-7000-8000-000000000005"
MACHINE = "0193b1e2-0000-7000-8000-000000000006"
API_KEY_ID = "0193b1e2-0000-7000-8000-000000000007"
PROCESS = "0193b1e2-0000-7000-8000-000000000008"
COMPONENT = "0193b1e2-0000-7000-8000-000000000009"
NOW = "2026-12-07T10:00:00.000Z"
LICENSE_KEY = "4DBF7B-8A36E0-19EC72-6156A5-43BCBC-V3"
BASE = account_base(ACCOUNT)


def of(*values: Any) -> dict[str, Any]:
    """A model's ``json_schema_extra``."""
    return {"examples": list(values)}


API_KEY_CREATE = {"name": "billing service", "scopes": ["READ"], "whitelistedIPs": ["10.0.0.0/8"]}
API_KEY = {
    "id": API_KEY_ID,
    "name": "billing service",
    "description": None,
    "scopes": ["READ"],
    "userId": USER,
    "organizationId": ACCOUNT,
    "companyId": ACCOUNT,
    "start": "kp_UOLvOJ",
    "whitelistedIPs": ["10.0.0.0/8"],
    "rateLimit": None,
    "status": "active",
    "apiVersion": "2026-11-01",
    "apiVersionUpdatedAt": None,
    "apiVersionDowngradeNotAllowedAfter": None,
    "expiresAt": None,
    "lastUsedAt": None,
    "createdAt": NOW,
    "updatedAt": NOW,
    "deletedAt": None,
}
API_KEY_CREATED = {**API_KEY, "key": "kp_UOLvOJi2MzJiCgqX6cw4WcyUe4XGRXz3JlDwf9S4A1bOWkP5JnXE0tw0PXycp"}
API_KEY_LIST = {
    "status": 200,
    "total": 2,
    "count": 1,
    "nextUrl": f"https://keys.example.com/v1/api-keys?limit=1&startingAfter={API_KEY_ID}",
    "previousUrl": None,
    "data": [API_KEY],
}
VERIFY = {"key": API_KEY_CREATED["key"], "ip": "10.1.2.3", "scopes": ["READ"]}
VERIFIED = {
    "valid": True,
    "code": "VALID",
    "detail": "The key is valid",
    "keyId": API_KEY_ID,
    "kind": "api_key",
    "name": "billing service",
    "userId": USER,
    "organizationId": ACCOUNT,
    "scopes": ["READ"],
    "expiresAt": None,
    "apiVersion": "2026-11-01",
    "rateLimit": None,
}

LICENSE_CREATE = {
    "data": {
        "type": "licenses",
        "attributes": {"name": "Acme Corp"},
        "relationships": {"policy": {"data": {"type": "policies", "id": POLICY}}},
    }
}
_LICENSE_LIMITS: dict[str, int | None] = {
    "maxMachines": 3,
    **dict.fromkeys(("maxProcesses", "maxUsers", "maxCores", "maxMemory", "maxDisk", "maxUses")),
}
_OWN_LICENSE = f"licenses/{LICENSE}"
LICENSE_RESOURCE = resource(
    BASE,
    "licenses",
    LICENSE,
    {
        "name": "Acme Corp",
        "key": LICENSE_KEY,
        "expiry": None,
        "status": "ACTIVE",
        "uses": 0,
        "suspended": False,
        "scheme": None,
        "encrypted": False,
        "strict": False,
        "floating": True,
        "protected": False,
        "version": None,
        "requireHeartbeat": False,
        "requireCheckIn": False,
        "lastValidated": None,
        "lastCheckIn": None,
        "nextCheckIn": None,
        "lastCheckOut": None,
        **_LICENSE_LIMITS,
        "metadata": {},
        "created": NOW,
        "updated": NOW,
    },
    {
        "account": to_one(BASE, "accounts", ACCOUNT, ""),
        "product": to_one(BASE, "products", PRODUCT, f"{_OWN_LICENSE}/product"),
        "policy": to_one(BASE, "policies", POLICY, f"{_OWN_LICENSE}/policy"),
        "owner": to_one(BASE, "users", None, f"{_OWN_LICENSE}/owner"),
        "group": to_one(BASE, "groups", None, f"{_OWN_LICENSE}/group"),
        "users": to_many(BASE, f"{_OWN_LICENSE}/users", count=0),
        "machines": to_many(
            BASE, f"{_OWN_LICENSE}/machines", count=1, cores=8, memory=17_179_869_184, disk=512_110_190_592
        ),
        "entitlements": to_many(BASE, f"{_OWN_LICENSE}/entitlements"),
    },
)
VALIDATE_KEY = {"meta": {"key": LICENSE_KEY, "scope": {"fingerprint": "4f:3a:9c:1e"}, "nonce": 42}}
VALIDATED = {
    "data": LICENSE_RESOURCE,
    "meta": {
        "ts": NOW,
        "valid": True,
        "detail": "is valid",
        "code": "VALID",
        "scope": {"fingerprint": "4f:3a:9c:1e"},
        "nonce": 42,
    },
}

MACHINE_CREATE = {
    "data": {
        "type": "machines",
        "attributes": {"fingerprint": "4f:3a:9c:1e", "platform": "linux"},
        "relationships": {"license": {"data": {"type": "licenses", "id": LICENSE}}},
    }
}
_OWN_MACHINE = f"machines/{MACHINE}"
MACHINE_RESOURCE = resource(
    BASE,
    "machines",
    MACHINE,
    {
        "fingerprint": "4f:3a:9c:1e",
        "cores": None,
        "memory": None,
        "disk": None,
        "ip": None,
        "hostname": None,
        "platform": "linux",
        "name": None,
        "requireHeartbeat": False,
        "heartbeatStatus": "NOT_STARTED",
        "heartbeatDuration": 600,
        "maxProcesses": None,
        "lastHeartbeat": None,
        "nextHeartbeat": None,
        "lastCheckOut": None,
        "metadata": {},
        "created": NOW,
        "updated": NOW,
    },
    {
        "account": to_one(BASE, "accounts", ACCOUNT, ""),
        "product": to_one(BASE, "products", PRODUCT, f"{_OWN_MACHINE}/product"),
        "license": to_one(BASE, "licenses", LICENSE, f"{_OWN_MACHINE}/license"),
        "owner": to_one(BASE, "users", None, f"{_OWN_MACHINE}/owner"),
        "group": to_one(BASE, "groups", None, f"{_OWN_MACHINE}/group"),
        "components": to_many(BASE, f"{_OWN_MACHINE}/components"),
        "processes": to_many(BASE, f"{_OWN_MACHINE}/processes"),
    },
)

PROCESS_CREATE = {
    "data": {
        "type": "processes",
        "attributes": {"pid": "4242"},
        "relationships": {"machine": {"data": {"type": "machines", "id": MACHINE}}},
    }
}
_OWN_PROCESS = f"processes/{PROCESS}"
PROCESS_RESOURCE = resource(
    BASE,
    "processes",
    PROCESS,
    {
        "pid": "4242",
        "status": "ALIVE",
        "lastHeartbeat": NOW,
        "nextHeartbeat": "2026-12-07T10:10:00.000Z",
        "interval": 600,
        "metadata": {},
        "created": NOW,
        "updated": NOW,
    },
    {
        "account": to_one(BASE, "accounts", ACCOUNT, ""),
        "product": to_one(BASE, "products", PRODUCT, f"{_OWN_PROCESS}/product"),
        "license": to_one(BASE, "licenses", LICENSE, f"{_OWN_PROCESS}/license"),
        "machine": to_one(BASE, "machines", MACHINE, f"{_OWN_PROCESS}/machine"),
    },
)

COMPONENT_CREATE = {
    "data": {
        "type": "components",
        "attributes": {"fingerprint": "E31EE496D46E4C33A3D27BD3745F3B00", "name": "MOBO"},
        "relationships": {"machine": {"data": {"type": "machines", "id": MACHINE}}},
    }
}
_OWN_COMPONENT = f"components/{COMPONENT}"
COMPONENT_RESOURCE = resource(
    BASE,
    "components",
    COMPONENT,
    {
        "fingerprint": "E31EE496D46E4C33A3D27BD3745F3B00",
        "name": "MOBO",
        "metadata": {},
        "created": NOW,
        "updated": NOW,
    },
    {
        "account": to_one(BASE, "accounts", ACCOUNT, ""),
        "product": to_one(BASE, "products", PRODUCT, f"{_OWN_COMPONENT}/product"),
        "license": to_one(BASE, "licenses", LICENSE, f"{_OWN_COMPONENT}/license"),
        "machine": to_one(BASE, "machines", MACHINE, f"{_OWN_COMPONENT}/machine"),
    },
)

CLIENT_CREDENTIALS = {
    "grant_type": "client_credentials",
    "client_id": API_KEY_ID,
    "client_secret": API_KEY_CREATED["key"],
    "scope": "READ",
}
ACCESS_TOKEN = {
    "access_token": "kpa_Q2xH0c9rTgWm4Lb7NfVy1Zp3Ks8Jd6Ae5Ru0Xo2Ci9Gt4Hw7Bn1Fm3Ey6Pl8",
    "token_type": "Bearer",
    "expires_in": 3600,
    "scope": "READ",
}

TOKEN = "0193b1e2-0000-7000-8000-000000000008"
TOKEN_REQUEST = {
    "data": {"type": "tokens", "attributes": {"name": "release script", "expiry": "2027-01-01T00:00:00Z"}}
}
TOKEN_RESOURCE = {
    "id": TOKEN,
    "type": "tokens",
    "attributes": {
        "kind": "admin-token",
        "token": "kpt_3mVq8ZcR1xWb6NfT0yLh5Gd2Ks9Pj4Ue7Ao1Ci8Hw3Bn6Fm0Ey5Rl2Xt9Qs4Dv",
        "expiry": "2027-01-01T00:00:00.000Z",
        "name": "release script",
        "created": NOW,
        "updated": NOW,
    },
    "relationships": {
        "account": to_one(BASE, "accounts", ACCOUNT, ""),
        "bearer": to_one(BASE, "users", USER, f"users/{USER}"),
    },
    "links": {"self": f"{BASE}/tokens/{TOKEN}"},
}

CHECKOUT = {"meta": {"encrypt": True, "ttl": 86400, "include": ["product", "policy"]}}
LICENSE_FILE_RESOURCE = {
    "id": "0193b1e2-0000-7000-8000-000000000009",
    "type": "license-files",
    "attributes": {
        "certificate": "-----BEGIN LICENSE FILE-----\neyJlbmMiOiJ...In0=\n-----END LICENSE FILE-----\n",
        "algorithm": "aes-256-gcm+ed25519",
        "includes": ["product", "policy"],
        "ttl": 86400,
        "expiry": "2026-12-08T10:00:00.000Z",
        "issued": NOW,
    },
    "relationships": {
        "account": to_one(BASE, "accounts", ACCOUNT, ""),
        "license": to_one(BASE, "licenses", LICENSE, f"licenses/{LICENSE}"),
    },
}
LICENSE_TOKEN_REQUEST = {
    "data": {
        "type": "tokens",
        "attributes": {"name": "installer", "maxActivations": 3, "maxDeactivations": 1},
    }
}
LICENSE_TOKEN_RESOURCE = {
    "id": TOKEN,
    "type": "tokens",
    "attributes": {
        "kind": "activation-token",
        "token": "kpt_7Hw3Bn6Fm0Ey5Rl2Xt9Qs4Dv3mVq8ZcR1xWb6NfT0yLh5Gd2Ks9Pj4Ue7Ao1Ci8",
        "expiry": None,
        "name": "installer",
        "maxActivations": 3,
        "activations": 0,
        "maxDeactivations": 1,
        "deactivations": 0,
        "created": NOW,
        "updated": NOW,
    },
    "relationships": {
        "account": to_one(BASE, "accounts", ACCOUNT, ""),
        "bearer": to_one(BASE, "licenses", LICENSE, f"licenses/{LICENSE}"),
    },
    "links": {"self": f"{BASE}/tokens/{TOKEN}"},
}

GROUP = "0193b1e2-0000-7000-8000-000000000009"
GROUP_CREATE = {
    "data": {"type": "groups", "attributes": {"name": "ACME Corp", "maxLicenses": 10, "maxMachines": 50}}
}
GROUP_RESOURCE = resource(
    BASE,
    "groups",
    GROUP,
    {
        "name": "ACME Corp",
        "maxUsers": None,
        "maxLicenses": 10,
        "maxMachines": 50,
        "metadata": {},
        "created": NOW,
        "updated": NOW,
    },
    {
        "account": to_one(BASE, "accounts", ACCOUNT, ""),
        "owners": to_many(BASE, f"groups/{GROUP}/owners"),
        "users": to_many(BASE, f"groups/{GROUP}/users"),
        "licenses": to_many(BASE, f"groups/{GROUP}/licenses"),
        "machines": to_many(BASE, f"groups/{GROUP}/machines"),
    },
)
