from __future__ import annotations

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record


class Account(Record):
    __tablename__ = "accounts"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    ed25519_public: Mapped[str | None] = mapped_column(String(64))
    """The account's Ed25519 public key, hex: what clients pin to check signatures."""
    ed25519_private: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    """The private key, AES-256-GCM encrypted under a key derived from the server secret."""
