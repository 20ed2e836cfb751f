"""Stand-ins for the remote commands when the Python client is not installed: each says how to
install it, in one line, with exit status 2."""

from __future__ import annotations

import typer

INSTALL = "pip install ./clients/python"
COMMANDS = ("keys", "licenses", "pool", "events", "login", "logout")

absent_app = typer.Typer()


def _stand_in(name: str) -> None:
    @absent_app.command(
        name,
        help=f"Needs the Python client (keyplane-client): {INSTALL}",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )
    def command(context: typer.Context) -> None:
        typer.echo(f"error: `keyplane {name}` needs the Python client (keyplane-client): {INSTALL}", err=True)
        raise typer.Exit(2)


for _name in COMMANDS:
    _stand_in(_name)
