"""The registry of a running application's services: one typed object, built by
``keyplane.assembly.running`` (the application's lifespan, and the CLI's commands) and
reached the same way from everywhere in the application, ``services_of(app)``: the
framework's dependencies and routes, the lean handlers (``keyplane.hot``), the middleware.
A test that replaces a service (a limiter, an engine) replaces it here, once, and every path
sees it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keyplane.accounts.directory import AccountDirectory
    from keyplane.accounts.signing import KeyRing
    from keyplane.api_keys.service import RefusedUses
    from keyplane.auth.network import Network
    from keyplane.bus import Bus
    from keyplane.cache import TaggedCache
    from keyplane.config import Settings
    from keyplane.credentials.engine import CredentialEngine
    from keyplane.db import Database
    from keyplane.events.batch import EventBatch
    from keyplane.events.notices import Notifier
    from keyplane.events.retention import Retention
    from keyplane.observe.publish import Publisher
    from keyplane.ratelimit import RateLimiter
    from keyplane.usage import UsageRecorder
    from keyplane.webhooks.delivery import Deliverer


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    bus: Bus
    accounts: AccountDirectory
    usage: UsageRecorder
    credentials: CredentialEngine
    keys: KeyRing
    limiter: RateLimiter
    publisher: Publisher
    retention: Retention
    """Prunes the event log past ``KEYPLANE_EVENT_RETENTION_DAYS``."""
    events: EventBatch
    """Events of reads (validations, refused credentials), written in batches."""
    refused: RefusedUses
    """Notes refused uses of API keys that matter (into ``events``)."""
    notifier: Notifier
    """Sends the scheduled notifications (expiring soon, expired, unused, ...)."""
    webhooks: Deliverer
    """Sends the webhook deliveries that are due (a server's background work)."""
    api_keys: TaggedCache[uuid.UUID, Any]
    """API keys' documents, as ``GET /api-keys/{id}`` renders them (the lean handler's)."""
    licenses: TaggedCache[tuple[uuid.UUID, bytes], Any]
    """Licenses by (account, key digest), as validate-key reads them (the lean handler's)."""
    steadfast_limiter: RateLimiter | None = None
    """``ratelimit.steadfast``'s limiter, made on first use."""
    trusted_proxies: tuple[Network, ...] = field(init=False)
    """``settings.trusted_proxies``, read once (a settings attribute costs a pydantic lookup)."""
    behind_proxies: bool = field(init=False)
    """``trusted_proxies`` is not empty: derived here, so no caller can leave it out and have
    proxied addresses read as peers."""

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name == "settings":  # what is derived from the settings follows them
            object.__setattr__(self, "trusted_proxies", tuple(value.trusted_proxies))
            object.__setattr__(self, "behind_proxies", bool(value.trusted_proxies))


class NotRunning(RuntimeError):
    """The application's services are asked for outside its lifespan."""


def services_of(app: Any) -> Services:
    """The running application's services (``Keyplane.services``)."""
    services: Services | None = getattr(app, "services", None)
    if services is None:
        raise NotRunning("the application's services exist while it runs (inside its lifespan)")
    return services
