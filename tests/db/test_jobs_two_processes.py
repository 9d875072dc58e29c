"""Two processes running the acceptance-SLA jobs at once: every order is handled exactly once.

The jobs claim each order with compare-and-set (and a row lock on PostgreSQL), so a second
process running the same tick finds the work done instead of doing it again.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models
from bot.db.commerce import SqlOrderRepository
from domain.checkout import NewOrder, Quote, QuoteLine
from domain.money import Money

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
GROUP = -500
ROOT = Path(__file__).resolve().parents[2]


async def _orders(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[list[int], list[int]]:
    """Twelve orders past the timeout (15 min) and twelve past the re-announcement (5 min)."""
    async with sessionmaker() as session, session.begin():
        store = models.Store(
            code="s1",
            name="S1",
            created_at=NOW,
            opening_hours={},
            settings={"sla_pause_after": 100},
            staff_chat_id=GROUP,
        )
        product = models.Product(
            sku="bun", name="Bun", price_minor=500, currency="CNY", created_at=NOW
        )
        customers = [
            models.Customer(
                telegram_id=9100 + i, first_name=f"C{i}", created_at=NOW, updated_at=NOW
            )
            for i in range(24)
        ]
        session.add_all([store, product, *customers])
        await session.flush()
        session.add(models.StoreProduct(store_id=store.id, product_id=product.id, stock=None))
        price = Money(500, "CNY")
        line = QuoteLine(product_id=product.id, name="Bun", unit_price=price, quantity=1)
        quote = Quote(
            lines=(line,), subtotal=line.total, delivery_fee=Money.zero("CNY"), total=line.total
        )
        repository = SqlOrderRepository(session)
        ids = []
        for i, customer in enumerate(customers):
            waited = 20 if i < 12 else 7
            placed = await repository.place(
                NewOrder(
                    idempotency_key=f"two-processes:{i}",
                    store_id=store.id,
                    customer_id=customer.id,
                    fulfilment="pickup",
                    quote=quote,
                    placed_at=NOW - timedelta(minutes=waited),
                )
            )
            ids.append(placed.id)
    return ids[:12], ids[12:]


async def _worker(url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.db.job_worker", url, NOW.isoformat(), "3", cwd=ROOT
    )
    assert await process.wait() == 0


async def test_two_job_processes_side_by_side_handle_each_order_exactly_once(
    migrated_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    timed_out, waiting = await _orders(sessionmaker)

    await asyncio.gather(_worker(migrated_url), _worker(migrated_url))

    async with sessionmaker() as session:
        events = (await session.execute(select(models.OrderEvent))).scalars().all()
        orders = {o.id: o for o in (await session.scalars(select(models.Order))).all()}
        outbox = (await session.scalars(select(models.OutboxMessage))).all()
    assert {orders[i].status for i in timed_out} == {"rejected"}
    assert {orders[i].status for i in waiting} == {"placed"}
    rejections = Counter(e.order_id for e in events if e.to_status == "rejected")
    assert rejections == Counter(dict.fromkeys(timed_out, 1))
    reannounced = Counter(e.order_id for e in events if e.note == "reannounced")
    assert reannounced == Counter(dict.fromkeys(waiting, 1)), "past the timeout: no copy"
    copies = Counter(row.ref for row in outbox if row.ref and row.ref.endswith(":sla"))
    assert copies == Counter({f"order:{i}:sla": 1 for i in waiting})
    customers_told = [row for row in outbox if row.chat_id and row.chat_id > 0]
    assert len(customers_told) == 12, "one rejection notice per timed-out order"
