"""What a check-out takes (query string and ``meta``) and answers (``license-files`` and
``machine-files``), in Keygen's shapes (``checkouts_controller.rb``, ``license_file_serializer.rb``,
``machine_file_serializer.rb``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool

from keyplane import examples as example
from keyplane.checkouts.certificate import DEFAULT_TTL
from keyplane.kit.documents import Document, InstantOut, Output, ToOne
from keyplane.kit.jsonapi import account_base, to_one
from keyplane.kit.query import Items, Param, boolean, last, refuse, spec
from keyplane.kit.schemas import StrictInput
from keyplane.kit.timefmt import iso, iso_or_none

QUERY = spec(
    Param("encrypt", "true: encrypt the file (AES-256-GCM, keyed by the license key)"),
    Param("algorithm", "aes-256-gcm+ed25519 or base64+ed25519 (the default follows encrypt)"),
    Param("ttl", "Seconds the file is valid, at least 3600; empty for a file that never expires"),
    Param("include", "Comma-separated records to embed (e.g. product,policy,owner)"),
)
MAX_TTL = 2**63 - 1
_TTL_HINT = "must be a number of seconds"

Ttl = Annotated[int, Field(le=MAX_TTL)]


class CheckoutMeta(StrictInput):
    """A ``POST``'s ``meta``: each member given replaces the query string's."""

    encrypt: StrictBool | None = None
    algorithm: Annotated[str, Field(max_length=64)] | None = None
    ttl: Ttl | None = None
    """Seconds, at least 3600 (one hour); null for a file that never expires."""
    include: list[Annotated[str, Field(max_length=64)]] | None = None


class Checkout(StrictInput):
    model_config = ConfigDict(json_schema_extra=example.of(example.CHECKOUT))

    meta: CheckoutMeta = CheckoutMeta()


@dataclass(frozen=True, slots=True)
class Options:
    """A check-out's options, as Keygen reads them: ``ttl`` None is a file without expiry."""

    encrypt: bool = False
    algorithm: str | None = None
    ttl: int | None = DEFAULT_TTL
    include: tuple[str, ...] = ()


def _ttl(value: str) -> int | None:
    if not value.strip():
        return None
    try:
        number = int(value)
    except ValueError:
        raise refuse("ttl", _TTL_HINT) from None
    if number > MAX_TTL:
        raise refuse("ttl", _TTL_HINT)
    return number


def _include(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def options(items: Items, meta: CheckoutMeta | None) -> Options:
    """The query string's options, then ``meta``'s over them (Keygen merges them so)."""
    QUERY.refuse_unknown(items)
    values: dict[str, Any] = {}
    encrypt, algorithm, ttl, include = (
        last(items, name) for name in ("encrypt", "algorithm", "ttl", "include")
    )
    if encrypt is not None:
        values["encrypt"] = bool(encrypt.strip()) and boolean(encrypt, "encrypt")
    if algorithm is not None:
        values["algorithm"] = algorithm or None
    if ttl is not None:
        values["ttl"] = _ttl(ttl)
    if include is not None:
        values["include"] = _include(include)
    if meta is not None:
        sent = meta.model_fields_set
        for name in ("algorithm", "ttl"):
            if name in sent:
                values[name] = getattr(meta, name)
        if "encrypt" in sent:
            values["encrypt"] = bool(meta.encrypt)
        if "include" in sent:
            values["include"] = tuple(meta.include or ())
    return Options(**values)


# -- answers ---------------------------------------------------------------------------------


class FileAttributes(Output):
    certificate: str
    """The armoured certificate (``-----BEGIN LICENSE FILE-----`` ...), what the client stores."""
    algorithm: str
    includes: list[str]
    ttl: int | None
    expiry: InstantOut | None
    issued: InstantOut


class LicenseFileRelationships(Output):
    account: ToOne
    license: ToOne


class MachineFileRelationships(Output):
    account: ToOne
    license: ToOne
    machine: ToOne


class LicenseFileResource(Output):
    id: str
    type: Literal["license-files"]
    attributes: FileAttributes
    relationships: LicenseFileRelationships


class MachineFileResource(Output):
    id: str
    type: Literal["machine-files"]
    attributes: FileAttributes
    relationships: MachineFileRelationships


class LicenseFileDocument(Document[LicenseFileResource]):
    """A license file: ``attributes.certificate`` is the file."""

    model_config = ConfigDict(json_schema_extra=example.of({"data": example.LICENSE_FILE_RESOURCE}))


class MachineFileDocument(Document[MachineFileResource]):
    """A machine file: ``attributes.certificate`` is the file."""


@dataclass(frozen=True, slots=True)
class CheckedOut:
    """A file made by a check-out (nothing of it is stored)."""

    id: uuid.UUID
    account_id: uuid.UUID
    license_id: uuid.UUID
    machine_id: uuid.UUID | None
    certificate: str
    algorithm: str
    includes: tuple[str, ...]
    ttl: int | None
    issued: datetime
    expiry: datetime | None

    @property
    def filename(self) -> str:
        """Keygen's ``Content-Disposition`` name: the license's (or machine's) id."""
        return f"{self.machine_id or self.license_id}.lic"


def file_resource(made: CheckedOut) -> dict[str, Any]:
    base = account_base(made.account_id)
    relationships = {
        "account": to_one(base, "accounts", made.account_id, ""),
        "license": to_one(base, "licenses", made.license_id, f"licenses/{made.license_id}"),
    }
    if made.machine_id is not None:
        relationships["machine"] = to_one(base, "machines", made.machine_id, f"machines/{made.machine_id}")
    return {
        "id": str(made.id),
        "type": "machine-files" if made.machine_id is not None else "license-files",
        "attributes": {
            "certificate": made.certificate,
            "algorithm": made.algorithm,
            "includes": list(made.includes),
            "ttl": made.ttl,
            "expiry": iso_or_none(made.expiry),
            "issued": iso(made.issued),
        },
        "relationships": relationships,
    }
