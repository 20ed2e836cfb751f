"""The end of every request: its access line and its counts (``Keyplane.__call__``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from starlette.types import Scope

from keyplane.config import Settings
from keyplane.kit.memo import Memo
from keyplane.observe.exchange import Exchange
from keyplane.observe.logs import AccessLog, json_wanted
from keyplane.observe.metrics import TALLY
from keyplane.observe.routes import RouteTable

UNMATCHED = "(unmatched)"
"""The route of a request no route took, in the metrics (its path is not a label: any
client could make up new ones)."""
_IDS: Memo[int, str] = Memo("credential ids as text", 10_000)
"""Credential ids as text, by their number (``UUID.__str__`` is Python code; ``int`` hashes in C)."""


class Observer:
    """Writes each request's access line (when ``access_log`` is on) and counts it."""

    def __init__(self, settings: Settings) -> None:
        self.access = AccessLog(json_wanted(settings)) if settings.access_log else None
        self.routes = RouteTable(())

    def learn(self, templates: Iterable[str]) -> None:
        """The application's route templates (``keyplane.app``)."""
        self.routes = RouteTable(templates)

    def done(self, scope: Scope, exchange: Exchange) -> None:
        """Count the request and write its access line."""
        seconds = time.perf_counter() - exchange.started
        path: str = scope["path"]
        route = self.routes.template(path)
        method: str = scope["method"]
        TALLY.request(route or UNMATCHED, method, exchange.status, seconds)
        if self.access is not None:
            account = exchange.account or scope.get("state", {}).get("account")
            credential = exchange.credential
            self.access.record(
                exchange.request_id,
                method,
                route or self.routes.redacted(path),
                exchange.status,
                seconds,
                None if account is None else account.id_text,
                None if credential is None else (_IDS.get(credential.int) or _text(credential)),
            )


def route_of(scope: Scope) -> str:
    """A request's route for a log record: its template, or its path redacted (a raw path
    may hold a license key or a fingerprint)."""
    observer: Observer | None = getattr(scope.get("app"), "observer", None)
    if observer is None:
        return "*"
    path: str = scope.get("path", "")
    return observer.routes.template(path) or observer.routes.redacted(path)


def _text(credential: uuid.UUID) -> str:
    text = _IDS.put(credential.int, str(credential))
    return text
