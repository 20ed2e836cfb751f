"""The asynchronous client's licensing resources: ``licenses``, ``pool``, ``users``, ``events``.
Each method sends a call built in ``_licenses``, ``_pool``, ``_users`` or ``_events``."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from keyplane_client import _events, _licenses, _pool, _users
from keyplane_client._api_keys import UNSET, Unset, changes
from keyplane_client._calls import Call, Page
from keyplane_client.errors import NotFound
from keyplane_client.licensing import Event, ImportReport, License, LicenseStatus, PoolKey, User, UserRole

if TYPE_CHECKING:
    from keyplane_client.aio import AsyncKeyplane

T = TypeVar("T")


async def _every(client: AsyncKeyplane, call: Call[Page[T]] | None) -> AsyncIterator[T]:
    while call is not None:
        page = await client.send(call)
        for item in page.items:
            yield item
        call = page.next


def _one_of(key: str | None, email: str | None) -> None:
    if (key is None) == (email is None):
        raise ValueError("find takes a key or an email, one of them")


class AsyncLicenses:
    """``/v1/licenses``: find, issue and manage licenses."""

    def __init__(self, client: AsyncKeyplane) -> None:
        self._client = client

    def list(
        self,
        *,
        status: LicenseStatus | None = None,
        policy: str | None = None,
        product: str | None = None,
        user: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[License]:
        """Every license the client may see, newest first, fetched a page at a time as iterated;
        ``user`` is the owner's id or email."""
        call = _licenses.first_page(
            status=status, policy=policy, product=product, user=user, page_size=page_size
        )
        return _every(self._client, call)

    async def get(self, id_or_key: str) -> License:
        return await self._client.send(_licenses.get(id_or_key))

    async def find(self, key: str | None = None, email: str | None = None) -> builtins.list[License]:
        """The license with this key (or id), or the licenses of the user with this email;
        empty when there is none."""
        _one_of(key, email)
        if key is not None:
            try:
                return [await self.get(key)]
            except NotFound:
                return []
        return [found async for found in self.list(user=email)]

    async def create(
        self,
        *,
        policy: str,
        user: str | None = None,
        name: str | None = None,
        expiry: datetime | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> License:
        """A new license of ``policy`` (owned by ``user``, an id, when given); its key comes
        from the policy's pool when it is pooled."""
        return await self._client.send(
            _licenses.create(policy=policy, user=user, name=name, expiry=expiry, metadata=metadata)
        )

    async def update(
        self,
        license_id: str,
        *,
        name: str | Unset | None = UNSET,
        expiry: datetime | Unset | None = UNSET,
        metadata: dict[str, Any] | Unset | None = UNSET,
    ) -> License:
        """Change the fields given (``None`` clears one)."""
        given = changes(name=name, expiry=expiry, metadata=metadata)
        return await self._client.send(_licenses.update(license_id, given))

    async def suspend(self, license_id: str) -> License:
        return await self._client.send(_licenses.action(license_id, "suspend"))

    async def reinstate(self, license_id: str) -> License:
        return await self._client.send(_licenses.action(license_id, "reinstate"))

    async def renew(self, license_id: str) -> License:
        """Extend the expiry by the policy's duration."""
        return await self._client.send(_licenses.action(license_id, "renew"))

    async def revoke(self, license_id: str) -> None:
        """Revoke a license: it is deleted, with its machines (its event says revoked)."""
        await self._client.send(_licenses.revoke(license_id))

    async def delete(self, license_id: str) -> None:
        await self._client.send(_licenses.delete(license_id))


class AsyncPool:
    """``/v1/policies/{policy}/pool``: the keys waiting in a pooled policy's pool."""

    def __init__(self, client: AsyncKeyplane) -> None:
        self._client = client

    def list(self, policy: str, *, page_size: int = 100) -> AsyncIterator[PoolKey]:
        """The pool's keys, newest first (the next to be taken first)."""
        return _every(self._client, _pool.first_page(policy, page_size))

    async def get(self, policy: str, key_id: str) -> PoolKey:
        return await self._client.send(_pool.get(policy, key_id))

    async def pop(self, policy: str) -> PoolKey:
        """Take the next key out of the pool for good."""
        return await self._client.send(_pool.pop(policy))

    async def import_keys(self, policy: str, keys: Iterable[str], batch: int = 1000) -> ImportReport:
        """Add ``keys`` to the pool, ``batch`` a request (each one transaction), reading
        ``keys`` as they are sent. A key already in the pool is reported present, not added
        again: running the same import twice adds nothing the second time. Lines count from
        1 in the order of ``keys``."""
        report = ImportReport()
        line = 1
        for part in _pool.batches(keys, batch):
            answer = await self._client.send(_pool.import_batch(policy, part))
            report.take(answer.meta, part, line)
            line += len(part)
        return report


class AsyncUsers:
    """``/v1/users``: the account's staff and end customers."""

    def __init__(self, client: AsyncKeyplane) -> None:
        self._client = client

    def list(self, *, role: UserRole | None = None, page_size: int = 100) -> AsyncIterator[User]:
        return _every(self._client, _users.first_page(role=role, page_size=page_size))

    async def get(self, id_or_email: str) -> User:
        return await self._client.send(_users.get(id_or_email))

    async def create(
        self,
        *,
        email: str,
        password: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        role: UserRole | None = None,
    ) -> User:
        """A new user (an end customer unless ``role`` says otherwise). The password is sent
        once and appears in no answer, ``repr`` or error."""
        return await self._client.send(
            _users.create(
                email=email, password=password, first_name=first_name, last_name=last_name, role=role
            )
        )

    async def update(
        self,
        user_id: str,
        *,
        first_name: str | Unset | None = UNSET,
        last_name: str | Unset | None = UNSET,
        password: str | Unset | None = UNSET,
        role: UserRole | Unset | None = UNSET,
    ) -> User:
        """Change the fields given (``None`` clears a name; a new password or role ends the
        user's tokens and sessions)."""
        given = changes(first_name=first_name, last_name=last_name, password=password, role=role)
        return await self._client.send(_users.update(user_id, given))

    async def delete(self, user_id: str) -> None:
        """Delete a user and every credential they own."""
        await self._client.send(_users.delete(user_id))


class AsyncEvents:
    """``/v1/event-logs``: what happened in the account, newest first (admins only)."""

    def __init__(self, client: AsyncKeyplane) -> None:
        self._client = client

    def list(
        self,
        *,
        event: str | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        whodunnit_type: str | None = None,
        whodunnit_id: str | None = None,
        start: date | None = None,
        end: date | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Event]:
        """Every event that passes the filters given, newest first. ``resource_id`` goes with
        ``resource_type`` (``license``, ``key``, ...), ``whodunnit_id`` with ``whodunnit_type``
        (``user``, ``api-key``, ``token``, ``product``, ``license``, ``system``); ``start`` and
        ``end`` (days, both included) go together and span at most 31 days."""
        call = _events.first_page(
            event=event,
            resource_type=resource_type,
            resource_id=resource_id,
            whodunnit_type=whodunnit_type,
            whodunnit_id=whodunnit_id,
            start=start,
            end=end,
            page_size=page_size,
        )
        return _every(self._client, call)
