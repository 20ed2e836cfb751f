"""A pooled policy's pool (``/v1/policies/{policy}/pool``), built once for both clients."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from keyplane_client import _wire as wire
from keyplane_client._calls import Call, Page, body, model
from keyplane_client.licensing import PoolKey

BATCH = 1_000
"""The most keys Keyplane takes in one import request."""
BODY_BUDGET = 512 * 1024
"""The most bytes of keys sent in one request: far below Keyplane's smallest body limit."""
_ONE = wire.one(wire.Document[wire.KeyResource], PoolKey.of)
_LIST = wire.ListDocument[wire.KeyResource]


def first_page(policy: str, page_size: int) -> Call[Page[PoolKey]]:
    return wire.listing(wire.quoted("policies", policy, "pool"), {}, page_size, _LIST, PoolKey.of)


def get(policy: str, key_id: str) -> Call[PoolKey]:
    return Call("GET", wire.quoted("policies", policy, "pool", key_id), _ONE, safe=True)


def pop(policy: str) -> Call[PoolKey]:
    """Takes a key out for good: never retried (a lost answer would lose a second key)."""
    return Call("DELETE", wire.quoted("policies", policy, "pool"), _ONE)


def batches(keys: Iterable[str], batch: int) -> Iterator[list[str]]:
    """``keys`` in lists of at most ``batch`` (and ``BATCH``) keys and ``BODY_BUDGET`` bytes,
    read as they are needed (a file of any size is never all in memory)."""
    if not 1 <= batch <= BATCH:
        raise ValueError(f"batch must be between 1 and {BATCH} (got {batch})")
    part: list[str] = []
    size = 0
    for key in keys:
        if part and (len(part) == batch or size + len(key) > BODY_BUDGET):
            yield part
            part, size = [], 0
        part.append(key)
        size += len(key) + 64
    if part:
        yield part


def import_batch(policy: str, keys: list[str]) -> Call[wire.ImportDocument]:
    """One batch of an import. Safe to send again: a key it added is present the second time."""
    items = [wire.ImportItem(type="keys", attributes=wire.ImportAttributes(key=key)) for key in keys]
    request = body(wire.ImportBody(data=items))
    return Call(
        "POST",
        wire.quoted("policies", policy, "pool", "import"),
        model(wire.ImportDocument),
        body=request,
        safe=True,
    )
