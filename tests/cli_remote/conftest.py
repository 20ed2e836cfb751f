"""One live ``keyplane serve`` per module and database for the remote commands, and ``cli``:
the ``keyplane`` command run in the test process (typer's runner) against it, with HOME in the
test's own folder and the server named by KEYPLANE_URL / KEYPLANE_API_KEY."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import live
from tests.cli_remote.support import Cli
from tests.clients.support import LiveAccount

SECRET = "cli-remote-server-secret-" + "z" * 32
SLUG = "cli"


@pytest.fixture(scope="module")
async def live_account(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveAccount]:
    data_dir = tmp_path_factory.mktemp("live")
    env = live.environment(database_url, SECRET, data_dir, account=SLUG)
    try:
        with ThreadPoolExecutor(1) as pool:
            making = pool.submit(live.init, env, SLUG, f"admin@{SLUG}.test", "a long enough password")
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


@pytest.fixture
def cli(live_account: LiveAccount, tmp_path: Path) -> Cli:
    return Cli(live_account, home=tmp_path / "home")
