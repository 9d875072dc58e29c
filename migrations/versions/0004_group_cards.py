"""Staff-group cards: digest and edit-collapsing columns on the outbox; who moved an order.

Revision ID: 0004_group_cards
Revises: 0003_payments
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004_group_cards"
down_revision: str | Sequence[str] | None = "0003_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("label", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("target_ref", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("bundle_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_outbox_chat_target", "outbox", ["chat_id", "target_ref"])
    op.create_index("ix_outbox_bundle", "outbox", ["bundle_id"])
    with op.batch_alter_table("order_events") as batch:
        batch.add_column(sa.Column("actor_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("order_events") as batch:
        batch.drop_column("actor_name")
    op.drop_index("ix_outbox_bundle", table_name="outbox")
    op.drop_index("ix_outbox_chat_target", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("bundle_id")
        batch.drop_column("target_ref")
        batch.drop_column("label")
