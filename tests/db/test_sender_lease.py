"""Sender leadership: one holder at a time, taken over on release, expiry or a dead session."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.engine import create_engine, create_sessionmaker
from bot.db.leader import AdvisoryLock, LeaseLeadership, SoleLeader, sender_leadership
from bot.db.models import SenderLease
from tests.conftest import database_backends


class Time:
    """Wall and monotonic seconds a test moves on by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _lease(
    sessionmaker: async_sessionmaker[AsyncSession], holder: str, clock: Time
) -> LeaseLeadership:
    return LeaseLeadership(
        sessionmaker,
        lease_seconds=6.0,
        retry_interval=1.0,
        holder=holder,
        wall=clock,
        monotonic=clock,
    )


async def test_the_first_holder_takes_the_lease_and_a_second_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = Time()
    first, second = _lease(sessionmaker, "a", clock), _lease(sessionmaker, "b", clock)

    assert await first.held()
    assert not await second.held()
    assert first.holding
    assert not second.holding
    async with sessionmaker() as session:
        assert await session.scalar(select(SenderLease.holder)) == "a"


async def test_a_holder_renews_its_lease_and_keeps_it(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = Time()
    first, second = _lease(sessionmaker, "a", clock), _lease(sessionmaker, "b", clock)
    assert await first.held()

    for _ in range(10):  # 30 s, five leases long
        clock.now += 3.0
        assert await first.held()
        assert not await second.held()


async def test_an_expired_lease_is_taken_over_and_the_old_holder_stops_leading(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = Time()
    first, second = _lease(sessionmaker, "a", clock), _lease(sessionmaker, "b", clock)
    assert await first.held()

    clock.now += 5.9  # the holder stalls: no renewal
    assert not await second.held(), "not expired yet"
    assert first.holding
    clock.now += 0.2
    assert not first.holding, "past its lease the holder no longer trusts itself"
    clock.now += 1.0  # the standby's next try
    assert await second.held()
    assert not await first.held()


async def test_a_released_lease_is_taken_at_the_next_try(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = Time()
    first, second = _lease(sessionmaker, "a", clock), _lease(sessionmaker, "b", clock)
    assert await first.held()
    assert not await second.held()

    await first.release()
    assert not first.holding
    assert not await second.held(), "a standby waits for its retry interval"
    clock.now += 1.0
    assert await second.held()
    await second.release()
    async with sessionmaker() as session:
        assert await session.scalar(select(SenderLease.holder)) is None


async def test_the_sole_leader_always_leads() -> None:
    leader = SoleLeader()
    assert await leader.held()
    assert leader.holding
    await leader.release()
    assert await leader.held()


async def test_the_database_decides_the_kind_of_leadership(migrated_url: str) -> None:
    engine = create_engine(migrated_url)
    try:
        leadership = sender_leadership(engine, create_sessionmaker(engine), lease_seconds=2.0)
        expected = LeaseLeadership if engine.dialect.name == "sqlite" else AdvisoryLock
        assert isinstance(leadership, expected)
        assert await leadership.held()
        await leadership.release()
    finally:
        await engine.dispose()


# Advisory locks are PostgreSQL's: only that backend (none without O2O_TEST_POSTGRES_URL).
@pytest.mark.parametrize("db_backend", [b for b in database_backends() if b == "postgres"])
async def test_the_advisory_lock_admits_one_holder_and_passes_on_when_its_session_dies(
    migrated_url: str, db_backend: str
) -> None:
    engines = [create_engine(migrated_url) for _ in range(3)]
    clock = Time()
    first, second = (
        AdvisoryLock(engine, retry_interval=1.0, check_interval=0.5, monotonic=clock)
        for engine in engines[:2]
    )
    try:
        assert await first.held()
        assert not await second.held()
        clock.now += 1.0
        assert not await second.held(), "still locked"

        async with engines[2].connect() as admin:  # the holder's session dies
            await admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
                )
            )
        clock.now += 1.0
        assert not await first.held(), "its check finds the connection gone"
        assert not first.holding
        for _ in range(50):  # the server ends the terminated session a moment later
            if await second.held():
                break
            clock.now += 1.0
            await asyncio.sleep(0.05)
        assert second.holding, "the server released the lock with the session"

        await second.release()
        clock.now += 1.0
        assert await first.held(), "released: the other takes it at its next try"
        await first.release()
    finally:
        for engine in engines:
            await engine.dispose()
