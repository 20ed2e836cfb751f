"""The password rule every interface checks (``keyplane.kit.passwords.refusal``)."""

from __future__ import annotations

import pytest

from keyplane.kit.passwords import refusal


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("", "at least 8"),
        ("seven77", "at least 8"),
        ("eight888", None),
        ("x" * 1024, None),
        ("x" * 1025, "at most 1024"),
    ],
)
def test_refusal(password: str, problem: str | None) -> None:
    found = refusal(password)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
