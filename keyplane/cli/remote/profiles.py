"""Saved connections for the remote commands: ``keyplane login`` writes one, ``keyplane logout``
forgets it.

One TOML file, ``$XDG_CONFIG_HOME/keyplane/profiles.toml`` (``~/.config/...`` by default),
readable by its owner only (it holds API keys)::

    [profiles.default]
    url = "https://keys.example.com"
    api_key = "kp_..."
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT = "default"
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ProfileError(Exception):
    """The profile file cannot be read, or a profile name is not one."""


@dataclass(frozen=True)
class Profile:
    url: str
    api_key: str = field(repr=False)


def path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "keyplane" / "profiles.toml"


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ProfileError(f"{name!r} is not a profile name (letters, digits, - and _; at most 64)")
    return name


def read_all() -> dict[str, Profile]:
    """Every saved profile by name; none when the file does not exist."""
    where = path()
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ProfileError(f"cannot read {where}: {error.strerror}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{where} is not valid TOML ({error})") from None
    found: dict[str, Profile] = {}
    tables = document.get("profiles", {})
    if not isinstance(tables, dict):
        raise ProfileError(f"{where}: [profiles] must be a table")
    for name, table in tables.items():
        url, key = (table.get("url"), table.get("api_key")) if isinstance(table, dict) else (None, None)
        if not isinstance(url, str) or not isinstance(key, str):
            raise ProfileError(f"{where}: profile {name!r} needs a url and an api_key, both strings")
        found[name] = Profile(url=url, api_key=key)
    return found


def _write_all(profiles: dict[str, Profile]) -> None:
    where = path()
    where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # JSON's string escapes are valid in TOML's basic strings; names are bare keys (NAME).
    lines = []
    for name, profile in sorted(profiles.items()):
        lines += [f"[profiles.{name}]", f"url = {json.dumps(profile.url)}"]
        lines += [f"api_key = {json.dumps(profile.api_key)}", ""]
    # Written whole to a private temporary file, then renamed over: never a moment when the
    # file is half written or readable by others.
    descriptor, temporary = tempfile.mkstemp(dir=where.parent, prefix=".profiles-", suffix=".toml")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write("\n".join(lines))
        os.chmod(temporary, 0o600)
        os.replace(temporary, where)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save(name: str, profile: Profile) -> Path:
    """Add or replace profile ``name``; the file's path."""
    profiles = read_all()
    profiles[check_name(name)] = profile
    _write_all(profiles)
    return path()


def remove(name: str) -> bool:
    """Forget profile ``name``; whether there was one."""
    profiles = read_all()
    if profiles.pop(check_name(name), None) is None:
        return False
    _write_all(profiles)
    return True
