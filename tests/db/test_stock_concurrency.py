"""Concurrent checkouts on limited stock never oversell (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models
from bot.db.commerce import SqlOrderRepository
from domain.checkout import ItemsUnavailable, NewOrder, Quote, QuoteLine
from domain.money import Money

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
_keys = itertools.count()


async def _setup(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int, list[int]]:
    async with sessionmaker() as session, session.begin():
        store = models.Store(code="s1", name="S1", created_at=NOW, opening_hours={}, settings={})
        product = models.Product(
            sku="bun", name="Bun", price_minor=500, currency="CNY", created_at=NOW
        )
        customers = [
            models.Customer(telegram_id=9000 + i, created_at=NOW, updated_at=NOW) for i in range(8)
        ]
        session.add_all([store, product, *customers])
        await session.flush()
        session.add(models.StoreProduct(store_id=store.id, product_id=product.id, stock=0))
        return store.id, product.id, [customer.id for customer in customers]


def _order(store_id: int, product_id: int, customer_id: int, quantity: int) -> NewOrder:
    price = Money(500, "CNY")
    line = QuoteLine(product_id=product_id, name="Bun", unit_price=price, quantity=quantity)
    return NewOrder(
        idempotency_key=f"test:{next(_keys)}",
        store_id=store_id,
        customer_id=customer_id,
        fulfilment="pickup",
        quote=Quote(
            lines=(line,), subtotal=line.total, delivery_fee=Money.zero("CNY"), total=line.total
        ),
        placed_at=NOW,
    )


async def _place(sessionmaker: async_sessionmaker[AsyncSession], order: NewOrder) -> int:
    try:
        async with sessionmaker() as session, session.begin():
            await SqlOrderRepository(session).place(order)
    except ItemsUnavailable:
        return 0
    return order.quote.lines[0].quantity


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    stock=st.integers(min_value=0, max_value=12),
    quantities=st.lists(st.integers(min_value=1, max_value=5), min_size=2, max_size=8),
)
async def test_concurrent_checkouts_never_oversell(
    sessionmaker: async_sessionmaker[AsyncSession], stock: int, quantities: list[int]
) -> None:
    async with sessionmaker() as session:
        existing = await session.scalar(select(models.Store.id).where(models.Store.code == "s1"))
    if existing is None:
        ids = await _setup(sessionmaker)
    else:
        async with sessionmaker() as session:
            product_id = await session.scalar(select(models.Product.id))
            customer_ids = list(await session.scalars(select(models.Customer.id)))
        ids = (existing, int(product_id or 0), customer_ids)
    store_id, product_id, customer_ids = ids
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(models.Order))
        await session.execute(update(models.StoreProduct).values(stock=stock))

    placed = await asyncio.gather(
        *(
            _place(sessionmaker, _order(store_id, product_id, customer_ids[i], quantity))
            for i, quantity in enumerate(quantities)
        )
    )

    async with sessionmaker() as session:
        left = await session.scalar(select(models.StoreProduct.stock))
        orders = await session.scalar(select(func.count()).select_from(models.Order))
        reserved = await session.scalar(
            select(func.coalesce(func.sum(models.OrderLine.quantity), 0))
        )
    assert left is not None
    assert left >= 0
    assert sum(placed) == stock - left == reserved
    assert orders == sum(1 for quantity in placed if quantity)
    # Greedy check: an order that was refused really did not fit in what was left at the end.
    assert all(quantity > left for quantity, got in zip(quantities, placed, strict=True) if not got)
