"""Files sent through the outbox (the /stats chart, /export CSV): bytes kept until sent.

Revision ID: 0005_outbox_files
Revises: 0004_group_cards
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.types import UtcDateTime

# revision identifiers, used by Alembic.
revision: str = "0005_outbox_files"
down_revision: str | Sequence[str] | None = "0004_group_cards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "outbox_files",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_outbox_files")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("outbox_files")
