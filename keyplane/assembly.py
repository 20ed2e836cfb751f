"""``running``: every service of the registry (``keyplane.services.Services``) built, opened
and closed. The one module that imports every service's package (the application's lifespan
and the CLI's commands call it; ``keyplane.services`` itself imports none of them, so that any
module may reach the registry)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from keyplane.accounts.directory import AccountDirectory
from keyplane.accounts.signing import KeyRing
from keyplane.api_keys.service import RefusedUses
from keyplane.bus import bus_for
from keyplane.cache import Caches
from keyplane.config import Settings
from keyplane.credentials.engine import CredentialEngine
from keyplane.db import Database, Timeouts
from keyplane.events.batch import EventBatch
from keyplane.events.notices import Notifier
from keyplane.events.retention import Retention
from keyplane.kit.credentials import CredentialHasher
from keyplane.observe.publish import Publisher
from keyplane.ratelimit import limiter_for
from keyplane.secret.service import open_secrets
from keyplane.services import Services
from keyplane.usage import UsageRecorder
from keyplane.webhooks.delivery import Deliverer


@asynccontextmanager
async def running(settings: Settings, *, background: bool = True) -> AsyncIterator[Services]:
    """Every service, opened with the server secrets (checked against the database), and
    closed on the way out. With ``background`` (a server), its background work runs too:
    the invalidation bus, the batched usage writes, the metrics publisher; a one-off
    command (the CLI) leaves it off (and records no uses: it makes no requests)."""
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
