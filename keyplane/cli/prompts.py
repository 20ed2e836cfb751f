"""What the ``keyplane`` command must never take as an argument (a password, a passphrase):
asked without echo on a terminal, or read as one line from stdin for scripts; and the one
line a refused command prints."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer


def fail(line: str) -> NoReturn:
    """Stop the command: ``error: <line>`` on stderr, exit status 1."""
    typer.echo(f"error: {line}", err=True)
    raise typer.Exit(1)


def interactive() -> bool:
    """Whether someone types at stdin (a terminal), or a script feeds it."""
    return sys.stdin.isatty()


def secret(what: str, *, from_stdin: bool, confirm: bool = True) -> str:
    """A ``what`` ("password", "passphrase"): one line of stdin with ``from_stdin`` or when
    stdin is not a terminal, else typed without echo (twice with ``confirm``: two answers
    that differ stop the command). The prompts go to stderr: stdout stays the command's
    answer, for scripts."""
    if from_stdin or not interactive():
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            fail(f"no {what} on stdin: give it as one line")
        return value
    first: str = typer.prompt(what.capitalize(), hide_input=True, err=True)
    if confirm:
        again: str = typer.prompt(f"The {what} again", hide_input=True, err=True)
        if again != first:
            fail(f"the two {what}s differ; nothing was changed")
    return first
