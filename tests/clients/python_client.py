"""Both Python clients (``keyplane_client``) behind one awaitable face, so that one test body
checks ``Keyplane`` and ``AsyncKeyplane`` alike: the sync client's calls run in a thread,
as a sync backend's would run beside an event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from keyplane_client import ApiKey, AsyncKeyplane, Keyplane, Retries

Kind = Literal["sync", "async"]
KINDS: tuple[Kind, ...] = ("sync", "async")


class Keys:
    """``client.api_keys`` of either client: ``await keys.call("get", key_id)``."""

    def __init__(self, client: Keyplane | AsyncKeyplane) -> None:
        self.client = client

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self.client, Keyplane):
            return await asyncio.to_thread(getattr(self.client.api_keys, method), *args, **kwargs)
        return await getattr(self.client.api_keys, method)(*args, **kwargs)

    async def listed(self, **kwargs: Any) -> list[ApiKey]:
        """Every key ``list`` yields, across its pages."""
        client = self.client
        if isinstance(client, Keyplane):
            return await asyncio.to_thread(lambda: list(client.api_keys.list(**kwargs)))
        return [key async for key in client.api_keys.list(**kwargs)]


Connect = Callable[[str, str], Keys]


@asynccontextmanager
async def clients(kind: Kind, retries: Retries | None = None) -> AsyncIterator[Connect]:
    """A maker of ``kind`` clients (base URL, API key) closed when the block ends."""
    made: list[Keyplane | AsyncKeyplane] = []

    def connect(url: str, api_key: str) -> Keys:
        client = (Keyplane if kind == "sync" else AsyncKeyplane)(url, api_key, retries=retries)
        made.append(client)
        return Keys(client)

    try:
        yield connect
    finally:
        for client in made:
            if isinstance(client, Keyplane):
                client.close()
            else:
                await client.aclose()
