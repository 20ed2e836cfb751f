"""Running the ``keyplane`` command against a live server, and checking what it printed."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from keyplane.cli import app
from tests.clients.support import LiveAccount


@dataclass
class Cli:
    account: LiveAccount
    home: Path

    def env(self, **overrides: str | None) -> dict[str, str | None]:
        """The command's environment: HOME here, the live server named, no saved profile
        chosen; ``overrides`` (None unsets one)."""
        base: dict[str, str | None] = {
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": None,
            "KEYPLANE_URL": self.account.base,
            "KEYPLANE_API_KEY": self.account.api_key,
            "KEYPLANE_PROFILE": None,
            "COLUMNS": "200",
        }
        return base | overrides

    def process_env(self, **overrides: str | None) -> dict[str, str]:
        """``env`` over this process's environment, for the command run as a subprocess."""
        inherited = {name: value for name, value in os.environ.items() if not name.startswith("KEYPLANE_")}
        merged: dict[str, str | None] = {**inherited, **self.env(**overrides)}
        return {name: value for name, value in merged.items() if value is not None}

    def run(self, *args: str, input: str | None = None, **env: str | None) -> Result:
        """``keyplane <args>``; the acting API key appears in none of its output."""
        result = CliRunner().invoke(app, list(args), input=input, env=self.env(**env), catch_exceptions=False)
        assert self.account.api_key not in result.stdout
        assert self.account.api_key not in result.stderr
        return result

    def ok(self, *args: str, input: str | None = None, **env: str | None) -> Result:
        result = self.run(*args, input=input, **env)
        assert result.exit_code == 0, result.stdout + result.stderr
        return result

    def json(self, *args: str, **env: str | None) -> Any:
        """``keyplane <args> --json``: the one JSON document it printed."""
        return json.loads(self.ok(*args, "--json", **env).stdout)

    def lines(self, *args: str, **env: str | None) -> list[Any]:
        """``keyplane <args> --json``: the JSON objects it printed, one a line."""
        return [json.loads(line) for line in self.ok(*args, "--json", **env).stdout.splitlines()]


def refused(result: Result, status: int, *expected: str) -> str:
    """A command that stopped with ``status``: nothing on stdout, one line on stderr (never a
    traceback) holding every ``expected`` text."""
    assert result.exit_code == status, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for piece in expected:
        assert piece in lines[0], lines[0]
    return lines[0]
