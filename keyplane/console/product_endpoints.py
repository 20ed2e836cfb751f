"""The console's products and policies: the products, a product's page with its policies, and
forms that create and edit each. Every change goes through ``keyplane.products.service`` and
``keyplane.policies.service`` as the signed-in user, with the API's request models; an edit
sends only what its form changed. A policy's own page is its pool's (``pool_endpoints``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.console.license_endpoints import may
from keyplane.console.pages import PREFIX, Caller, ConsoleRoute, Form, Submitted, redirect, render
from keyplane.errors import AppError
from keyplane.kit import paging
from keyplane.licensing.access import Action, authorize
from keyplane.models import Policy, Product
from keyplane.policies import service as policies
from keyplane.policies.schemas import PolicyAttributes, PolicyCreateAttributes, PolicyFilters
from keyplane.products import service as products
from keyplane.products.schemas import ProductAttributes, ProductCreateAttributes
from keyplane.web.dependencies import DbSession

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

LISTED = 100
DAY = 86_400
PRODUCT_FIELDS = ("name", "code", "url")
POLICY_FIELDS = {
    "name": "name",
    "duration": "duration",
    "maxMachines": "max_machines",
    "maxUses": "max_uses",
    "poolLowThreshold": "pool_low_threshold",
}
POLICY_FLAGS = {"floating": "floating", "strict": "strict", "protected": "protected"}


def _problems(error: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" if item["loc"] else item["msg"]
        for item in error.errors()
    ]


async def _refused_page(session: AsyncSession, error: AppError, page: Response) -> Response:
    # The page is made first: a rollback ends what the session had loaded.
    await session.rollback()
    page.status_code = error.status
    return page


# -- products ----------------------------------------------------------------------------------


@router.get("/products")
async def list_products(request: Request, session: DbSession, console: Caller) -> Response:
    asked = paging.Listed(paging.Paging("number", LISTED, 1, descending=False), None)
    found = await products.listing(session, console.bearer, asked)
    return render(
        request,
        "products/list.html",
        products=found.items,
        total=found.total,
        may_create=may(console.bearer, "products", Action.CREATE),
    )


def _product_values(product: Product | None) -> dict[str, str]:
    if product is None:
        return dict.fromkeys(PRODUCT_FIELDS, "")
    return {"name": product.name, "code": product.code or "", "url": product.url or ""}


def _product_changes(form: Submitted, product: Product | None) -> dict[str, Any]:
    """The fields the form changed (for a new product: those filled in)."""
    before = _product_values(product)
    return {
        name: form.get(name).strip() or None
        for name in PRODUCT_FIELDS
        if form.get(name).strip() != before[name]
    }


def _product_form(
    request: Request, product: Product | None, values: dict[str, str], problems: list[str], status: int = 200
) -> Response:
    return render(request, "products/form.html", status, product=product, values=values, problems=problems)


@router.get("/products/new")
async def new_product(request: Request, console: Caller) -> Response:
    authorize(console.bearer, "products", Action.CREATE)
    return _product_form(request, None, _product_values(None), [])


@router.post("/products")
async def create_product(request: Request, session: DbSession, console: Caller, form: Form) -> Response:
    authorize(console.bearer, "products", Action.CREATE)
    values = {name: form.get(name) for name in PRODUCT_FIELDS}
    try:
        data = ProductCreateAttributes.model_validate(_product_changes(form, None))
    except ValidationError as error:
        return _product_form(request, None, values, _problems(error), 422)
    try:
        product = await products.create(session, console.bearer, data)
    except AppError as error:
        page = _product_form(request, None, values, [f"{error.detail} ({error.code})"])
        return await _refused_page(session, error, page)
    return redirect(f"/products/{product.id}", done="created")


@router.get("/products/{product_id}")
async def show_product(
    request: Request, product_id: str, session: DbSession, console: Caller, done: str = ""
) -> Response:
    bearer = console.bearer
    product = await products.get(session, bearer, product_id)
    asked = paging.Listed(
        paging.Paging("number", LISTED, 1, descending=False), PolicyFilters(product=product.id)
    )
    found = await policies.listing(session, bearer, asked)
    return render(
        request,
        "products/show.html",
        product=product,
        policies=found.items,
        done={"created": "The product is created.", "updated": "Saved."}.get(done),
        may_update=may(bearer, "products", Action.UPDATE),
        may_create_policy=may(bearer, "policies", Action.CREATE),
    )


@router.get("/products/{product_id}/edit")
async def edit_product(request: Request, product_id: str, session: DbSession, console: Caller) -> Response:
    authorize(console.bearer, "products", Action.UPDATE)
    product = await products.get(session, console.bearer, product_id)
    return _product_form(request, product, _product_values(product), [])


@router.post("/products/{product_id}/edit")
async def update_product(
    request: Request, product_id: str, session: DbSession, console: Caller, form: Form
) -> Response:
    authorize(console.bearer, "products", Action.UPDATE)
    product = await products.get(session, console.bearer, product_id)
    values = {name: form.get(name) for name in PRODUCT_FIELDS}
    try:
        data = ProductAttributes.model_validate(_product_changes(form, product))
    except ValidationError as error:
        return _product_form(request, product, values, _problems(error), 422)
    try:
        await products.update(session, console.bearer, str(product.id), data)
    except AppError as error:
        page = _product_form(request, product, values, [f"{error.detail} ({error.code})"])
        return await _refused_page(session, error, page)
    return redirect(f"/products/{product.id}", done="updated")


# -- policies ----------------------------------------------------------------------------------


def _policy_values(policy: Policy | None) -> dict[str, str]:
    if policy is None:
        return {**dict.fromkeys(POLICY_FIELDS, ""), **dict.fromkeys(POLICY_FLAGS, ""), "usePool": ""}
    values = {field: getattr(policy, name) for field, name in POLICY_FIELDS.items()}
    if values["duration"] is not None:
        values["duration"] = values["duration"] // DAY
    shown = {field: "" if value is None else str(value) for field, value in values.items()}
    flags = {field: "on" if getattr(policy, name) else "" for field, name in POLICY_FLAGS.items()}
    return {**shown, **flags, "usePool": "on" if policy.use_pool else ""}


def _days(text: str) -> int | str:
    # Not a whole number of days: left as text, for the schema to refuse with its own words.
    return int(text) * DAY if text.isascii() and text.isdigit() and len(text) < 9 else text


def _policy_changes(form: Submitted, policy: Policy | None) -> dict[str, Any]:
    """The policy fields the form changed (for a new policy: those filled in or ticked)."""
    before = _policy_values(policy)
    changed: dict[str, Any] = {}
    for field in POLICY_FIELDS:
        sent = form.get(field).strip()
        if sent != before[field]:
            changed[field] = None if not sent else _days(sent) if field == "duration" else sent
    for field in POLICY_FLAGS:
        ticked = "on" if form.get(field) else ""
        if ticked != before[field]:
            changed[field] = bool(ticked)
    return changed


def _policy_form(
    request: Request,
    product: Product,
    policy: Policy | None,
    values: dict[str, str],
    problems: list[str],
    status: int = 200,
) -> Response:
    return render(
        request,
        "products/policy_form.html",
        status,
        product=product,
        policy=policy,
        values=values,
        problems=problems,
    )


def _policy_values_of(form: Submitted) -> dict[str, str]:
    return {name: form.get(name) for name in (*POLICY_FIELDS, *POLICY_FLAGS, "usePool")}


@router.get("/products/{product_id}/policies/new")
async def new_policy(request: Request, product_id: str, session: DbSession, console: Caller) -> Response:
    authorize(console.bearer, "policies", Action.CREATE)
    product = await products.get(session, console.bearer, product_id)
    return _policy_form(request, product, None, _policy_values(None), [])


@router.post("/products/{product_id}/policies")
async def create_policy(
    request: Request, product_id: str, session: DbSession, console: Caller, form: Form
) -> Response:
    authorize(console.bearer, "policies", Action.CREATE)
    product = await products.get(session, console.bearer, product_id)
    values = _policy_values_of(form)
    asked = {**_policy_changes(form, None), "usePool": bool(form.get("usePool"))}
    try:
        data = PolicyCreateAttributes.model_validate(asked)
    except ValidationError as error:
        return _policy_form(request, product, None, values, _problems(error), 422)
    try:
        policy = await policies.create(session, console.bearer, data, str(product.id))
    except AppError as error:
        page = _policy_form(request, product, None, values, [f"{error.detail} ({error.code})"])
        return await _refused_page(session, error, page)
    return redirect(f"/policies/{policy.id}")


async def _policy_and_product(
    session: AsyncSession, console: Caller, policy_id: str
) -> tuple[Policy, Product]:
    policy = await policies.get(session, console.bearer, policy_id)
    product = await products.get(session, console.bearer, str(policy.product_id))
    return policy, product


@router.get("/policies/{policy_id}/edit")
async def edit_policy(request: Request, policy_id: str, session: DbSession, console: Caller) -> Response:
    authorize(console.bearer, "policies", Action.UPDATE)
    policy, product = await _policy_and_product(session, console, policy_id)
    return _policy_form(request, product, policy, _policy_values(policy), [])


@router.post("/policies/{policy_id}/edit")
async def update_policy(
    request: Request, policy_id: str, session: DbSession, console: Caller, form: Form
) -> Response:
    authorize(console.bearer, "policies", Action.UPDATE)
    policy, product = await _policy_and_product(session, console, policy_id)
    values = _policy_values_of(form)
    try:
        data = PolicyAttributes.model_validate(_policy_changes(form, policy))
    except ValidationError as error:
        return _policy_form(request, product, policy, values, _problems(error), 422)
    try:
        await policies.update(session, console.bearer, str(policy.id), data)
    except AppError as error:
        page = _policy_form(request, product, policy, values, [f"{error.detail} ({error.code})"])
        return await _refused_page(session, error, page)
    return redirect(f"/policies/{policy.id}", done="updated")
