"""``keyplane licenses ...``, ``keyplane pool import`` and ``keyplane events tail`` against a
live ``keyplane serve``: the API's own objects with --json, the records in the tables, each
failure's exit status, and no license key in a report or a table."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests import live
from tests.cli_remote.support import Cli, refused
from tests.clients.support import LiveAccount

pytestmark = pytest.mark.xdist_group("cli_remote")

MONTH = 30 * 24 * 3600


def api(account: LiveAccount, path: str) -> Any:
    response = account.admin("GET", path)
    assert response.status_code == 200, response.text
    return response.json()


def customer(account: LiveAccount) -> tuple[str, str]:
    """A new end customer: (id, email)."""
    email = f"customer-{uuid.uuid4().hex[:8]}@example.com"
    data = account.created("users", "users", {"email": email, "password": "a customer password"})
    return str(data["id"]), email


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex.upper()}"


# -- licenses ----------------------------------------------------------------------------------------


def test_a_license_is_issued_found_suspended_reinstated_renewed_and_revoked(cli: Cli) -> None:
    account = cli.account
    policy = account.policy(account.product(), duration=MONTH)
    owner, email = customer(account)
    made = cli.json(
        "licenses", "create", "--policy", policy, "--owner", owner, "--name", "Ada's", "--metadata", "seats=5"
    )
    stored = api(account, f"licenses/{made['id']}")["data"]
    assert made == stored
    assert (made["attributes"]["name"], made["attributes"]["metadata"]) == ("Ada's", {"seats": "5"})

    key = made["attributes"]["key"]
    assert cli.json("licenses", "show", made["id"]) == stored
    assert cli.json("licenses", "show", key) == stored
    assert cli.lines("licenses", "show", email) == [stored]
    assert (
        cli.lines("licenses", "list", "--policy", policy) == api(account, f"licenses?policy={policy}")["data"]
    )
    assert cli.lines("licenses", "list", "--owner", email) == [stored]

    suspended = cli.json("licenses", "suspend", email)
    assert suspended["attributes"]["status"] == "SUSPENDED"
    assert suspended == api(account, f"licenses/{made['id']}")["data"]
    assert cli.json("licenses", "reinstate", key)["attributes"]["status"] == "ACTIVE"
    renewed = cli.json("licenses", "renew", made["id"])
    assert renewed["attributes"]["expiry"] > made["attributes"]["expiry"]

    cli.ok("licenses", "revoke", made["id"], "--yes")
    assert account.admin("GET", f"licenses/{made['id']}").status_code == 404


def test_the_tables_show_a_preview_of_the_key_and_create_prints_it_alone(cli: Cli) -> None:
    account = cli.account
    policy = account.policy(account.product())
    made = cli.ok("licenses", "create", "--policy", policy, "--name", "tabled")
    key = made.stdout.strip()
    assert made.stdout == key + "\n"
    [license] = api(account, f"licenses?policy={policy}")["data"]
    assert license["attributes"]["key"] == key
    table = cli.ok("licenses", "list", "--policy", policy).stdout
    assert license["id"] in table
    assert "tabled" in table
    assert key not in table
    assert key[:8] in table
    record = cli.ok("licenses", "show", key).stdout
    assert license["id"] in record
    assert key not in record


def test_license_refusals_and_usage_errors(cli: Cli) -> None:
    account = cli.account
    policy = account.policy(account.product())
    owner, email = customer(account)
    for _ in range(2):
        cli.ok("licenses", "create", "--policy", policy, "--owner", owner)
    missing = unique("NO-SUCH-KEY")
    line = refused(cli.run("licenses", "show", missing), 1, "404", "NOT_FOUND")
    assert missing not in line
    refused(cli.run("licenses", "suspend", email), 2, "owns 2 licenses")
    refused(cli.run("licenses", "create", "--policy", str(uuid.uuid4())), 1, "422", "POLICY_NOT_FOUND")
    refused(cli.run("licenses", "list", "--status", "SLEEPING"), 2, "--status")
    refused(cli.run("licenses", "create", "--policy", policy, "--metadata", "seats"), 2, "NAME=VALUE")
    assert cli.run("licenses", "create").exit_code == 2
    assert len(api(account, f"licenses?policy={policy}")["data"]) == 2


# -- pool import ---------------------------------------------------------------------------------------


def test_an_import_adds_each_key_once_reports_each_line_and_is_safe_to_run_again(
    cli: Cli, tmp_path: Path
) -> None:
    account = cli.account
    product = account.product()
    policy, other = account.policy(product, usePool=True), account.policy(product, usePool=True)
    taken = unique("ELSEWHERE")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text(taken + "\n")
    cli.ok("pool", "import", other, str(elsewhere))

    keys = [unique("IMPORTED") for _ in range(2_300)]
    lines = [*keys[:10], "short", "", *keys[10:1_500], taken, *keys[1_500:]]
    file = tmp_path / "keys.txt"
    file.write_text("\n".join(lines) + "\n")
    done = cli.run("pool", "import", policy, str(file))
    assert done.exit_code == 1, done.stderr
    assert "line 11: KEY_TOO_SHORT" in done.stderr
    assert "line 1503: KEY_TAKEN" in done.stderr
    assert "2,300 added, 0 already in the pool, 2 refused." in done.stderr
    assert not any(key in done.stdout + done.stderr for key in [*keys, taken])
    assert (
        api(account, f"policies/{policy}/pool?page[size]=1&page[number]=1")["links"]["meta"]["count"] == 2_300
    )

    again = cli.run("pool", "import", policy, str(file), "--json")
    assert again.exit_code == 1
    reported = [json.loads(line) for line in again.stdout.splitlines()]
    assert reported[-1] == {"added": 0, "present": 2_300, "refused": 2}
    assert [item["line"] for item in reported if item.get("result") == "refused"] == [11, 1_503]
    assert sum(item.get("result") == "present" for item in reported) == 2_300

    clean = tmp_path / "clean.txt"
    clean.write_text("\n".join(keys[:1_200]) + "\n")
    rerun = cli.ok("pool", "import", policy, str(clean))
    assert "lines 1-1200: already in the pool" in rerun.stderr
    assert "0 added, 1,200 already in the pool, 0 refused." in rerun.stderr
    assert (
        api(account, f"policies/{policy}/pool?page[size]=1&page[number]=1")["links"]["meta"]["count"] == 2_300
    )


def test_an_import_reads_a_csv_column_or_stdin(cli: Cli, tmp_path: Path) -> None:
    account = cli.account
    policy = account.policy(account.product(), usePool=True)
    keys = [unique("CSV") for _ in range(3)]
    file = tmp_path / "keys.csv"
    file.write_text("customer,license_key\n" + "".join(f'"Ada, Ltd",{key}\n' for key in keys))
    done = cli.ok("pool", "import", policy, str(file), "--column", "license_key", "--json")
    assert done.stdout.splitlines()[-1] == '{"added": 3, "present": 0, "refused": 0}'
    refused(cli.run("pool", "import", policy, str(file), "--column", "key"), 2, "no column 'key'")
    refused(cli.run("pool", "import", policy, str(tmp_path / "absent.txt")), 2, "cannot read")

    piped = cli.ok("pool", "import", policy, "-", input=f"{keys[0]}\n{unique('STDIN')}\n")
    assert "1 added, 1 already in the pool, 0 refused." in piped.stderr
    assert api(account, f"policies/{policy}/pool?page[size]=1&page[number]=1")["links"]["meta"]["count"] == 4
    refused(
        cli.run("pool", "import", str(uuid.uuid4()), str(file), "--column", "license_key"),
        1,
        "POLICY_NOT_FOUND",
    )


# -- events --------------------------------------------------------------------------------------------


def test_events_tail_prints_the_newest_oldest_first(cli: Cli) -> None:
    account = cli.account
    for _ in range(3):
        account.product()
    newest = api(account, "event-logs?page[size]=5&page[number]=1")["data"]
    assert cli.lines("events", "tail", "-n", "5") == newest[::-1]
    human = cli.ok("events", "tail", "-n", "5").stdout.splitlines()
    assert len(human) == 5
    assert all(event["attributes"]["event"] in text for event, text in zip(newest[::-1], human, strict=True))
    # Each line begins with the event's time as the API writes it.
    assert all(
        text.startswith(event["attributes"]["created"])
        for event, text in zip(newest[::-1], human, strict=True)
    )
    only = cli.lines("events", "tail", "--event", "product.created", "-n", "2")
    assert [event["attributes"]["event"] for event in only] == ["product.created"] * 2


def test_events_tail_follow_prints_new_events_until_interrupted(cli: Cli) -> None:
    command = [str(live.KEYPLANE), "events", "tail", "-n", "1", "--follow", "--interval", "0.2", "--json"]
    with subprocess.Popen(  # noqa: S603 - our own entry point with fixed arguments
        command, env=cli.process_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as follower:
        lines = _lines(follower)
        try:
            first = json.loads(lines.get(timeout=60))
            product = cli.account.product()
            while True:
                event = json.loads(lines.get(timeout=60))
                assert event["id"] != first["id"]
                if event["relationships"]["resource"]["data"]["id"] == product:
                    break
            assert event["attributes"]["event"] == "product.created"
            follower.send_signal(signal.SIGINT)
            assert follower.wait(timeout=30) == 0
            assert follower.stderr is not None
            assert follower.stderr.read() == ""
        finally:
            if follower.poll() is None:
                follower.kill()


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's lines of output as they come (read by a thread of their own)."""
    found: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            found.put(line)

    threading.Thread(target=read, daemon=True).start()
    return found
