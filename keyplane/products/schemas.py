"""JSON:API request bodies for products."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, Field

from keyplane.kit.documents import InstantOut, MetadataOut, Output, SelfLink, ToMany, ToOne
from keyplane.kit.jsonapi import (
    account_base,
    resource,
    to_many,
    to_one,
)
from keyplane.kit.paging import listing_spec, no_filters, parser
from keyplane.kit.query import Spec
from keyplane.kit.schemas import ResourceId, StrictInput
from keyplane.kit.timefmt import iso
from keyplane.licensing.schemas import Metadata, Name
from keyplane.models import Product
from keyplane.models.product import DistributionStrategy

Code = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.\-]+$")]
Platforms = Annotated[list[Annotated[str, Field(min_length=1, max_length=255)]], Field(max_length=64)]
ProductType = Annotated[str, Field(pattern="^products?$")]


class ProductAttributes(StrictInput):
    name: Name | None = None
    code: Code | None = None
    distribution_strategy: DistributionStrategy | None = Field(default=None, alias="distributionStrategy")
    url: AnyHttpUrl | None = None
    platforms: Platforms | None = None
    metadata: Metadata | None = None


class ProductCreateAttributes(ProductAttributes):
    name: Name


class ProductCreateData(StrictInput):
    type: ProductType
    attributes: ProductCreateAttributes


class ProductUpdateData(StrictInput):
    type: ProductType
    id: ResourceId | None = None
    attributes: ProductAttributes


class ProductCreate(StrictInput):
    data: ProductCreateData


class ProductUpdate(StrictInput):
    data: ProductUpdateData


PRODUCT_LIST: Spec = listing_spec()
"""``/products`` and ``/products/{id}/tokens`` take paging alone, as Keygen's routes do."""
parse_product_list = parser(PRODUCT_LIST, no_filters)
# -- answers ---------------------------------------------------------------------------------


class ProductAttributesOut(Output):
    name: str
    code: str | None
    distributionStrategy: DistributionStrategy
    url: str | None
    platforms: list[str] | None
    metadata: MetadataOut
    created: InstantOut
    updated: InstantOut


class ProductRelationships(Output):
    account: ToOne
    policies: ToMany
    licenses: ToMany
    tokens: ToMany


class ProductResource(Output):
    id: str
    type: Literal["products"]
    attributes: ProductAttributesOut
    relationships: ProductRelationships
    links: SelfLink


# -- rendering ------------------------------------------------------------------------------


def product_resource(product: Product) -> dict[str, Any]:
    base = account_base(product.account_id)
    own = f"products/{product.id}"
    return resource(
        base,
        "products",
        product.id,
        {
            "name": product.name,
            "code": product.code,
            "distributionStrategy": product.distribution_strategy,
            "url": product.url,
            "platforms": product.platforms,
            "metadata": product.meta,
            "created": iso(product.created_at),
            "updated": iso(product.updated_at),
        },
        {
            "account": to_one(base, "accounts", product.account_id, ""),
            "policies": to_many(base, f"{own}/policies"),
            "licenses": to_many(base, f"{own}/licenses"),
            "tokens": to_many(base, f"{own}/tokens"),
        },
    )
