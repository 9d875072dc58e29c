"""The unit of work for one update: repositories, the inbox record and outbox rows, one commit."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models
from bot.db.booking import SqlReservationRepository
from bot.db.campaigns import SqlCampaignRepository
from bot.db.commerce import (
    SqlCartRepository,
    SqlCatalogRepository,
    SqlOrderRepository,
    SqlPaymentRepository,
)
from bot.db.repositories import (
    SqlConversationRepository,
    SqlCustomerRepository,
    SqlStoreRepository,
)
from bot.db.surveys import SqlReportRepository, SqlSurveyRepository
from handlers.outbound import OutboundCall


class SqlUnitOfWork:
    """Repositories sharing one session; the caller's `session.begin()` block commits once."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.customers = SqlCustomerRepository(session)
        self.stores = SqlStoreRepository(session)
        self.conversations = SqlConversationRepository(session)
        self.catalog = SqlCatalogRepository(session)
        self.carts = SqlCartRepository(session)
        self.orders = SqlOrderRepository(session)
        self.reservations = SqlReservationRepository(session)
        self.payments = SqlPaymentRepository(session)
        self.surveys = SqlSurveyRepository(session)
        self.reports = SqlReportRepository(session)
        self.campaigns = SqlCampaignRepository(session)

    async def record_update(
        self, update_id: int, kind: str, now: datetime, outcome: str = "handled"
    ) -> bool:
        """Add the update id to the inbox; False when it was already there (a redelivery)."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(models.InboxEntry)
            .values(update_id=update_id, kind=kind, outcome=outcome, received_at=now)
            .on_conflict_do_nothing(index_elements=["update_id"])
        )
        result = await self.session.execute(statement)
        return bool(getattr(result, "rowcount", 0) == 1)

    async def prune_inbox(self, received_before: datetime) -> int:
        """Forget update ids received before the cut-off; returns how many went."""
        result = await self.session.execute(
            delete(models.InboxEntry).where(models.InboxEntry.received_at < received_before)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def enqueue(
        self, calls: Sequence[OutboundCall], now: datetime, source_update_id: int | None = None
    ) -> list[models.OutboxMessage]:
        """Write Bot API calls to the outbox; they are sent only after this transaction commits."""
        rows = []
        for call in calls:
            params = dict(call.params)
            for name, upload in call.files.items():
                token = secrets.token_hex(16)
                params[name] = {"attach": token}
                self.session.add(
                    models.OutboxFile(
                        token=token, filename=upload.filename, data=upload.data, created_at=now
                    )
                )
            row = models.OutboxMessage(
                chat_id=call.chat_id,
                method=call.method,
                params=params,
                ref=call.ref,
                label=call.label,
                target_ref=call.target,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                source_update_id=source_update_id,
            )
            self.session.add(row)
            rows.append(row)
        return rows
