"""Which server and API key a remote command acts with: ``--url``/``--key``, else the
environment, else a saved profile (``--profile`` naming one wins over the environment), and a
saved key sent only to its own profile's address. A rule as a table, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from keyplane.cli.remote import profiles
from keyplane.cli.remote.session import Target, resolve

SAVED = {
    "default": profiles.Profile("http://saved:8000", "kp_saved"),
    "ops": profiles.Profile("http://ops", "kp_ops"),
}
ENV = {"KEYPLANE_URL": "http://env", "KEYPLANE_API_KEY": "kp_env"}

CASES = [
    # (flags: url, key, profile), environment, expected target or the usage error's words
    (("http://flag", "kp_flag", None), ENV, Target("http://flag", "kp_flag")),
    ((None, None, None), ENV, Target("http://env", "kp_env")),
    ((None, "kp_flag", None), ENV, Target("http://env", "kp_flag")),
    ((None, None, None), {}, Target("http://saved:8000", "kp_saved")),
    ((None, None, None), {"KEYPLANE_PROFILE": "ops"}, Target("http://ops", "kp_ops")),
    ((None, None, "ops"), ENV, Target("http://ops", "kp_ops")),
    (("http://saved:8000/", None, None), {}, Target("http://saved:8000", "kp_saved")),
    (("http://elsewhere", None, None), {}, "no API key"),
    ((None, None, None), {"KEYPLANE_URL": "http://env"}, "no API key"),
    ((None, None, "absent"), {}, "no profile 'absent'"),
    ((None, None, "bad name"), {}, "not a profile name"),
    (("not a url", "k", None), {}, "not an http"),
]


@pytest.mark.parametrize(("flags", "environment", "expected"), CASES)
def test_the_target_is_chosen_in_order(
    flags: tuple[str | None, str | None, str | None],
    environment: dict[str, str],
    expected: Target | str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("KEYPLANE_URL", "KEYPLANE_API_KEY", "KEYPLANE_PROFILE", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, profile in SAVED.items():
        profiles.save(name, profile)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    if isinstance(expected, Target):
        assert resolve(*flags) == expected
        return
    with pytest.raises(typer.Exit) as stopped:
        resolve(*flags)
    assert stopped.value.exit_code == 2
    error = capsys.readouterr().err
    assert expected in error
    assert "kp_" not in error


def test_the_profile_file_is_private_and_round_trips_any_string(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    odd = profiles.Profile('http://h/"quoted"\\path\u00e9', "kp_\n\t\u0001")
    where = profiles.save("odd", odd)
    assert where == tmp_path / "config" / "keyplane" / "profiles.toml"
    assert where.stat().st_mode & 0o777 == 0o600
    assert profiles.read_all() == {"odd": odd}
    assert "kp_" not in repr(odd)
    assert profiles.remove("odd")
    assert not profiles.remove("odd")
    assert profiles.read_all() == {}
