"""The asynchronous client: ``AsyncKeyplane(url, api_key)``, the same calls awaited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import TypeVar

import httpx

from keyplane_client import _api_keys as calls
from keyplane_client._api_keys import UNSET, Unset
from keyplane_client._calls import DEFAULT_TIMEOUT, Call, Retries, answer, headers
from keyplane_client.aio_resources import AsyncEvents, AsyncLicenses, AsyncPool, AsyncUsers
from keyplane_client.models import ApiKey, ApiKeyPage, CreatedApiKey, RateLimit, Scope, Status, Verification

T = TypeVar("T")


class AsyncKeyplane:
    """A client of one Keyplane server, acting with one API key.

    It keeps its connections open between calls: make one and share it (in one event loop),
    and close it when done (``await aclose()``, or use it as a context manager). Safe calls (reads,
    deletes, verifications) are retried on a connection failure and on a 503, as ``retries``
    says; a create never is.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: Retries | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers(api_key), timeout=timeout)
        self._retries = retries or Retries()
        self.api_keys = AsyncApiKeys(self)
        self.licenses = AsyncLicenses(self)
        self.pool = AsyncPool(self)
        self.users = AsyncUsers(self)
        self.events = AsyncEvents(self)

    async def send(self, call: Call[T]) -> T:
        """Send ``call``, retrying it as ``retries`` allows; its result or its error."""
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    call.method, call.path, json=call.body, params=call.params
                )
            except httpx.TransportError as error:
                wait = self._retries.after_failure(call, attempt, error)
            else:
                found = self._retries.after_answer(call, attempt, response)
                if found is None:
                    return answer(call, response)
                wait = found
            await asyncio.sleep(wait)
            attempt += 1

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncKeyplane:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()


class AsyncApiKeys:
    """``/v1/api-keys``: verify keys your customers present, and manage keys."""

    def __init__(self, client: AsyncKeyplane) -> None:
        self._client = client

    async def verify(
        self, key: str, *, ip: str | None = None, scopes: Sequence[Scope] | None = None
    ) -> Verification:
        """Check a key one of your customers presented, from address ``ip``, for ``scopes``.
        A refused key is an answer (``valid`` false, ``code`` why), not an exception."""
        return await self._client.send(calls.verify(key, ip, scopes))

    async def create(
        self,
        *,
        name: str | None = None,
        scopes: Sequence[Scope] | None = None,
        owner_id: str | None = None,
        description: str | None = None,
        whitelisted_ips: Sequence[str] | None = None,
        api_version: str | None = None,
        expires_at: datetime | None = None,
        rate_limit: RateLimit | None = None,
    ) -> CreatedApiKey:
        """A new key; its secret ``key`` is in this answer and never again."""
        return await self._client.send(
            calls.create(
                name=name,
                scopes=scopes,
                owner_id=owner_id,
                description=description,
                whitelisted_ips=whitelisted_ips,
                api_version=api_version,
                expires_at=expires_at,
                rate_limit=rate_limit,
            )
        )

    async def list(
        self,
        *,
        status: Status | None = None,
        name: str | None = None,
        owner_id: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[ApiKey]:
        """Every key the client may see, newest first, fetched a page at a time as iterated."""
        call: Call[ApiKeyPage] | None = calls.first_page(
            status=status, name=name, owner_id=owner_id, page_size=page_size
        )
        while call is not None:
            page = await self._client.send(call)
            for key in page.data:
                yield key
            call = calls.next_page(page)

    async def get(self, key_id: str) -> ApiKey:
        return await self._client.send(calls.get(key_id))

    async def update(
        self,
        key_id: str,
        *,
        name: str | Unset | None = UNSET,
        description: str | Unset | None = UNSET,
        scopes: Sequence[Scope] | Unset | None = UNSET,
        whitelisted_ips: Sequence[str] | Unset | None = UNSET,
        api_version: str | Unset | None = UNSET,
        status: Status | Unset | None = UNSET,
        rate_limit: RateLimit | Unset | None = UNSET,
    ) -> ApiKey:
        """Change the fields given (``None`` clears one); ``status="inactive"`` deactivates."""
        changes = calls.changes(
            name=name,
            description=description,
            scopes=scopes,
            whitelisted_ips=whitelisted_ips,
            api_version=api_version,
            status=status,
            rate_limit=rate_limit,
        )
        return await self._client.send(calls.update(key_id, changes))

    async def delete(self, key_id: str) -> None:
        """Revoke a key for good: its next verification answers ``REVOKED``."""
        await self._client.send(calls.delete(key_id))
