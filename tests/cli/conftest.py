from __future__ import annotations

from collections.abc import Iterator

import pytest

from keyplane.config import get_settings


@pytest.fixture(autouse=True)
def _settings_read_anew() -> Iterator[None]:
    """Each command reads the environment the test set (``support.operate``), and the next
    test does not inherit what this one read."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
