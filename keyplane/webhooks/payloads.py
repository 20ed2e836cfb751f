"""A webhook event's ``payload``: the JSON:API document of the resource the event happened
to, with the event's metadata as its ``meta`` (as Keygen sends it), serialised to a string.

It is rendered when a delivery is first claimed (the services that record events hand over
an id, not the record) and stored, so every attempt and every retry sends the same bytes. A
resource gone by then (deleted, or deleted since) is named by its type and id alone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.components.schemas import component_resource
from keyplane.entitlements.schemas import entitlement_resource
from keyplane.events.names import ResourceType
from keyplane.groups.schemas import group_resource
from keyplane.keys.schemas import key_resource
from keyplane.kit import clock
from keyplane.licenses import service as licenses
from keyplane.licenses.schemas import license_resource
from keyplane.licensing.machine_limits import process_limit
from keyplane.machines.schemas import machine_resource
from keyplane.models import (
    Credential,
    Entitlement,
    Group,
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
from keyplane.models.base import Base
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
M = TypeVar("M", bound=Base)


def _alone(model: type[M], resource: Callable[[M], dict[str, Any]]) -> Renderer:
    """The renderer of a resource drawn from its own row alone."""

    async def render(session: AsyncSession, id_: uuid.UUID) -> Rendered:
        found = await repository.row(session, model, id_)
        return None if found is None else resource(found)

    return render


async def _license(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, License, id_)
    policy = None if found is None else await repository.row(session, Policy, found.policy_id)
    if found is None or policy is None:
        return None
    return license_resource(await licenses.ready_to_render(session, found), policy)


async def _machine(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, Machine, id_)
    license = None if found is None else await repository.row(session, License, found.license_id)
    policy = None if license is None else await repository.row(session, Policy, license.policy_id)
    if found is None or license is None or policy is None:
        return None
    return machine_resource(found, policy, max_processes=process_limit(license, policy))


async def _process(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, MachineProcess, id_)
    license = None if found is None else await repository.row(session, License, found.license_id)
    policy = None if license is None else await repository.row(session, Policy, license.policy_id)
    if found is None or policy is None:
        return None
    return process_resource(found, interval(policy), status(found, policy, clock.now()))


async def _token(session: AsyncSession, id_: uuid.UUID) -> Rendered:
    found = await repository.row(session, Credential, id_)
    if found is None:
        return None
    if found.license_id is not None:
        return token_resource(found, "license")
    if found.user_id is None:
        return token_resource(found, "product")
    user = await repository.row(session, User, found.user_id)
    return token_resource(found, "user" if user is None else user.role)


RENDERERS: dict[ResourceType, Renderer] = {
    ResourceType.PRODUCT: _alone(Product, product_resource),
    ResourceType.POLICY: _alone(Policy, policy_resource),
    ResourceType.KEY: _alone(PoolKey, key_resource),
    ResourceType.LICENSE: _license,
    ResourceType.MACHINE: _machine,
    ResourceType.ENTITLEMENT: _alone(Entitlement, entitlement_resource),
    ResourceType.PROCESS: _process,
    ResourceType.COMPONENT: _alone(MachineComponent, component_resource),
    ResourceType.USER: _alone(User, user_resource),
    ResourceType.TOKEN: _token,
    ResourceType.GROUP: _alone(Group, group_resource),
    ResourceType.WEBHOOK_ENDPOINT: _alone(WebhookEndpoint, endpoint_resource),
    ResourceType.WEBHOOK_EVENT: _alone(WebhookEvent, event_resource),
}
"""The resources of the licensing API. Accounts and API keys (another surface, not JSON:API)
are named by type and id."""


MODELS: dict[ResourceType, type[Base]] = {
    ResourceType.PRODUCT: Product,
    ResourceType.POLICY: Policy,
    ResourceType.KEY: PoolKey,
    ResourceType.LICENSE: License,
    ResourceType.MACHINE: Machine,
    ResourceType.USER: User,
    ResourceType.TOKEN: Credential,
    ResourceType.GROUP: Group,
    ResourceType.WEBHOOK_ENDPOINT: WebhookEndpoint,
    ResourceType.WEBHOOK_EVENT: WebhookEvent,
}
"""The row each renderer starts from: read for a whole batch at once by ``render_all``."""


@dataclass(slots=True)
class Reading:
    """What rendering a round's deliveries reads, read once for all of them."""

    metadata: dict[uuid.UUID, dict[str, object]] = field(default_factory=dict)
    """Their events' metadata, by event id."""
    rows: list[Base] = field(default_factory=list)
    """Their resources' rows, held here while the round renders: a session keeps the rows
    it has read only as long as something else does, and the renderers find them there
    (without a statement each) only if they are still held."""
    documents: dict[tuple[ResourceType, uuid.UUID], Rendered] = field(default_factory=dict)
    """Each resource's document, rendered once for all the round's deliveries about it (a
    backlog of validations is a hundred deliveries about one license)."""


async def render_read(session: AsyncSession, delivery: WebhookEvent, reading: Reading) -> str:
    """The payload of ``delivery``'s event, as a JSON string (its resource's document and
    its event's metadata taken from ``reading``, ``read_all``'s, or added to it)."""
    kind = ResourceType(delivery.resource_type)
    place = (kind, delivery.resource_id)
    if place in reading.documents:
        data = reading.documents[place]
    else:
        renderer = RENDERERS.get(kind)
        data = None if renderer is None else await renderer(session, delivery.resource_id)
        reading.documents[place] = data
    if data is None:
        data = {"type": kind.plural, "id": str(delivery.resource_id)}
    document: dict[str, Any] = {"data": data}
    meta = reading.metadata.get(delivery.event_id)
    if meta:
        document["meta"] = meta
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


async def read_all(session: AsyncSession, deliveries: Sequence[WebhookEvent]) -> Reading:
    """What rendering these deliveries reads, a statement per kind rather than per delivery:
    their resources' rows (held, where the renderers find them) and their events'
    metadata."""
    reading = Reading()
    if not deliveries:
        return reading
    kinds: dict[ResourceType, set[uuid.UUID]] = {}
    for each in deliveries:
        kind = ResourceType(each.resource_type)
        if kind in MODELS:
            kinds.setdefault(kind, set()).add(each.resource_id)
    for kind, ids in kinds.items():
        reading.rows += await repository.load_rows(session, MODELS[kind], ids)
    reading.metadata = await repository.events_metadata(session, {each.event_id for each in deliveries})
    return reading
