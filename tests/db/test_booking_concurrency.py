"""Concurrent bookings never share a place; reminders are claimed once (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models
from bot.db.booking import SqlReservationRepository
from domain.booking import NewReservation, SlotUnavailable
from domain.reservations import ReservationKind

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
START = NOW + timedelta(days=1)
CONTENDERS = 6


async def _setup(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> tuple[int, int, list[int]]:
    """A store with one 4-seat table and one service, and some customers."""
    async with sessionmaker() as session, session.begin():
        store = models.Store(code="s1", name="S1", created_at=NOW, opening_hours={}, settings={})
        customers = [
            models.Customer(telegram_id=9100 + i, created_at=NOW, updated_at=NOW)
            for i in range(CONTENDERS)
        ]
        session.add_all([store, *customers])
        await session.flush()
        session.add(models.StoreTable(store_id=store.id, label="1", capacity=4, active=True))
        service = models.Service(
            store_id=store.id, code="cut", name="Haircut", names={}, duration_minutes=30
        )
        session.add(service)
        await session.flush()
        return store.id, service.id, [customer.id for customer in customers]


def _table_request(store_id: int, customer_id: int, party: int = 2) -> NewReservation:
    return NewReservation(
        store_id=store_id,
        customer_id=customer_id,
        kind=ReservationKind.TABLE,
        party_size=party,
        starts_at=START,
        duration_minutes=90,
        requested_at=NOW,
    )


async def _book(
    sessionmaker: async_sessionmaker[AsyncSession], request: NewReservation, capacity: int = 1
) -> bool | None:
    """True: booked; False: the same earlier booking came back; None: no place left."""
    try:
        async with sessionmaker() as session, session.begin():
            _, created = await SqlReservationRepository(session).create(request, capacity)
    except SlotUnavailable:
        return None
    return created


async def _count(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(models.Reservation)) or 0)


async def test_concurrent_bookings_for_the_last_table_make_one_reservation(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store_id, _, customers = await _setup(sessionmaker)

    outcomes = await asyncio.gather(
        *(_book(sessionmaker, _table_request(store_id, customer)) for customer in customers)
    )

    assert sorted(outcomes, key=str) == sorted([True] + [None] * (CONTENDERS - 1), key=str)
    assert await _count(sessionmaker) == 1
    async with sessionmaker() as session:
        events = await session.scalar(
            select(func.count())
            .select_from(models.OrderEvent)
            .where(models.OrderEvent.reservation_id.is_not(None))
        )
    assert events == 1


async def test_the_same_request_sent_twice_at_once_books_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store_id, _, customers = await _setup(sessionmaker)
    request = _table_request(store_id, customers[0])

    outcomes = await asyncio.gather(_book(sessionmaker, request), _book(sessionmaker, request))

    assert sorted(outcomes, key=str) == [False, True]
    assert await _count(sessionmaker) == 1


async def test_concurrent_appointments_fill_the_parallel_capacity_exactly(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store_id, service_id, customers = await _setup(sessionmaker)

    outcomes = await asyncio.gather(
        *(
            _book(
                sessionmaker,
                NewReservation(
                    store_id=store_id,
                    customer_id=customer,
                    kind=ReservationKind.SERVICE,
                    party_size=1,
                    starts_at=START,
                    duration_minutes=30,
                    requested_at=NOW,
                    service_id=service_id,
                ),
                capacity=2,
            )
            for customer in customers
        )
    )

    assert outcomes.count(True) == 2
    assert outcomes.count(None) == CONTENDERS - 2


async def test_a_reminder_is_claimed_by_one_process_only(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store_id, _, customers = await _setup(sessionmaker)
    assert await _book(sessionmaker, _table_request(store_id, customers[0]))
    at = START - timedelta(minutes=30)
    async with sessionmaker() as session:
        [due] = await SqlReservationRepository(session).due_reminders(at, START, 10)
    assert due.chat_id == 9100

    async def claim() -> bool:
        async with sessionmaker() as session, session.begin():
            return await SqlReservationRepository(session).mark_reminded(due.reservation.id, at)

    claims = await asyncio.gather(claim(), claim(), claim())

    assert sorted(claims) == [False, False, True]
    async with sessionmaker() as session:
        assert await SqlReservationRepository(session).due_reminders(at, START, 10) == []
