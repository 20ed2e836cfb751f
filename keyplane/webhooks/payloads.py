"""A webhook event's ``payload``: the JSON:API document of the resource the event happened
to, with the event's metadata as its ``meta`` (as Keygen sends it), serialised to a string.

It is rendered when a delivery is first claimed (the services that record events hand over
an id, not the record) and stored, so every attempt and every retry sends the same bytes. A
resource gone by then (deleted, or deleted since) is named by its type and id alone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.components.schemas import component_resource
from keyplane.events.names import ResourceType
from keyplane.keys.schemas import key_resource
from keyplane.kit import clock
from keyplane.licenses.schemas import license_resource
from keyplane.machines.schemas import machine_resource
from keyplane.models import (
    Credential,
    License,
    Machine,
    MachineComponent,
    MachineProcess,
    Policy,
    PoolKey,
    Product,
    User,
    WebhookEndpoint,
    WebhookEvent,
)
from keyplane.policies.schemas import policy_resource
from keyplane.processes.schemas import process_resource
from keyplane.processes.service import interval, status
from keyplane.products.schemas import product_resource
from keyplane.tokens.resources import token_resource
from keyplane.users.schemas import user_resource
from keyplane.webhooks import repository
from keyplane.webhooks.schemas import endpoint_resource, event_resource

Rendered = dict[str, Any] | None
Renderer = Callable[[AsyncSession, uuid.UUID], Awaitable[Rendered]]


async def _product(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, Product, id_)
    return None if found is None else product_resource(found)


async def _policy(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, Policy, id_)
    return None if found is None else policy_resource(found)


async def _key(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, PoolKey, id_)
    return None if found is None else key_resource(found)


async def _license(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, License, id_)
    policy = None if found is None else await repository.row(session, Policy, found.policy_id)
    return None if found is None or policy is None else license_resource(found, policy)


async def _machine(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, Machine, id_)
    license = None if found is None else await repository.row(session, License, found.license_id)
    policy = None if license is None else await repository.row(session, Policy, license.policy_id)
    return None if found is None or policy is None else machine_resource(found, policy)


async def _process(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, MachineProcess, id_)
    license = None if found is None else await repository.row(session, License, found.license_id)
    policy = None if license is None else await repository.row(session, Policy, license.policy_id)
    if found is None or policy is None:
        return None
    return process_resource(found, interval(policy), status(found, policy, clock.now()))


async def _component(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, MachineComponent, id_)
    return None if found is None else component_resource(found)


async def _user(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, User, id_)
    return None if found is None else user_resource(found)


async def _token(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, Credential, id_)
    if found is None:
        return None
    if found.user_id is None:
        return token_resource(found, "product")
    user = await repository.row(session, User, found.user_id)
    return token_resource(found, "user" if user is None else user.role)


async def _endpoint(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, WebhookEndpoint, id_)
    return None if found is None else endpoint_resource(found)


async def _delivery(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, WebhookEvent, id_)
    return None if found is None else event_resource(found)


RENDERERS: dict[ResourceType, Renderer] = {
    ResourceType.PRODUCT: _product,
    ResourceType.POLICY: _policy,
    ResourceType.KEY: _key,
    ResourceType.LICENSE: _license,
    ResourceType.MACHINE: _machine,
    ResourceType.PROCESS: _process,
    ResourceType.COMPONENT: _component,
    ResourceType.USER: _user,
    ResourceType.TOKEN: _token,
    ResourceType.WEBHOOK_ENDPOINT: _endpoint,
    ResourceType.WEBHOOK_EVENT: _delivery,
}
"""The resources of the licensing API. Accounts and API keys (another surface, not JSON:API)
are named by type and id."""


async def render(session: AsyncSession, delivery: WebhookEvent) -> str:
    """The payload of ``delivery``'s event, as a JSON string."""
    kind = ResourceType(delivery.resource_type)
    renderer = RENDERERS.get(kind)
    data = None if renderer is None else await renderer(session, delivery.resource_id)
    if data is None:
        data = {"type": kind.plural, "id": str(delivery.resource_id)}
    document: dict[str, Any] = {"data": data}
    metadata = await repository.event_metadata(session, delivery.event_id)
    if metadata:
        document["meta"] = metadata
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)
