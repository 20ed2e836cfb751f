"""Products: CRUD and product tokens. Deleting a product deletes its policies, pool keys,
licenses and tokens with it (foreign keys cascade; nothing is left orphaned)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.principal import Bearer
from keyplane.auth.scopes import Role, Scope, ordered, role_scopes
from keyplane.credentials.engine import CredentialEngine
from keyplane.errors import Forbidden, InvalidResource
from keyplane.events import service as events
from keyplane.events.names import EventName
from keyplane.kit import clock, paging
from keyplane.kit.credentials import CredentialKind
from keyplane.licensing.access import Action, authorize, view
from keyplane.licensing.records import dependents, find
from keyplane.models import Credential, Product
from keyplane.models.product import DistributionStrategy
from keyplane.products import repository
from keyplane.products.schemas import ProductAttributes, ProductCreateAttributes

_CODE = "/data/attributes/code"


def _apply(product: Product, data: ProductAttributes) -> None:
    sent = data.model_fields_set
    if "name" in sent:
        if data.name is None:
            raise InvalidResource("can't be blank", "NAME_MISSING", pointer="/data/attributes/name")
        product.name = data.name
    if "code" in sent:
        product.code = data.code
    if "distribution_strategy" in sent:
        product.distribution_strategy = data.distribution_strategy or DistributionStrategy.LICENSED
    if "url" in sent:
        product.url = None if data.url is None else str(data.url)
    if "platforms" in sent:
        product.platforms = data.platforms
    if "metadata" in sent:
        product.meta = data.metadata or {}


async def _flush(session: AsyncSession, product: Product) -> Product:
    try:
        await session.flush()
    except IntegrityError:
        # Lost a race with a concurrent write of the same code.
        raise InvalidResource("has already been taken", "CODE_TAKEN", pointer=_CODE) from None
    return product


async def create(session: AsyncSession, bearer: Bearer, data: ProductCreateAttributes) -> Product:
    authorize(bearer, "products", Action.CREATE)
    product = Product(account_id=bearer.account.id, name=data.name, meta={})
    _apply(product, data)
    if await repository.code_taken(session, product):
        raise InvalidResource("has already been taken", "CODE_TAKEN", pointer=_CODE)
    session.add(product)
    await _flush(session, product)
    await events.record(session, bearer, EventName.PRODUCT_CREATED, product.id, product=product.id)
    return product


async def get(session: AsyncSession, bearer: Bearer, ref: str) -> Product:
    product = await find(session, bearer, Product, ref, "product")
    authorize(bearer, "products", Action.READ)
    return product


async def listing(session: AsyncSession, bearer: Bearer, asked: paging.Listed[None]) -> paging.Page[Product]:
    authorize(bearer, "products", Action.READ)
    return await repository.page(session, view(bearer, Product), asked.paging)


async def update(session: AsyncSession, bearer: Bearer, ref: str, data: ProductAttributes) -> Product:
    product = await find(session, bearer, Product, ref, "product", lock=True)
    authorize(bearer, "products", Action.UPDATE)
    _apply(product, data)
    if await repository.code_taken(session, product):
        raise InvalidResource("has already been taken", "CODE_TAKEN", pointer=_CODE)
    await events.record(
        session, bearer, EventName.PRODUCT_UPDATED, product.id, changed=product, product=product.id
    )
    product.updated_at = clock.now()
    return await _flush(session, product)


async def delete(session: AsyncSession, bearer: Bearer, ref: str) -> None:
    product = await find(session, bearer, Product, ref, "product")
    authorize(bearer, "products", Action.DELETE)
    gone = await dependents(session, "product_id", product.id)
    await events.record(
        session,
        bearer,
        EventName.PRODUCT_DELETED,
        product.id,
        metadata={"deleted": gone} if gone else None,
        product=product.id,
    )
    await session.delete(product)
    await session.flush()


def _may_manage_tokens(bearer: Bearer) -> None:
    if bearer.role not in (Role.ADMIN, Role.DEVELOPER):
        raise Forbidden("Only admins and developers manage product tokens", "ACCESS_DENIED")


async def issue_token(
    session: AsyncSession,
    engine: CredentialEngine,
    bearer: Bearer,
    ref: str,
    *,
    name: str | None,
    expiry: datetime | None,
) -> tuple[Credential, str]:
    """A token that acts for this product alone (no expiry unless one is asked for)."""
    product = await find(session, bearer, Product, ref, "product")
    _may_manage_tokens(bearer)
    authorize(bearer, "products", Action.UPDATE)
    if not bearer.has(Scope.CREATE):
        raise Forbidden("This credential lacks the CREATE scope", "INSUFFICIENT_SCOPE")
    if expiry is not None and expiry <= clock.now():
        raise InvalidResource("must be in the future", "EXPIRY_INVALID", pointer="/data/attributes/expiry")
    token, plaintext = engine.mint(
        CredentialKind.TOKEN,
        account_id=product.account_id,
        product_id=product.id,
        name=name,
        scopes=ordered(role_scopes(Role.PRODUCT.value)),
        expires_at=expiry,
    )
    session.add(token)
    await session.flush()
    await events.record(
        session,
        bearer,
        EventName.TOKEN_GENERATED,
        token.id,
        metadata={"product": str(product.id)},
        product=product.id,
    )
    return token, plaintext


async def tokens(
    session: AsyncSession, bearer: Bearer, ref: str, asked: paging.Listed[None]
) -> paging.Page[Credential]:
    product = await find(session, bearer, Product, ref, "product")
    _may_manage_tokens(bearer)
    return await repository.tokens_page(session, product, asked.paging)
