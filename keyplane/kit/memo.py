"""Process-wide memos: small dictionaries of things computed once (a rendered header, a
principal, a content type) and read on every request of a hot path.

Every such memo is a ``Memo``: a ``dict`` (so a read is one C call, as fast as a plain
dictionary's) that is created with a name and a bound and written only through ``put``,
which empties it when it is full rather than let it grow with what clients send. The
module-level ones are listed in ``MEMOS``, so a test can check them all and an operator
can see what a process keeps.
"""

from __future__ import annotations

from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V]):
    __slots__ = ("bound", "name")

    def __init__(self, name: str, bound: int, *, listed: bool = True) -> None:
        super().__init__()
        if bound < 1:
            raise ValueError("a memo needs room for at least one entry")
        self.name = name
        self.bound = bound
        if listed:
            MEMOS.append(self)

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` under ``key`` (emptying the memo first when it is full)."""
        if len(self) >= self.bound and key not in self:
            self.clear()
        self[key] = value
        return value

    def keep(self, key: K, value: V) -> V:
        """The value already kept under ``key``, else ``value``, now kept (``setdefault``
        within the bound)."""
        known = self.get(key)
        return known if known is not None else self.put(key, value)


MEMOS: list[Memo[Any, Any]] = []
"""Every module-level memo, in the order the modules made them."""
