"""The licensing API's JSON:API documents as they travel: what the client reads and sends.

The public models (``keyplane_client.licensing``) are flat and built from these; these keep
the wire's nesting and names, so that Keyplane's contract test can hold each of them against
the server's ``/openapi.json``. Answers ignore members this version does not read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field

from keyplane_client._calls import Call, Page, page
from keyplane_client.models import _Answer, _Request

R = TypeVar("R", bound=BaseModel)

UserRole = Literal["admin", "developer", "read-only", "support-agent", "sales-agent", "user"]
"""A user's role: ``user`` is an end customer; the others are the vendor's staff."""


class Identifier(_Answer):
    type: str
    id: str


class ToOne(_Answer):
    """A relationship to one record; ``data`` is null when there is none."""

    data: Identifier | None


class PageLinks(_Answer):
    next: str | None = None
    """The next page's path and query, or null on the last page."""


class ListDocument(_Answer, Generic[R]):
    data: list[R]
    links: PageLinks | None = None


class Document(_Answer, Generic[R]):
    data: R


# -- licenses ------------------------------------------------------------------------------------


class LicenseAttributes(_Answer):
    name: str | None
    key: str
    expiry: datetime | None
    status: str
    uses: int
    suspended: bool
    protected: bool
    max_machines: int | None = Field(alias="maxMachines")
    max_users: int | None = Field(alias="maxUsers")
    max_uses: int | None = Field(alias="maxUses")
    last_validated: datetime | None = Field(alias="lastValidated")
    metadata: dict[str, Any]
    created: datetime
    updated: datetime


class LicenseRelationships(_Answer):
    product: ToOne
    policy: ToOne
    owner: ToOne
    group: ToOne


class LicenseResource(_Answer):
    id: str
    attributes: LicenseAttributes
    relationships: LicenseRelationships


class PolicyRef(_Request):
    type: Literal["policies"]
    id: str


class PolicyLink(_Request):
    data: PolicyRef


class UserRef(_Request):
    type: Literal["users"]
    id: str


class UserLink(_Request):
    data: UserRef


class LicenseCreateAttributes(_Request):
    name: str | None = None
    expiry: datetime | None = None
    metadata: dict[str, Any] | None = None


class LicenseCreateRelationships(_Request):
    policy: PolicyLink
    owner: UserLink | None = None


class LicenseCreateData(_Request):
    type: Literal["licenses"]
    attributes: LicenseCreateAttributes
    relationships: LicenseCreateRelationships


class LicenseCreateBody(_Request):
    data: LicenseCreateData


class LicenseUpdateAttributes(_Request):
    """Only the fields set are sent: an unset field stays as it is, ``None`` clears it."""

    name: str | None = None
    expiry: datetime | None = None
    metadata: dict[str, Any] | None = None


class LicenseUpdateData(_Request):
    type: Literal["licenses"]
    attributes: LicenseUpdateAttributes


class LicenseUpdateBody(_Request):
    data: LicenseUpdateData


# -- pool keys -----------------------------------------------------------------------------------


class KeyAttributes(_Answer):
    key: str
    created: datetime
    updated: datetime


class KeyRelationships(_Answer):
    product: ToOne
    policy: ToOne


class KeyResource(_Answer):
    id: str
    attributes: KeyAttributes
    relationships: KeyRelationships


class ImportAttributes(_Request):
    key: str


class ImportItem(_Request):
    type: Literal["keys"]
    attributes: ImportAttributes


class ImportBody(_Request):
    data: list[ImportItem]


class ImportRefusal(_Answer):
    line: int
    code: str
    detail: str


class ImportReport(_Answer):
    added: int
    present: list[int]
    refused: list[ImportRefusal]


class ImportDocument(_Answer):
    meta: ImportReport


# -- users ---------------------------------------------------------------------------------------


class UserAttributes(_Answer):
    email: str
    first_name: str | None = Field(alias="firstName")
    last_name: str | None = Field(alias="lastName")
    full_name: str | None = Field(alias="fullName")
    role: str
    status: str
    metadata: dict[str, Any]
    created: datetime
    updated: datetime


class UserRelationships(_Answer):
    group: ToOne


class UserResource(_Answer):
    id: str
    attributes: UserAttributes
    relationships: UserRelationships


class UserCreateAttributes(_Request):
    email: str
    password: str | None = Field(default=None, repr=False)
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    role: UserRole = "user"
    """Sent only when given (Keyplane makes an end customer, ``user``, otherwise)."""


class UserCreateData(_Request):
    type: Literal["users"]
    attributes: UserCreateAttributes


class UserCreateBody(_Request):
    data: UserCreateData


class UserUpdateAttributes(_Request):
    password: str | None = Field(default=None, repr=False)
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    role: UserRole | None = None


class UserUpdateData(_Request):
    type: Literal["users"]
    attributes: UserUpdateAttributes


class UserUpdateBody(_Request):
    data: UserUpdateData


# -- events --------------------------------------------------------------------------------------


class EventAttributes(_Answer):
    event: str
    metadata: dict[str, Any]
    created: datetime


class Linkage(_Answer):
    """A relationship that may have no ``links`` (the system, as a whodunnit, has no record)."""

    data: Identifier | None


class EventRelationships(_Answer):
    resource: ToOne
    whodunnit: Linkage
    request: Linkage


class EventResource(_Answer):
    id: str
    attributes: EventAttributes
    relationships: EventRelationships


T = TypeVar("T")


def one(document: type[Document[R]], convert: Callable[[R], T]) -> Callable[[httpx.Response], T]:
    """A reader of an answer that is one record."""

    def read(response: httpx.Response) -> T:
        return convert(document.model_validate_json(response.content).data)

    return read


def listing(
    path: str,
    filters: dict[str, str | None],
    page_size: int,
    document: type[ListDocument[R]],
    convert: Callable[[R], T],
) -> Call[Page[T]]:
    """The first page of a list at ``path``, with the ``filters`` given (None: not given),
    ``page_size`` records a page (at most 100), newest first, paged by cursor."""

    def read(content: bytes) -> tuple[list[T], str | None]:
        parsed = document.model_validate_json(content)
        return [convert(item) for item in parsed.data], None if parsed.links is None else parsed.links.next

    params = {name: value for name, value in filters.items() if value is not None}
    return page(path, {**params, "page[size]": str(page_size), "page[cursor]": ""}, read)


def quoted(*segments: str) -> str:
    """A path of ``/v1`` and ``segments``, each quoted whole (an id, a key, an email)."""
    return "/v1/" + "/".join(quote(segment, safe="") for segment in segments)
