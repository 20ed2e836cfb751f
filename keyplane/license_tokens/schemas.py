"""License tokens (Keygen's activation tokens) in Keygen's JSON:API shapes: the body of
``POST /licenses/{license}/tokens``."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

from keyplane import examples as example
from keyplane.kit.documents import Document
from keyplane.kit.instants import Instant
from keyplane.kit.paging import listing_spec, no_filters, parser
from keyplane.kit.query import Spec
from keyplane.kit.schemas import StrictInput
from keyplane.tokens.schemas import TokenResource


def _not_negative(value: int) -> int:
    if value < 0:
        raise ValueError("must be greater than or equal to 0")
    return value


Count = Annotated[int, Field(le=2_147_483_647), AfterValidator(_not_negative)]
"""A count of activations or deactivations (Keygen: ``MAX_ACTIVATIONS_INVALID``, "must be
greater than or equal to 0", for a negative one)."""


class LicenseTokenAttributes(StrictInput):
    name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    expiry: Instant | None = None
    max_activations: Count | None = Field(default=None, alias="maxActivations")
    """How many machines the token may activate; none: no limit."""
    max_deactivations: Count | None = Field(default=None, alias="maxDeactivations")
    """How many machines the token may deactivate; none: no limit."""


class LicenseTokenData(StrictInput):
    type: Annotated[str, Field(pattern="^tokens?$")] = "tokens"
    attributes: LicenseTokenAttributes = LicenseTokenAttributes()


class LicenseTokenRequest(StrictInput):
    model_config = ConfigDict(json_schema_extra=example.of(example.LICENSE_TOKEN_REQUEST))

    data: LicenseTokenData = LicenseTokenData()


LICENSE_TOKEN_LIST: Spec = listing_spec()
"""A license's tokens: paging alone, as Keygen's route."""
parse_license_token_list = parser(LICENSE_TOKEN_LIST, no_filters)


class LicenseTokenDocument(Document[TokenResource]):
    """An activation token (the secret only in the answer that made it)."""

    model_config = ConfigDict(json_schema_extra=example.of({"data": example.LICENSE_TOKEN_RESOURCE}))
