"""Typed JSON:API documents: what the licensing API answers, as pydantic models.

The routes render their answers as dicts (``keyplane.kit.jsonapi``), which is what keeps
them fast; these models are the published contract of those answers (``/openapi.json``).
Each model lists every member its renderer writes and refuses any other
(``additionalProperties: false``), so a test or a fuzzer that validates real answers
against the document catches a renderer and its model that differ.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class Output(BaseModel):
    """The base of every answer's model: exactly the members the server writes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


MetadataOut = dict[str, Any]
"""Free-form data the vendor attached, returned as sent."""
InstantOut = datetime
"""ISO 8601 in UTC with milliseconds and ``Z`` (``2026-12-07T01:10:54.337Z``)."""


class RelatedLinks(Output):
    related: str


class SelfLink(Output):
    self_: str = Field(alias="self")


class Identifier(Output):
    type: str
    id: str


class ToOne(Output):
    """A relationship to one record (``data: null`` when there is none)."""

    links: RelatedLinks
    data: Identifier | None


class ToMany(Output):
    """A relationship to many records: where to list them."""

    links: RelatedLinks


class PageMeta(Output):
    pages: int
    count: int


class PageLinks(Output):
    """A paged list's links: ``self`` and ``next`` with ``page[cursor]``; with ``page[number]``
    also ``prev``, ``first``, ``last`` and ``meta``."""

    self_: str = Field(alias="self")
    prev: str | None = None
    next: str | None = None
    first: str | None = None
    last: str | None = None
    meta: PageMeta | None = None


R = TypeVar("R")


class Document(Output, Generic[R]):
    """One record (or null, where the relationship may be empty)."""

    data: R


class ListDocument(Output, Generic[R]):
    """A list, newest first. ``links`` is there when the request paged with ``page[...]``;
    a plain ``limit`` list has none (as Keygen answers)."""

    data: list[R]
    links: PageLinks | None = None


def returns(model: type[BaseModel], status: int = 200) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses`` when it answers ``model`` with ``status`` in a response it
    renders itself: the model documents the answer and takes no part in rendering it (a
    ``response_model`` would validate and serialise every answer again)."""
    return {status: {"model": model}}
