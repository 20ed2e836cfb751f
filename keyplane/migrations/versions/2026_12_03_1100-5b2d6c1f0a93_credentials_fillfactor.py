"""credentials fillfactor: room on each page for the next version of a row

``last_used_at`` moves on every key in use, a row a minute each. With full pages
(PostgreSQL's default fillfactor of 100) each such UPDATE writes the new row version on
another page, and so a new entry in each of the table's five indexes, each a page to write
(and after a checkpoint, to write whole to the WAL). With a fifth of each page free, the
new version stays on its page and no index changes (a heap-only tuple): one page written
per use. Applies to pages written from now on. PostgreSQL only: SQLite has no such setting.

Revision ID: 5b2d6c1f0a93
Revises: e80ee82c3645
Create Date: 2026-12-03 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "5b2d6c1f0a93"
down_revision: str | None = "e80ee82c3645"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE credentials SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE credentials RESET (fillfactor)")
