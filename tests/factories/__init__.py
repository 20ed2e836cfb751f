"""Factories for tests: real rows through the real API and services, one module per domain.

Each takes keyword arguments with sensible defaults, so every test makes a record the same
way; ``credential`` is the bearer credential a request is made with (the tenant admin's API
key unless told), which leaves ``key`` free to be a license's or a pool key's value.
"""

from tests.factories.accounts import PASSWORD, Tenant, bearer, tenant, user
from tests.factories.api_keys import api_key, owned_key, role_key
from tests.factories.jsonapi import document, ref
from tests.factories.licenses import license
from tests.factories.machines import activate, machine
from tests.factories.policies import policy
from tests.factories.pool import pool_key, pool_keys
from tests.factories.products import product
from tests.factories.tokens import access_token, license_token, login, product_token, token
from tests.factories.webhooks import webhook_endpoint

__all__ = [
    "PASSWORD",
    "Tenant",
    "access_token",
    "activate",
    "api_key",
    "bearer",
    "document",
    "license",
    "license_token",
    "login",
    "machine",
    "owned_key",
    "policy",
    "pool_key",
    "pool_keys",
    "product",
    "product_token",
    "ref",
    "role_key",
    "tenant",
    "token",
    "user",
    "webhook_endpoint",
]
