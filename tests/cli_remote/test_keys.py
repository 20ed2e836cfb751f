"""``keyplane keys ...`` against a live ``keyplane serve``: each command's JSON is the API's own
object, its table the same record, and each failure its exit status and one line."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest

from tests import live
from tests.cli_remote.support import Cli, refused
from tests.clients.support import LiveAccount

pytestmark = pytest.mark.xdist_group("cli_remote")
"""One worker runs these tests: the module's live server starts once per database."""


def api(account: LiveAccount, path: str) -> Any:
    """What the API itself answers to a GET, to compare the command's output with."""
    response = account.admin("GET", path)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_key_is_created_shown_listed_updated_deactivated_and_deleted(cli: Cli) -> None:
    name = f"billing-{uuid.uuid4().hex[:8]}"
    created = cli.json("keys", "create", "--name", name, "--scope", "READ", "--ip", "10.0.0.0/8")
    assert created["key"].startswith("kp_")
    stored = api(cli.account, f"api-keys/{created['id']}")
    assert created == stored | {"key": created["key"]}

    assert cli.json("keys", "show", created["id"]) == stored
    listed = cli.lines("keys", "list", "--name", name)
    assert listed == api(cli.account, f"api-keys?name={name}")["data"] == [stored]

    updated = cli.json("keys", "update", created["id"], "--name", f"{name}-v2", "--rate-limit", "100/60")
    assert (updated["name"], updated["rateLimit"]) == (f"{name}-v2", {"limit": 100, "duration": 60})
    assert updated == api(cli.account, f"api-keys/{created['id']}")
    cleared = cli.json("keys", "update", created["id"], "--clear", "ips", "--clear", "rate-limit")
    assert (cleared["whitelistedIPs"], cleared["rateLimit"]) == (None, None)

    verified = cli.json("keys", "verify", created["key"], "--scope", "READ")
    assert (verified["valid"], verified["code"], verified["keyId"]) == (True, "VALID", created["id"])

    deactivated = cli.json("keys", "deactivate", created["id"])
    assert deactivated["status"] == "inactive"
    assert api(cli.account, f"api-keys/{created['id']}")["status"] == "inactive"
    inactive = cli.run("keys", "verify", "-", input=created["key"] + "\n")
    assert (inactive.exit_code, inactive.stdout.split(":")[0]) == (1, "INACTIVE")

    deleted = cli.run("keys", "delete", created["id"], "--yes")
    assert (deleted.exit_code, deleted.stdout) == (0, "")
    revoked = cli.run("keys", "verify", created["key"])
    assert (revoked.exit_code, revoked.stdout.split(":")[0]) == (1, "REVOKED")
    assert api(cli.account, f"api-keys/{created['id']}")["deletedAt"] is not None


def test_the_tables_show_the_records_and_create_prints_the_secret_alone_on_stdout(cli: Cli) -> None:
    name = f"table-{uuid.uuid4().hex[:8]}"
    made = cli.ok("keys", "create", "--name", name, "--scope", "READ", "--scope", "CREATE")
    secret = made.stdout.strip()
    assert secret.startswith("kp_")
    assert made.stdout == secret + "\n"
    assert "shown this once" in made.stderr
    assert name in made.stderr
    valid = cli.ok("keys", "verify", secret)
    assert valid.stdout.startswith("VALID: ")

    [key] = api(cli.account, f"api-keys?name={name}")["data"]
    table = cli.ok("keys", "list", "--name", name).stdout
    assert key["id"] in table
    assert name in table
    assert "READ, CREATE" in table
    assert secret not in table
    record = cli.ok("keys", "show", key["id"]).stdout
    assert key["id"] in record
    assert key["start"] in record
    assert secret not in record


def test_an_api_refusal_is_exit_1_with_the_apis_code(cli: Cli) -> None:
    missing = str(uuid.uuid4())
    refused(cli.run("keys", "show", missing), 1, "404", "NOT_FOUND")
    refused(cli.run("keys", "delete", missing, "--yes"), 1, "NOT_FOUND")
    refused(cli.run("keys", "update", missing, "--name", "x"), 1, "NOT_FOUND")
    reader = cli.json("keys", "create", "--name", "reader", "--scope", "READ")
    line = refused(cli.run("keys", "create", "--name", "more", KEYPLANE_API_KEY=reader["key"]), 1, "403")
    assert reader["key"] not in line
    refused(cli.run("keys", "create", "--name", "x" * 300), 1, "422")
    # Nothing was made by the refused calls.
    assert api(cli.account, "api-keys?name=more")["data"] == []


def test_a_usage_error_is_exit_2_and_changes_nothing(cli: Cli) -> None:
    before = api(cli.account, "api-keys")["total"]
    assert cli.run("keys", "create", "--no-such-option").exit_code == 2
    assert cli.run("keys", "show").exit_code == 2
    refused(cli.run("keys", "create", "--rate-limit", "lots"), 2, "--rate-limit")
    refused(cli.run("keys", "create", "--scope", "EVERYTHING"), 2, "--scope")
    refused(cli.run("keys", "create", "--expires", "2030-01-01T00:00:00"), 2, "time zone")
    refused(cli.run("keys", "update", str(uuid.uuid4())), 2, "nothing to change")
    refused(cli.run("keys", "list", KEYPLANE_URL=None), 2, "keyplane login")
    refused(cli.run("keys", "list", KEYPLANE_API_KEY=None), 2, "no API key")
    refused(cli.run("keys", "list", "--url", "ftp://example.com"), 2, "not an http")
    assert api(cli.account, "api-keys")["total"] == before


def test_an_unreachable_keyplane_is_exit_3_with_one_line(cli: Cli) -> None:
    closed = f"http://127.0.0.1:{live.free_port()}"
    refused(cli.run("keys", "list", "--url", closed), 3, "unreachable", closed)
    # The installed command, as a script runs it: the same line, no traceback.
    env = cli.process_env(KEYPLANE_URL=closed)
    done = subprocess.run(  # noqa: S603 - our own entry point with fixed arguments
        [str(live.KEYPLANE), "keys", "verify", "kp_whatever"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr.startswith("error: Keyplane at ")
    assert len(done.stderr.splitlines()) == 1
    assert cli.account.api_key not in done.stderr


def test_without_the_python_client_the_remote_commands_say_how_to_install_it() -> None:
    program = (
        "import sys; sys.modules['keyplane_client'] = None\n"
        "from keyplane.cli import main\n"
        "sys.argv = ['keyplane', 'keys', 'list', '--json']\n"
        "main()\n"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter with a fixed program
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: `keyplane keys` needs the Python client (keyplane-client): " + (
        "pip install ./clients/python\n"
    )
