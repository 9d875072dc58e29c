"""Store tables and services for reservations; reservations point at them.

Revision ID: 0002_tables_services
Revises: 0001_initial
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.types import UtcDateTime

# revision identifiers, used by Alembic.
revision: str = "0002_tables_services"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("price_minor", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("duration_minutes > 0", name=op.f("ck_services_duration_positive")),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_services_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("store_id", "code", name=op.f("uq_services_store_id_code")),
    )
    op.create_table(
        "store_tables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=8), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_store_tables_capacity_positive")),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_store_tables_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_tables")),
        sa.UniqueConstraint("store_id", "label", name=op.f("uq_store_tables_store_id_label")),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("table_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("service_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reminder_sent_at", UtcDateTime(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_reservations_table_id_store_tables"),
            "store_tables",
            ["table_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_reservations_service_id_services"), "services", ["service_id"], ["id"]
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_reservations_service_id_services"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_reservations_table_id_store_tables"), type_="foreignkey"
        )
        batch_op.drop_column("reminder_sent_at")
        batch_op.drop_column("service_id")
        batch_op.drop_column("table_id")

    op.drop_table("store_tables")
    op.drop_table("services")
