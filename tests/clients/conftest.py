"""One live ``keyplane serve`` per client test module and database, with one account made by
``keyplane init`` (whose ``--json`` output gives the public key the clients pin).

The server's bare ``/v1`` routes serve that account (``KEYPLANE_ACCOUNT``), which is how a
single-tenant install is used with the clients' default URLs. The module's rows are deleted
when it ends, as the ``app`` fixture deletes a test's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import live
from tests.clients.support import LiveAccount

SECRET = "clients-server-secret-" + "y" * 32
PASSWORD = "a long enough password"
SLUG = "clients"


@pytest.fixture(scope="module")
async def live_account(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveAccount]:
    data_dir = tmp_path_factory.mktemp("live")
    env = live.environment(database_url, SECRET, data_dir, account=SLUG)
    try:
        # The account is made while the server starts (the schema is already there): bare
        # routes find it by its slug at the first request that names it.
        with ThreadPoolExecutor(1) as pool:
            making = pool.submit(live.init, env, SLUG, f"admin@{SLUG}.test", PASSWORD)
            with live.serve(env, data_dir / "serve.log") as base:
                made = making.result()
                yield LiveAccount(
                    base=base,
                    id=made["accountId"],
                    slug=made["accountSlug"],
                    api_key=made["apiKey"],
                    public_key=made["publicKey"],
                )
    finally:
        await live.empty(database_url)
