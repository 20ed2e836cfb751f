"""``keyplane login`` / ``logout``: a profile saved after one successful call, readable by its
owner only, used by the remote commands when nothing else names a server, and forgotten."""

from __future__ import annotations

import stat
import tomllib
import uuid

import pytest

from tests import live
from tests.cli_remote.support import Cli, refused

pytestmark = pytest.mark.xdist_group("cli_remote")

NOTHING_SET = {"KEYPLANE_URL": None, "KEYPLANE_API_KEY": None}


def test_a_profile_is_saved_used_and_forgotten(cli: Cli) -> None:
    base, key = cli.account.base, cli.account.api_key
    saved = cli.run("login", input=f"{base}\n{key}\n", **NOTHING_SET)
    assert saved.exit_code == 0, saved.stderr
    assert "profile 'default'" in saved.stderr

    path = cli.home / ".config" / "keyplane" / "profiles.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert tomllib.loads(path.read_text()) == {"profiles": {"default": {"url": base, "api_key": key}}}

    name = f"profiled-{uuid.uuid4().hex[:8]}"
    made = cli.json("keys", "create", "--name", name, **NOTHING_SET)
    assert cli.lines("keys", "list", "--name", name, **NOTHING_SET)[0]["id"] == made["id"]

    # A second profile beside it; --profile names it, even over the environment.
    cli.ok("login", "--url", base, "--profile", "ops", input=made["key"] + "\n", **NOTHING_SET)
    assert set(tomllib.loads(path.read_text())["profiles"]) == {"default", "ops"}
    closed = f"http://127.0.0.1:{live.free_port()}"
    assert cli.json("keys", "show", made["id"], "--profile", "ops", KEYPLANE_URL=closed)["id"] == made["id"]

    cli.ok("logout", **NOTHING_SET)
    refused(cli.run("keys", "list", **NOTHING_SET), 2, "keyplane login")
    cli.ok("keys", "show", made["id"], "--profile", "ops", **NOTHING_SET)
    cli.ok("logout", "--profile", "ops")
    assert tomllib.loads(path.read_text()) == {}
    refused(cli.run("keys", "list", "--profile", "ops", **NOTHING_SET), 2, "no profile 'ops'")


def test_a_key_that_does_not_work_is_not_saved(cli: Cli) -> None:
    base = cli.account.base
    wrong = "kp_" + "x" * 40
    line = refused(cli.run("login", "--url", base, input=wrong + "\n", **NOTHING_SET), 1, "401")
    assert wrong not in line
    closed = f"http://127.0.0.1:{live.free_port()}"
    refused(cli.run("login", "--url", closed, input=cli.account.api_key + "\n"), 3, "unreachable")
    refused(cli.run("login", "--url", base, input="\n"), 2, "no API key")
    refused(cli.run("login", "--url", base, "--profile", "no spaces", input="k\n"), 2, "profile name")
    assert not (cli.home / ".config" / "keyplane" / "profiles.toml").exists()


def test_a_saved_key_is_sent_only_to_its_own_address(cli: Cli) -> None:
    cli.ok("login", "--url", cli.account.base, input=cli.account.api_key + "\n", **NOTHING_SET)
    elsewhere = f"http://127.0.0.1:{live.free_port()}"
    refused(cli.run("keys", "list", "--url", elsewhere, **NOTHING_SET), 2, "no API key")
    refused(cli.run("keys", "list", **NOTHING_SET | {"KEYPLANE_URL": elsewhere}), 2, "no API key")


def test_an_unreadable_profile_file_is_a_usage_error(cli: Cli) -> None:
    path = cli.home / ".config" / "keyplane" / "profiles.toml"
    path.parent.mkdir(parents=True)
    path.write_text("[profiles.default\nurl = ")
    refused(cli.run("keys", "list", **NOTHING_SET), 2, "not valid TOML")
    path.write_text('[profiles.default]\nurl = "http://x"\n')
    refused(cli.run("keys", "list", **NOTHING_SET), 2, "needs a url and an api_key")
