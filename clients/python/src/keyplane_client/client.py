"""The synchronous client: ``Keyplane(url, api_key)``."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import TypeVar

import httpx

from keyplane_client import _api_keys as calls
from keyplane_client._api_keys import UNSET, Unset
from keyplane_client._calls import DEFAULT_TIMEOUT, Call, Retries, answer, headers
from keyplane_client.models import ApiKey, ApiKeyPage, CreatedApiKey, RateLimit, Scope, Status, Verification
from keyplane_client.resources import Events, Licenses, Pool, Users

T = TypeVar("T")


class Keyplane:
    """A client of one Keyplane server, acting with one API key.

    It keeps its connections open between calls: make one and share it (it is thread-safe),
    and close it when done (``close()``, or use it as a context manager). Safe calls (reads,
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
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers(api_key), timeout=timeout)
        self._retries = retries or Retries()
        self.api_keys = ApiKeys(self)
        self.licenses = Licenses(self)
        self.pool = Pool(self)
        self.users = Users(self)
        self.events = Events(self)

    def send(self, call: Call[T]) -> T:
        """Send ``call``, retrying it as ``retries`` allows; its result or its error."""
        attempt = 0
        while True:
            try:
                response = self._http.request(call.method, call.path, json=call.body, params=call.params)
            except httpx.TransportError as error:
                wait = self._retries.after_failure(call, attempt, error)
            else:
                found = self._retries.after_answer(call, attempt, response)
                if found is None:
                    return answer(call, response)
                wait = found
            time.sleep(wait)
            attempt += 1

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Keyplane:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


class ApiKeys:
    """``/v1/api-keys``: verify keys your customers present, and manage keys."""

    def __init__(self, client: Keyplane) -> None:
        self._client = client

    def verify(
        self, key: str, *, ip: str | None = None, scopes: Sequence[Scope] | None = None
    ) -> Verification:
        """Check a key one of your customers presented, from address ``ip``, for ``scopes``.
        A refused key is an answer (``valid`` false, ``code`` why), not an exception."""
        return self._client.send(calls.verify(key, ip, scopes))

    def create(
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
        return self._client.send(
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

    def list(
        self,
        *,
        status: Status | None = None,
        name: str | None = None,
        owner_id: str | None = None,
        page_size: int = 100,
    ) -> Iterator[ApiKey]:
        """Every key the client may see, newest first, fetched a page at a time as iterated."""
        call: Call[ApiKeyPage] | None = calls.first_page(
            status=status, name=name, owner_id=owner_id, page_size=page_size
        )
        while call is not None:
            page = self._client.send(call)
            yield from page.data
            call = calls.next_page(page)

    def get(self, key_id: str) -> ApiKey:
        return self._client.send(calls.get(key_id))

    def update(
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
        return self._client.send(calls.update(key_id, changes))

    def delete(self, key_id: str) -> None:
        """Revoke a key for good: its next verification answers ``REVOKED``."""
        self._client.send(calls.delete(key_id))
