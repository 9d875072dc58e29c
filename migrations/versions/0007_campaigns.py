"""Push campaigns and RFM runs; customers' marketing consent question and last push.

Revision ID: 0007_campaigns
Revises: 0006_report_requests
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.types import UtcDateTime

# revision identifiers, used by Alembic.
revision: str = "0007_campaigns"
down_revision: str | Sequence[str] | None = "0006_report_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("marketing_asked_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("last_push_at", UtcDateTime(), nullable=True))
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.Integer(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("confirmed_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("progress_at", UtcDateTime(), nullable=True),
        sa.Column("progress_text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_campaigns_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index("ix_campaigns_status", "campaigns", ["status"])
    op.create_index(op.f("ix_campaigns_store_id"), "campaigns", ["store_id"])
    op.create_table(
        "campaign_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("outbox_id", sa.BigInteger(), nullable=True),
        sa.Column("queued_at", UtcDateTime(), nullable=True),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("opened_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_recipients_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_campaign_recipients_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint(
            "campaign_id",
            "customer_id",
            name=op.f("uq_campaign_recipients_campaign_id_customer_id"),
        ),
    )
    op.create_index(
        "ix_campaign_recipients_campaign_status", "campaign_recipients", ["campaign_id", "status"]
    )
    op.create_index(
        "ix_campaign_recipients_customer_sent", "campaign_recipients", ["customer_id", "sent_at"]
    )
    op.create_table(
        "rfm_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.String(length=10), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_rfm_runs_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rfm_runs")),
    )
    op.create_index("ix_rfm_runs_scope", "rfm_runs", ["store_id", "model", "id"])
    op.create_table(
        "rfm_members",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("segment", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["rfm_runs.id"], name=op.f("fk_rfm_members_run_id_rfm_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "customer_id", name=op.f("pk_rfm_members")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("rfm_members")
    op.drop_index("ix_rfm_runs_scope", table_name="rfm_runs")
    op.drop_table("rfm_runs")
    op.drop_index("ix_campaign_recipients_customer_sent", table_name="campaign_recipients")
    op.drop_index("ix_campaign_recipients_campaign_status", table_name="campaign_recipients")
    op.drop_table("campaign_recipients")
    op.drop_index(op.f("ix_campaigns_store_id"), table_name="campaigns")
    op.drop_index("ix_campaigns_status", table_name="campaigns")
    op.drop_table("campaigns")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("last_push_at")
        batch.drop_column("marketing_asked_at")
