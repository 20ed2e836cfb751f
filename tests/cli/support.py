"""The operator's side of the CLI tests: ``keyplane`` commands run in the test process on
the test's database (typer's runner), and the API as a server started afterwards sees it."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from typer.testing import CliRunner, Result

from keyplane.app import create_app
from keyplane.cli import app as cli
from keyplane.config import Settings, get_settings
from tests import live
from tests.conftest import CLIENT_ADDRESS

T = TypeVar("T")
runner = CliRunner()

PASSWORD = "first admin password"


def keyplane(*args: str, input: str | None = None) -> Result:
    """``keyplane <args>`` in this process, with ``input`` on its stdin."""
    return runner.invoke(cli, list(args), input=input)


def refused(done: Result, *expected: str, prompted: bool = False) -> str:
    """The command stopped with one line on stderr (``error: ...`` holding each ``expected``),
    nothing on stdout, exit status 1. ``prompted``: the line follows the prompts (the runner
    writes a hidden answer's newline to stdout, where a terminal takes it)."""
    assert done.exit_code == 1, done.output
    assert done.stdout.strip() == ""
    text = done.stderr[done.stderr.index("error: ") :] if prompted else done.stderr
    lines = text.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), lines[0]
    for piece in expected:
        assert piece in lines[0], lines[0]
    return lines[0]


def operate(monkeypatch: pytest.MonkeyPatch, workdir: Path, **settings: str) -> None:
    """The environment the next commands see: only these ``KEYPLANE_*`` settings, and a
    working directory without a ``.env`` (``tests/cli/conftest.py`` forgets the settings
    read after each test)."""
    for name in list(os.environ):
        if name.startswith("KEYPLANE_"):
            monkeypatch.delenv(name)
    workdir.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(workdir)
    for name, value in settings.items():
        monkeypatch.setenv(f"KEYPLANE_{name.upper()}", value)
    get_settings.cache_clear()


def init(account: str = "acme", email: str = "a@acme.test", password: str = PASSWORD) -> dict[str, str]:
    """``keyplane init --json``, the password on stdin: the account's ids and admin key."""
    done = keyplane(
        "init", "--account", account, "--email", email, "--password-stdin", "--json", input=f"{password}\n"
    )
    assert done.exit_code == 0, done.output
    assert password not in done.output
    made: dict[str, str] = json.loads(done.stdout)
    return made


def api(settings: Settings, work: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """``work`` against a Keyplane started now on ``settings`` (a process started after the
    command: what it serves is what the command left in the database)."""

    async def run() -> T:
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application, client=(CLIENT_ADDRESS, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                return await work(http)

    return asyncio.run(run())


def empty(database_url: str) -> None:
    asyncio.run(live.empty(database_url))
