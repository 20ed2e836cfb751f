"""The registry of a running application's services: one typed object, built by
``running`` (the application's lifespan, and the CLI's commands) and reached the same way
from everywhere in the application, ``services_of(app)``: the framework's dependencies and
routes, the lean handlers (``keyplane.hot``), the middleware. A test that replaces a service
(a limiter, an engine) replaces it here, once, and every path sees it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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


@asynccontextmanager
async def running(settings: Settings, *, background: bool = True) -> AsyncIterator[Services]:
    """Every service, opened with the server secrets (checked against the database), and
    closed on the way out. With ``background`` (a server), its background work runs too:
    the invalidation bus, the batched usage writes, the metrics publisher; a one-off
    command (the CLI) leaves it off (and records no uses: it makes no requests)."""
    # Imported here: these modules reach the registry through ``services_of``.
    from keyplane.accounts.directory import AccountDirectory
    from keyplane.accounts.signing import KeyRing
    from keyplane.api_keys.service import RefusedUses
    from keyplane.bus import bus_for
    from keyplane.cache import Caches
    from keyplane.credentials.engine import CredentialEngine
    from keyplane.db import Database, Timeouts
    from keyplane.events.batch import EventBatch
    from keyplane.events.notices import Notifier
    from keyplane.events.retention import Retention
    from keyplane.kit.credentials import CredentialHasher
    from keyplane.observe.publish import Publisher
    from keyplane.ratelimit import limiter_for
    from keyplane.secret.service import open_secrets
    from keyplane.usage import UsageRecorder
    from keyplane.webhooks.delivery import Deliverer

    database = Database(settings.resolved_database_url(), Timeouts.of(settings))
    try:
        secrets = await open_secrets(settings, database)
    except BaseException:
        await database.dispose()
        raise
    usage = UsageRecorder(database, settings.usage_flush_seconds, settings.usage_resolution_seconds)
    caches = Caches()
    bus = bus_for(caches, database, settings.redis_url, settings.redis_prefix)
    ttl = settings.cache_seconds
    if background:
        # A server's commits tell the other processes at once; a command's are read from
        # the invalidation log by them, as before it had a bus.
        database.on_commit = bus.publish
    batch = EventBatch(database, settings.usage_flush_seconds)
    keys = KeyRing(secrets.current, secrets.previous)
    services = Services(
        settings=settings,
        db=database,
        bus=bus,
        accounts=AccountDirectory(settings.account),
        usage=usage,
        credentials=CredentialEngine(
            CredentialHasher(secrets.current),
            caches,
            previous=tuple(CredentialHasher(secret) for secret in secrets.previous),
            rehash=usage.rehash,
            size=settings.cache_size,
            ttl=ttl,
            miss_ttl=min(settings.cache_miss_seconds, ttl),
            read_first=database.read_first,
        ),
        keys=keys,
        limiter=limiter_for(settings),
        publisher=Publisher(caches, database, bus),
        events=batch,
        refused=RefusedUses(batch),
        notifier=Notifier(database, settings.unused_key_days, settings.notice_seconds),
        retention=Retention(database, settings.event_retention_days, settings.event_prune_seconds),
        webhooks=Deliverer(
            database,
            keys,
            poll=settings.webhooks_poll_seconds,
            timeout=settings.webhooks_timeout_seconds,
            first_retry=settings.webhooks_retry_seconds,
            allow_private=settings.webhooks_allow_private,
        ),
        # What the lean handlers serve from (filled as requests read them).
        api_keys=caches.cache("api keys", settings.cache_size, ttl),
        licenses=caches.cache("licenses", settings.cache_size, ttl),
    )
    try:
        if background:
            await bus.start()
            usage.start()
            services.publisher.start()
            services.retention.start()
            services.events.start()
            services.notifier.start()
            services.webhooks.start()
        yield services
    finally:
        if background:
            await services.webhooks.stop()
            await services.notifier.stop()
            await services.retention.stop()
            await services.events.stop()
            await usage.stop()
            await services.publisher.stop()
            await bus.stop()
        await services.limiter.close()
        await database.dispose()
