"""Both Python clients (``keyplane_client``) behind one awaitable face, so that one test body
checks ``Keyplane`` and ``AsyncKeyplane`` alike: the sync client's calls run in a thread,
as a sync backend's would run beside an event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from keyplane_client import AsyncKeyplane, Keyplane, Retries

Kind = Literal["sync", "async"]
KINDS: tuple[Kind, ...] = ("sync", "async")


class Keys:
    """One resource of either client (``client.api_keys`` unless told):
    ``await keys.call("get", key_id)``."""

    def __init__(self, client: Keyplane | AsyncKeyplane, resource: str = "api_keys") -> None:
        self.client = client
        self.resource = resource

    def of(self, resource: str) -> Keys:
        """Another resource of the same client (``licenses``, ``pool``, ``users``, ``events``)."""
        return Keys(self.client, resource)

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self.client, Keyplane):
            bound = getattr(getattr(self.client, self.resource), method)
            return await asyncio.to_thread(bound, *args, **kwargs)
        return await getattr(getattr(self.client, self.resource), method)(*args, **kwargs)

    async def listed(self, *args: Any, **kwargs: Any) -> list[Any]:
        """Every record ``list`` yields, across its pages."""
        client = self.client
        if isinstance(client, Keyplane):
            every = getattr(client, self.resource).list
            return await asyncio.to_thread(lambda: list(every(*args, **kwargs)))
        return [item async for item in getattr(client, self.resource).list(*args, **kwargs)]


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
