"""What the sync and async clients share: a call described as data, how its answer is read,
and when it is retried. Each client only sends the call and sleeps between attempts."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from keyplane_client.errors import Unreachable, error_from, retry_after

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

DEFAULT_TIMEOUT = 10.0
"""Seconds for each of connecting, sending, and waiting for the answer."""


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request to Keyplane and how to read its answer."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    body: dict[str, Any] | None = field(default=None, repr=False)
    """Left out of the ``repr``: it may hold a password."""
    params: dict[str, str] | None = None
    safe: bool = False
    """Whether sending it twice does no more than once (reads, deletes, verifications): only
    a safe call is retried. A create never is: a lost answer could mean a key made twice."""


def model(cls: type[M]) -> Callable[[httpx.Response], M]:
    def read(response: httpx.Response) -> M:
        return cls.model_validate_json(response.content)

    return read


def nothing(response: httpx.Response) -> None:
    return None


def body(request: BaseModel) -> dict[str, Any]:
    """A request model on the wire: its aliases, only the fields given."""
    dumped: dict[str, Any] = request.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dumped


def user_agent() -> str:
    try:
        version = metadata.version("keyplane-client")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"keyplane-client-python/{version}"


def headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": user_agent(), "Accept": "application/json"}


@dataclass(frozen=True, slots=True)
class Retries:
    """When and how long to wait before sending a safe call again: on a connection failure or
    timeout, and on a 503 (Keyplane's answer when its database is busy; its ``Retry-After``
    wins over the backoff), at most ``attempts`` more times, waiting ``backoff`` seconds
    doubled at each attempt, with jitter, and never more than ``longest``."""

    attempts: int = 2
    backoff: float = 0.25
    longest: float = 10.0

    def _wait(self, attempt: int, told: int | None) -> float:
        if told is not None:
            return min(float(told), self.longest)
        doubled = self.backoff * 2.0**attempt
        return min(doubled * (0.5 + random.random() / 2), self.longest)  # noqa: S311 - jitter, not crypto

    def after_answer(self, call: Call[Any], attempt: int, response: httpx.Response) -> float | None:
        """Seconds to wait before the next attempt, or None to take this answer."""
        if response.status_code != 503 or not call.safe or attempt >= self.attempts:
            return None
        return self._wait(attempt, retry_after(response))

    def after_failure(self, call: Call[Any], attempt: int, error: httpx.TransportError) -> float:
        """Seconds to wait before the next attempt; raises ``Unreachable`` when it is over."""
        if not call.safe or attempt >= self.attempts:
            raise Unreachable(
                f"Keyplane did not answer {call.method} {call.path}: {type(error).__name__}",
                code="UNREACHABLE",
            ) from error
        return self._wait(attempt, None)


def answer(call: Call[T], response: httpx.Response) -> T:
    """The call's result, or its error raised."""
    if response.is_success:
        return call.read(response)
    raise error_from(response)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, and the call for the next one (None on the last page)."""

    items: list[T]
    next: Call[Page[T]] | None


def page(
    path: str, params: dict[str, str], read: Callable[[bytes], tuple[list[T], str | None]]
) -> Call[Page[T]]:
    """A list's page at ``path`` with ``params``; ``read`` gives the page's items and its next
    page's URL, whose query the next call sends to ``path`` on this client's own base URL
    (the server's idea of its own address may differ from the one the client reaches it at)."""

    def answer(response: httpx.Response) -> Page[T]:
        items, following = read(response.content)
        if following is None:
            return Page(items, None)
        return Page(items, page(path, dict(httpx.URL(following).params), read))

    return Call("GET", path, answer, params=params, safe=True)
