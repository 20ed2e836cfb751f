from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keyplane.models.base import Record, UTCDateTime


class MachineProcess(Record):
    """A process running on a machine (Keygen's ``processes``), known by its ``pid``.

    It carries its machine's license and product so that the process limits (counted per
    machine, license or owner) and every bearer's view are single-table conditions.
    """

    __tablename__ = "machine_processes"
    __table_args__ = (
        # A pid is unique on its machine. Keygen allows 4 KB pids, too long for a B-tree
        # entry on PostgreSQL, so the index holds the pid's SHA-256.
        UniqueConstraint("machine_id", "pid_digest"),
        Index("ix_machine_processes_account_id_id", "account_id", "id"),
        Index("ix_machine_processes_machine_id_id", "machine_id", "id"),
        Index("ix_machine_processes_license_id_id", "license_id", "id"),
        Index("ix_machine_processes_product_id_id", "product_id", "id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"))
    machine_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("machines.id", ondelete="CASCADE"))
    pid: Mapped[str] = mapped_column(Text)
    pid_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    last_heartbeat: Mapped[datetime] = mapped_column(UTCDateTime())
