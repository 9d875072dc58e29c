"""Report requests (/stats and /export answered off the update); orders by store and time.

Revision ID: 0006_report_requests
Revises: 0005_outbox_files
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.types import UtcDateTime

# revision identifiers, used by Alembic.
revision: str = "0006_report_requests"
down_revision: str | Sequence[str] | None = "0005_outbox_files"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "report_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("store_code", sa.String(length=32), nullable=True),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("switch_stores", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("claimed_at", UtcDateTime(), nullable=True),
        sa.Column("done_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_requests")),
    )
    op.create_index("ix_report_requests_status", "report_requests", ["status", "id"])
    # One store's figures read only that store's orders of the period.
    op.create_index("ix_orders_store_placed", "orders", ["store_id", "placed_at"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_orders_store_placed", table_name="orders")
    op.drop_index("ix_report_requests_status", table_name="report_requests")
    op.drop_table("report_requests")
