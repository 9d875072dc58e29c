"""What the acceptance-SLA jobs read and claim: waiting orders, re-announcements, timeouts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models
from domain.orders import REANNOUNCED_NOTE, OrderStatus

SLA_ACTOR = "system:sla"
# A re-announcement is an order_events row placed -> placed by the SLA with this note, so the
# audit trail shows it and no extra column is needed.
REANNOUNCED = REANNOUNCED_NOTE


@dataclass(frozen=True, slots=True)
class WaitingOrder:
    """A placed order nobody has accepted or rejected yet."""

    id: int
    store_id: int
    placed_at: datetime


class SqlSlaRepository:
    """Queries and claims behind the sla_reannounce and sla_timeout jobs."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def waiting_orders(self, placed_before: datetime, limit: int) -> Sequence[WaitingOrder]:
        """Placed orders older than the cut-off, oldest first."""
        rows = await self.session.execute(
            select(models.Order.id, models.Order.store_id, models.Order.placed_at)
            .where(
                models.Order.status == OrderStatus.PLACED.value,
                models.Order.placed_at <= placed_before,
            )
            .order_by(models.Order.placed_at, models.Order.id)
            .limit(limit)
        )
        return [WaitingOrder(row.id, row.store_id, row.placed_at) for row in rows]

    async def was_reannounced(self, order_id: int) -> bool:
        """Whether the SLA already re-announced this order."""
        found = await self.session.scalar(
            select(models.OrderEvent.id)
            .where(
                models.OrderEvent.order_id == order_id,
                models.OrderEvent.actor == SLA_ACTOR,
                models.OrderEvent.note == REANNOUNCED,
            )
            .limit(1)
        )
        return found is not None

    async def claim_reannounce(self, order_id: int, at: datetime) -> bool:
        """Mark a still-placed order re-announced; False if it moved on or was marked already.

        The order row is locked first (SELECT ... FOR UPDATE on PostgreSQL; SQLite transactions
        begin IMMEDIATE), so of two processes the second waits and then sees the first's mark.
        """
        locked = await self.session.scalar(
            select(models.Order.id)
            .where(models.Order.id == order_id, models.Order.status == OrderStatus.PLACED.value)
            .with_for_update()
        )
        if locked is None or await self.was_reannounced(order_id):
            return False
        self.session.add(
            models.OrderEvent(
                order_id=order_id,
                from_status=OrderStatus.PLACED.value,
                to_status=OrderStatus.PLACED.value,
                actor=SLA_ACTOR,
                note=REANNOUNCED,
                at=at,
            )
        )
        await self.session.flush()
        return True

    async def timeout_streak(self, store_id: int, limit: int) -> int:
        """How many of the store's latest decided orders (at most `limit`) the SLA decided.

        Counts from the newest decision (accept or reject of a placed order) backwards and stops
        at the first one a person made.
        """
        event = models.OrderEvent
        actors = await self.session.scalars(
            select(event.actor)
            .join(models.Order, models.Order.id == event.order_id)
            .where(
                models.Order.store_id == store_id,
                event.from_status == OrderStatus.PLACED.value,
                event.to_status.in_([OrderStatus.ACCEPTED.value, OrderStatus.REJECTED.value]),
            )
            .order_by(event.at.desc(), event.id.desc())
            .limit(limit)
        )
        streak = 0
        for actor in actors:
            if actor != SLA_ACTOR:
                break
            streak += 1
        return streak

    async def auto_pause(self, store_id: int, now: datetime) -> bool:
        """Pause the store until resumed, unless it is paused already (compare-and-set)."""
        store = models.Store
        result = cast(
            CursorResult[Any],
            await self.session.execute(
                update(store)
                .where(
                    store.id == store_id,
                    or_(
                        store.paused.is_(False),
                        store.paused_until.is_not(None) & (store.paused_until <= now),
                    ),
                )
                .values(paused=True, paused_until=None)
                .execution_options(synchronize_session=False)
            ),
        )
        return result.rowcount == 1
