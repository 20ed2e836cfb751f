from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    ScalarSelect,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, column_property, declared_attr, mapped_column, undefer

from keyplane.models.base import Record, Total, UTCDateTime
from keyplane.models.license_user import LicenseUser
from keyplane.models.machine import Machine


def _of_machines(license_id: Any, value: Any) -> ScalarSelect[Any]:
    return select(value).where(Machine.license_id == license_id).correlate_except(Machine).scalar_subquery()


class License(Record):
    """A license key granted under a policy, optionally owned by a user.

    ``max_*`` and ``protected`` are overrides: None means "the policy's value".
    """

    __tablename__ = "licenses"
    __table_args__ = (
        UniqueConstraint("account_id", "key_digest"),
        Index("ix_licenses_account_id_id", "account_id", "id"),
        Index("ix_licenses_policy_id_id", "policy_id", "id"),
        Index("ix_licenses_product_id_id", "product_id", "id"),
        Index("ix_licenses_owner_id_id", "owner_id", "id"),
        # Finding a customer's licenses (the list's owner filter, the console's search by
        # email): two equalities on one index, in id order (the pages'), which every planner
        # prefers to the account's or the owner's alone.
        Index("ix_licenses_account_id_owner_id_id", "account_id", "owner_id", "id"),
        # The list filters on expiry (expires[...], expired, expiring, status).
        Index("ix_licenses_account_id_expiry", "account_id", "expiry"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    group_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("groups.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(Text)
    key_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    """SHA-256 of ``key``: what uniqueness and lookups by key use."""
    expiry: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    protected: Mapped[bool | None] = mapped_column(Boolean)
    max_machines: Mapped[int | None] = mapped_column(Integer)
    max_processes: Mapped[int | None] = mapped_column(Integer)
    max_users: Mapped[int | None] = mapped_column(Integer)
    max_cores: Mapped[int | None] = mapped_column(Integer)
    max_memory: Mapped[int | None] = mapped_column(Integer)
    max_disk: Mapped[int | None] = mapped_column(Integer)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    last_validated: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_check_in: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_check_out: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # What its machines add up to, read with the license (Keygen's counter caches, shown as
    # the ``machines`` relationship's meta). Not expired by a flush: a license is rendered
    # as it was read, and whatever changes its machines drops every cached rendering.
    @declared_attr
    def machines_count(cls) -> Mapped[int]:
        return column_property(_of_machines(cls.id, func.count()), expire_on_flush=False)

    @declared_attr
    def machines_cores(cls) -> Mapped[int]:
        return column_property(_of_machines(cls.id, Total(Machine.cores)), expire_on_flush=False)

    @declared_attr
    def machines_memory(cls) -> Mapped[int]:
        return column_property(_of_machines(cls.id, Total(Machine.memory)), expire_on_flush=False)

    @declared_attr
    def machines_disk(cls) -> Mapped[int]:
        return column_property(_of_machines(cls.id, Total(Machine.disk)), expire_on_flush=False)

    # Its licensees (besides the owner): Keygen's ``license_users_count`` counter cache, which
    # ``users_count`` (the ``users`` relationship's meta and ``TOO_MANY_USERS``) adds the owner
    # to. Read only by the reads that render or validate a license (``WITH_LICENSEES``): the
    # others (authentication, machines, the console's pages) skip its subquery, and reading
    # it on a license loaded without it raises instead of querying behind the caller's back.
    @declared_attr
    def licensees_count(cls) -> Mapped[int]:
        attached = (
            select(func.count())
            .where(LicenseUser.license_id == cls.id)
            .correlate_except(LicenseUser)
            .scalar_subquery()
        )
        return column_property(attached, expire_on_flush=False, deferred=True, raiseload=True)

    def invalidates(self) -> tuple[str, ...]:
        """Cache tags besides the id: a cached "no such key" answer for this key."""
        return (key_tag(self.key_digest),) if self.key_digest is not None else ()


WITH_LICENSEES = undefer(License.licensees_count)
"""The loader option of the reads whose license is rendered or validated."""


def key_tag(key_digest: bytes) -> str:
    """The cache tag of a license key (by digest), for entries about a key, found or not."""
    return "k:" + key_digest.hex()
