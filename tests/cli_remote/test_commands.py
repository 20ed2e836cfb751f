"""The remote commands as a whole, without a server: each one's --help has an example, and
without the Python client each says how to install it (exit 2) while the others still work."""

from __future__ import annotations

import sys

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from keyplane.cli import app
from keyplane.cli.remote import _remote_app
from keyplane.cli.remote.absent import COMMANDS, INSTALL, absent_app


def _remote_commands() -> list[list[str]]:
    """Every remote command's words (``["keys", "list"]``, ``["login"]``, ...)."""
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    found: list[list[str]] = []
    for name in COMMANDS:
        command = root.commands[name]
        if isinstance(command, TyperGroup):
            found += [[name, sub] for sub in command.commands]
        else:
            found.append([name])
    return found


@pytest.mark.parametrize("words", _remote_commands(), ids=" ".join)
def test_every_remote_command_has_help_with_an_example(words: list[str]) -> None:
    shown = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "Example: keyplane " + " ".join(words) in shown.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_without_the_client_each_remote_command_says_how_to_install_it(name: str) -> None:
    done = CliRunner().invoke(absent_app, [name, "list", "--json"])
    assert (done.exit_code, done.stdout) == (2, "")
    assert done.stderr == f"error: `keyplane {name}` needs the Python client (keyplane-client): {INSTALL}\n"


def test_the_stand_ins_are_chosen_only_when_the_client_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _remote_app() is not absent_app
    monkeypatch.delitem(sys.modules, "keyplane.cli.remote.commands")
    monkeypatch.setitem(sys.modules, "keyplane_client", None)  # as if not installed
    assert _remote_app() is absent_app
