"""Telegram payments, recorded once per charge id.

Revision ID: 0003_payments
Revises: 0002_tables_services
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.types import UtcDateTime

# revision identifiers, used by Alembic.
revision: str = "0003_payments"
down_revision: str | Sequence[str] | None = "0002_tables_services"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_payment_charge_id", sa.String(length=200), nullable=False),
        sa.Column("provider_payment_charge_id", sa.String(length=200), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.String(length=128), nullable=False),
        sa.Column("total_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_payments_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_payments_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_payments_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint(
            "telegram_payment_charge_id", name=op.f("uq_payments_telegram_payment_charge_id")
        ),
    )
    op.create_index(op.f("ix_payments_customer_id"), "payments", ["customer_id"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_payments_customer_id"), table_name="payments")

    op.drop_table("payments")
