"""Sender lease: one outbox sender at a time when several processes share a SQLite file.

Revision ID: 0008_sender_lease
Revises: 0007_campaigns
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.types import UtcDateTime

# revision identifiers, used by Alembic.
revision: str = "0008_sender_lease"
down_revision: str | Sequence[str] | None = "0007_campaigns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "sender_lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sender_lease")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("sender_lease")
