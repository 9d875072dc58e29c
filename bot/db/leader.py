"""Sender leadership: of several processes sharing one database, one delivers the outbox.

The outbox sender asks ``await leadership.held()`` before each dispatch and checks
``leadership.holding`` (no I/O) right before each Bot API call. Three kinds:

* ``SoleLeader``: always held; one sender per database, as in tests and the offline demo.
* ``AdvisoryLock`` (PostgreSQL): a session-level ``pg_try_advisory_lock`` taken on a dedicated
  connection kept open. If the process or its connection dies, the server ends the session
  and the lock with it, so a standby takes over at its next try. The holder checks its
  connection every few seconds and stops leading when the check fails.
* ``LeaseLeadership`` (SQLite, or any database): a ``sender_lease`` row (name, holder,
  expires_at) the holder renews every third of the lease; a standby takes it once expired.
  Times are wall-clock seconds of one machine: right for processes sharing a SQLite file.

A holder trusts itself only until its lease (or last successful check) runs out by its own
monotonic clock, so two senders never dispatch new rows at once except while calls already
made finish. Delivery stays at-least-once: after a fail-over the new leader sends every
pending row, including one whose call reached Telegram just before the old leader died.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, delete, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.models import SenderLease

log = logging.getLogger(__name__)

SENDER = "outbox-sender"
DEFAULT_LEASE_SECONDS = 5.0


class Leadership(Protocol):
    """Whether this process may deliver the outbox now."""

    @property
    def retry_interval(self) -> float:
        """Seconds between a standby's attempts to take the leadership."""
        ...

    @property
    def check_interval(self) -> float:
        """Seconds within which a leader must call held() again to renew or re-check."""
        ...

    @property
    def holding(self) -> bool:
        """Leadership as last established and still within its validity; no I/O."""
        ...

    async def held(self) -> bool:
        """Take, renew or re-check the leadership as due; True while this process leads."""
        ...

    async def release(self) -> None:
        """Give the leadership up so a standby can take it at once."""
        ...


class SoleLeader:
    """The only sender of its database: always leads."""

    retry_interval = 1.0
    check_interval = math.inf
    holding = True

    async def held(self) -> bool:
        """Always True."""
        return True

    async def release(self) -> None:
        """Nothing to give up."""


def default_holder() -> str:
    """A name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lock_key(name: str) -> int:
    """The signed 64-bit advisory-lock key of a leadership name."""
    return int.from_bytes(hashlib.sha256(f"o2o:{name}".encode()).digest()[:8], "big", signed=True)


class AdvisoryLock:
    """Leadership by a PostgreSQL session-level advisory lock on a connection kept open."""

    def __init__(
        self,
        engine: AsyncEngine,
        name: str = SENDER,
        *,
        retry_interval: float = DEFAULT_LEASE_SECONDS / 2,
        check_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self.name = name
        self.key = lock_key(name)
        self.retry_interval = retry_interval
        self.check_interval = check_interval
        self._monotonic = monotonic
        self._conn: AsyncConnection | None = None
        self._valid_until = 0.0
        self._next_try = 0.0
        self._lock = asyncio.Lock()

    @property
    def holding(self) -> bool:
        """True while the lock connection was last seen alive within the check interval."""
        return self._conn is not None and self._monotonic() < self._valid_until

    async def held(self) -> bool:
        """Take the lock when free (at most every retry_interval); re-check a held one."""
        async with self._lock:
            now = self._monotonic()
            if self._conn is not None:
                if now < self._valid_until - self.check_interval:
                    return True
                return await self._check(now)
            if now < self._next_try:
                return False
            return await self._try_lock(now)

    async def _try_lock(self, started: float) -> bool:
        conn: AsyncConnection | None = None
        try:
            conn = await self._engine.connect()
            got = bool(
                await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
            )
            await conn.commit()
        except Exception as exc:
            log.warning("could not try the sender lock", extra={"error": str(exc)})
            if conn is not None:
                await _discard(conn)
            self._next_try = self._monotonic() + self.retry_interval
            return False
        if not got:
            await conn.close()
            self._next_try = self._monotonic() + self.retry_interval
            return False
        self._conn = conn
        self._valid_until = started + 2 * self.check_interval
        log.info("took the sender lock", extra={"lock": self.name})
        return True

    async def _check(self, started: float) -> bool:
        conn = self._conn
        assert conn is not None
        try:
            await conn.scalar(text("SELECT 1"))
            await conn.commit()
        except Exception as exc:
            # The session may be gone, and the lock with it: stop leading, try again later.
            log.warning("lost the sender lock connection", extra={"error": str(exc)})
            self._conn = None
            await _discard(conn)
            self._next_try = self._monotonic() + self.retry_interval
            return False
        self._valid_until = started + 2 * self.check_interval
        return True

    async def release(self) -> None:
        """Unlock and close the lock connection."""
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                await conn.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                await conn.commit()
                await conn.close()
            except Exception as exc:
                log.warning("could not release the sender lock", extra={"error": str(exc)})
                await _discard(conn)


async def _discard(conn: AsyncConnection) -> None:
    """Throw a connection away (never back to the pool: it may still hold the lock)."""
    try:
        await conn.invalidate()
        await conn.close()
    except Exception:  # noqa: S110 - the connection is broken already; nothing to recover
        pass


class LeaseLeadership:
    """Leadership by a renewed lease row in ``sender_lease``."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        name: str = SENDER,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        retry_interval: float | None = None,
        holder: str | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessionmaker = sessionmaker
        self.name = name
        self.holder = holder or default_holder()
        self.lease_seconds = lease_seconds
        self.retry_interval = lease_seconds / 2 if retry_interval is None else retry_interval
        self.check_interval = lease_seconds / 3
        self._wall = wall
        self._monotonic = monotonic
        self._valid_until = 0.0  # monotonic end of the lease as last written by us
        self._next_try = 0.0
        self._leading = False
        self._lock = asyncio.Lock()

    @property
    def holding(self) -> bool:
        """True while the lease last written by this holder has not run out."""
        return self._leading and self._monotonic() < self._valid_until

    async def held(self) -> bool:
        """Renew a held lease every third of its length; take an expired one when due."""
        async with self._lock:
            now = self._monotonic()
            if self.holding and now < self._valid_until - 2 * self.check_interval:
                return True
            if not self.holding and now < self._next_try:
                self._leading = False
                return False
            try:
                claimed = await self._claim()
            except Exception as exc:
                log.warning("could not renew the sender lease", extra={"error": str(exc)})
                # Keep leading on what is left of the lease; try again at the next call.
                self._next_try = self._monotonic() + self.retry_interval
                return self.holding
            if claimed:
                if not self._leading:
                    log.info("took the sender lease", extra={"lease": self.name})
                self._leading = True
                self._valid_until = now + self.lease_seconds
                return True
            if self._leading:
                log.warning("sender lease taken over", extra={"lease": self.name})
            self._leading = False
            self._next_try = self._monotonic() + self.retry_interval
            return False

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)

    async def _claim(self) -> bool:
        """Renew our lease or take an expired one (compare-and-set); insert when absent."""
        now = self._now()
        expires = now + timedelta(seconds=self.lease_seconds)
        try:
            async with self._sessionmaker() as session, session.begin():
                result = cast(
                    CursorResult[Any],
                    await session.execute(
                        update(SenderLease)
                        .where(
                            SenderLease.name == self.name,
                            or_(SenderLease.holder == self.holder, SenderLease.expires_at <= now),
                        )
                        .values(holder=self.holder, expires_at=expires)
                        .execution_options(synchronize_session=False)
                    ),
                )
                if result.rowcount == 1:
                    return True
                exists = await session.scalar(
                    select(SenderLease.name).where(SenderLease.name == self.name)
                )
                if exists is not None:
                    return False
                session.add(SenderLease(name=self.name, holder=self.holder, expires_at=expires))
        except IntegrityError:
            return False  # another process inserted the row first
        return True

    async def release(self) -> None:
        """Delete our lease row so a standby takes over at its next try."""
        async with self._lock:
            leading, self._leading = self._leading, False
            self._valid_until = 0.0
            if not leading:
                return
            try:
                async with self._sessionmaker() as session, session.begin():
                    await session.execute(
                        delete(SenderLease).where(
                            SenderLease.name == self.name, SenderLease.holder == self.holder
                        )
                    )
            except Exception as exc:
                log.warning("could not release the sender lease", extra={"error": str(exc)})


def sender_leadership(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    name: str = SENDER,
) -> Leadership:
    """The advisory lock on PostgreSQL, the lease row on SQLite."""
    if engine.dialect.name == "sqlite":
        return LeaseLeadership(sessionmaker, name, lease_seconds=lease_seconds)
    return AdvisoryLock(
        engine,
        name,
        retry_interval=lease_seconds / 2,
        check_interval=max(0.05, min(1.0, lease_seconds / 5)),
    )
