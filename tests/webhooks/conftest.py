from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from keyplane.config import Settings
from tests.webhooks.receiver import Receiver, receiving


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Receivers on loopback, deliveries looked for often, retries within a fraction of a second."""
    return settings.model_copy(
        update={"webhooks_allow_private": True, "webhooks_poll_seconds": 0.05, "webhooks_retry_seconds": 0.2}
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as listening:
        yield listening
