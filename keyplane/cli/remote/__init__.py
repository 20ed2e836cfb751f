"""The ``keyplane`` command's remote commands (``keys``, ``login``, ...), which need the Python
client: ``remote_app`` has them, or stand-ins saying how to install it when it is absent (a bare
``pip install .`` of the server), so the local commands keep working either way."""

from __future__ import annotations

import typer

# The client's own imports: a ModuleNotFoundError naming one of these means "not installed".
_CLIENT = ("keyplane_client", "httpx")


def _remote_app() -> typer.Typer:
    try:
        from keyplane.cli.remote.commands import remote_app
    except ModuleNotFoundError as missing:
        if (missing.name or "").partition(".")[0] not in _CLIENT:
            raise
        from keyplane.cli.remote.absent import absent_app

        return absent_app
    return remote_app


remote_app = _remote_app()
