from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BindParameter,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    and_,
    bindparam,
)
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.kit.credentials import CredentialKind
from keyplane.models.base import Record, UTCDateTime, Vocabulary


class CredentialStatus(StrEnum):
    """Whether a credential may be used: set by its owner (``inactive`` is undone only by them
    or a MANAGE caller), and ``inactive`` for good once it is deleted."""

    ACTIVE = "active"
    INACTIVE = "inactive"


ONE_BEARER = (
    "(CASE WHEN user_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN product_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN license_id IS NULL THEN 0 ELSE 1 END) = 1"
)
"""A credential acts for exactly one bearer: a user, a product, or a license."""


class Credential(Record):
    """API keys, tokens and OAuth2 access tokens: one engine, one table.

    The plaintext is never stored: ``lookup`` finds the row, ``digest`` (HMAC-SHA256 with
    the server secret) proves the secret.
    """

    __tablename__ = "credentials"
    __table_args__ = (
        Index("ix_credentials_account_id_user_id_id", "account_id", "user_id", "id"),
        # An account's credentials of one kind and status (a list of inactive keys, or of
        # tokens); the live API keys have their own narrower index below.
        Index(
            "ix_credentials_account_id_kind_status_deleted_at_id",
            "account_id",
            "kind",
            "status",
            "deleted_at",
            "id",
        ),
        Index("ix_credentials_parent_id", "parent_id"),
        Index("ix_credentials_product_id", "product_id"),
        Index("ix_credentials_license_id", "license_id"),
        CheckConstraint(ONE_BEARER, name="one_bearer"),
        CheckConstraint("(rate_limit IS NULL) = (rate_limit_duration IS NULL)", name="rate_limit_pair"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    """Set (instead of ``user_id``) on a product token: it acts for that product alone."""
    license_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"))
    """Set (instead of ``user_id``) on a license token (Keygen's activation token): it acts
    for that license alone, and counts the machines it activates and deactivates."""
    max_activations: Mapped[int | None] = mapped_column(Integer)
    activations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    max_deactivations: Mapped[int | None] = mapped_column(Integer)
    deactivations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("credentials.id", ondelete="CASCADE"))
    """The API key an OAuth2 access token was issued for."""
    kind: Mapped[CredentialKind] = mapped_column(Vocabulary(CredentialKind, 16))
    lookup: Mapped[str] = mapped_column(String(16), unique=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    start: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    whitelisted_ips: Mapped[list[str] | None] = mapped_column(JSON)
    status: Mapped[CredentialStatus] = mapped_column(
        Vocabulary(CredentialStatus, 16), default=CredentialStatus.ACTIVE
    )
    deactivated_by: Mapped[uuid.UUID | None] = mapped_column()
    """The user who set status inactive: only they, or a MANAGE caller, may undo it."""
    api_version: Mapped[str | None] = mapped_column(String(10))
    api_version_previous: Mapped[str | None] = mapped_column(String(10))
    api_version_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    api_version_downgrade_not_allowed_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rate_limit: Mapped[int | None] = mapped_column(Integer)
    """Requests allowed per window of ``rate_limit_duration`` seconds; None (with the
    duration) means unlimited. An access token counts against its parent key's limit."""
    rate_limit_duration: Mapped[int | None] = mapped_column(Integer)
    budget_id: Mapped[uuid.UUID | None] = mapped_column()
    """The key whose rate-limit budget this key's uses spend too: set on a key made by a
    rate-limited key without MANAGE (the maker's own budget, or the one it shares), so that
    making keys never buys more requests. Not a foreign key: a key outlives its maker's row."""
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:  # never the digest
        return f"Credential(id={self.id}, kind={self.kind}, start={self.start})"


def _word(value: StrEnum) -> BindParameter[str]:
    # Written into the statement, not bound: a planner uses a partial index only when the
    # query's own condition shows it holds, which a bound value cannot (SQLite never looks at
    # one; PostgreSQL does not in the generic plan of a prepared statement).
    return bindparam(None, value.value, unique=True, literal_execute=True)


LIVE_API_KEY: tuple[ColumnElement[bool], ...] = (
    Credential.kind == _word(CredentialKind.API_KEY),
    Credential.status == _word(CredentialStatus.ACTIVE),
    Credential.deleted_at.is_(None),
)
"""What makes a credential a live API key: one that is not deleted nor deactivated."""

# A page of an account's live API keys (newest first) reads no more of this index than the
# page shows, and their exact count (a list's ``total``) reads this index alone. Holding only
# those keys, and only two columns, it is small enough that the planner prefers it to reading
# the table: with every column of the filter in it, the index above is not. (SQLite's planner
# reads that wider index alone already, and picks it.)
Index(
    "ix_credentials_live_api_keys",
    Credential.account_id,
    Credential.id,
    postgresql_where=and_(*LIVE_API_KEY),
    sqlite_where=and_(*LIVE_API_KEY),
)
