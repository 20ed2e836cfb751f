"""The console's users pages: the list, create, a user's page with their role, a password
reset (which ends their tokens and console sessions) and delete. Every change goes through
``keyplane.users.service`` (the reset through ``keyplane.tokens.service``) as the signed-in
user, after the scope check the API's route makes; the pages need MANAGE (admins), as the
users service's list does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from keyplane.auth.scopes import USER_ROLES, Role, Scope
from keyplane.console.pages import PREFIX, Caller, ConsoleRoute, Form, redirect, render
from keyplane.errors import AppError
from keyplane.kit import paging
from keyplane.models import User
from keyplane.users import service
from keyplane.users.schemas import UserCreateAttributes, UserFilters, UserUpdateAttributes
from keyplane.web.dependencies import DbSession, require

router = APIRouter(prefix=f"{PREFIX}/users", route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 25
ROLES = sorted(role.value for role in USER_ROLES)
DONE = {
    "created": "The user is created.",
    "role": "The role is changed.",
    "deleted": "The user is deleted, with every credential they owned.",
    "password": "The password is reset: the user's tokens are revoked and their console sessions ended.",
}


def problems_of(error: ValidationError) -> list[str]:
    """A form's refusal in the schema's own words, field by field."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        problems.append(f"{where}: {item['msg']}" if where else item["msg"])
    return problems


def refused(error: AppError) -> list[str]:
    return [f"{error.detail} ({error.code})"]


@router.get("")
async def list_users(
    request: Request,
    session: DbSession,
    console: Caller,
    page: Annotated[int, Query(ge=1, le=paging.MAX_NUMBER)] = 1,
    done: str = "",
) -> Response:
    asked = paging.Listed(paging.Paging("number", PAGE_SIZE, number=page), UserFilters())
    found = await service.list_users(session, console.principal, asked)
    return render(
        request,
        "users/list.html",
        users=found.items,
        total=found.total,
        page=page,
        pages=max(1, -(-found.total // PAGE_SIZE)),
        done=DONE.get(done),
    )


def _new(request: Request, status: int, values: dict[str, str], problems: list[str]) -> Response:
    return render(request, "users/new.html", status, values=values, roles=ROLES, problems=problems)


@router.get("/new")
async def new_user(request: Request, console: Caller) -> Response:
    await require(Scope.MANAGE)(console.principal)
    values = {"email": "", "first_name": "", "last_name": "", "role": Role.READ_ONLY.value}
    return _new(request, 200, values, [])


@router.post("")
async def create_user(request: Request, session: DbSession, console: Caller, form: Form) -> Response:
    await require(Scope.CREATE)(console.principal)
    values = {name: form.get(name).strip() for name in ("email", "first_name", "last_name", "role")}
    asked: dict[str, Any] = {
        "email": values["email"],
        "firstName": values["first_name"] or None,
        "lastName": values["last_name"] or None,
        "role": values["role"],
        "password": form.get("password") or None,
    }
    try:
        data = UserCreateAttributes.model_validate(asked)
    except ValidationError as error:
        return _new(request, 422, values, problems_of(error))
    try:
        user = await service.create(session, console.principal, data)
    except AppError as error:
        await session.rollback()
        return _new(request, error.status, values, refused(error))
    return redirect(f"/users/{user.id}", done="created")


async def _user_page(
    request: Request, session: DbSession, console: Caller, ref: str, status: int = 200, **context: Any
) -> Response:
    user = await service.get(session, console.principal, ref)
    context.setdefault("done", None)
    context.setdefault("problems", [])
    return render(
        request,
        "users/show.html",
        status,
        user=user,
        roles=ROLES,
        me=user.id == console.signed.user.id,
        **context,
    )


@router.get("/{user_id}")
async def show_user(
    request: Request, user_id: str, session: DbSession, console: Caller, done: str = ""
) -> Response:
    await require(Scope.MANAGE)(console.principal)
    return await _user_page(request, session, console, user_id, done=DONE.get(done))


async def _updated(
    request: Request, session: DbSession, console: Caller, user_id: str, attributes: dict[str, str]
) -> User | Response:
    """The user changed through the users service as the signed-in user, or the user's page
    with what was wrong (nothing changed)."""
    await require(Scope.UPDATE)(console.principal)
    try:
        data = UserUpdateAttributes.model_validate(attributes)
        return await service.update(session, console.principal, user_id, data)
    except ValidationError as error:
        return await _user_page(request, session, console, user_id, 422, problems=problems_of(error))
    except AppError as error:
        await session.rollback()
        return await _user_page(request, session, console, user_id, error.status, problems=refused(error))


@router.post("/{user_id}/role")
async def change_role(
    request: Request, user_id: str, session: DbSession, console: Caller, form: Form
) -> Response:
    user = await _updated(request, session, console, user_id, {"role": form.get("role")})
    if isinstance(user, Response):
        return user
    return redirect(f"/users/{user.id}", done="role")


@router.post("/{user_id}/password")
async def reset_password(
    request: Request, user_id: str, session: DbSession, console: Caller, form: Form
) -> Response:
    user = await _updated(request, session, console, user_id, {"password": form.get("password")})
    if isinstance(user, Response):
        return user
    if user.id == console.signed.user.id:
        return redirect("/sign-in", ended="1")  # their own session ended with the old password
    return redirect(f"/users/{user.id}", done="password")


@router.post("/{user_id}/delete")
async def delete_user(user_id: str, session: DbSession, console: Caller, form: Form) -> Response:
    await require(Scope.DELETE)(console.principal)
    await service.delete(session, console.principal, user_id)
    return redirect("/users", done="deleted")
