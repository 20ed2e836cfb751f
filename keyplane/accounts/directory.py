"""Which account a request names, remembered per process.

An account's id and slug never change, so a resolved reference stays true for the life of
the account. Only found accounts are remembered (the memory is bounded by the number of
real accounts, not by what clients send). Nothing deletes or renames accounts yet; the
change that adds deletion must evict the account here (and in other processes).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.accounts import repository
from keyplane.auth.principal import AccountRef


class AccountDirectory:
    def __init__(self, default_ref: str | None) -> None:
        self._default_ref = default_ref or None
        self._known: dict[str, AccountRef] = {}
        self._default: AccountRef | None = None

    def known(self, ref: str | None) -> AccountRef | None:
        """The account ``ref`` names (None: the default one) if already resolved; no I/O."""
        return self._default if ref is None else self._known.get(ref)

    async def named(self, session: AsyncSession, ref: str) -> AccountRef | None:
        known = self._known.get(ref)
        if known is not None:
            return known
        if "\x00" in ref:
            return None  # no slug holds one, and PostgreSQL refuses to compare with it
        account = await repository.by_id_or_slug(session, ref)
        if account is None:
            return None
        found = AccountRef(account.id, account.slug)
        self._known[ref] = found
        return found

    async def default(self, session: AsyncSession) -> AccountRef | None:
        """``KEYPLANE_ACCOUNT``, else the oldest account."""
        if self._default is not None:
            return self._default
        if self._default_ref is not None:
            found = await self.named(session, self._default_ref)
        else:
            oldest = await repository.oldest(session)
            found = AccountRef(oldest.id, oldest.slug) if oldest is not None else None
        self._default = found
        return found
