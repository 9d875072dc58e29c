"""The due-work loop: timed jobs read their work from the database, so timers survive restarts.

Each tick runs every registered job in its own transaction. A job finds rows whose time has come,
claims each with a compare-and-set (so two processes never both act on one row), writes the Bot
API calls it causes into the outbox, and returns how many it wrote; after the commit the runner
wakes the sender. Later kinds of work (survey sends, acceptance-SLA escalation, campaigns) are
further functions in JOBS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.uow import SqlUnitOfWork
from domain.booking import reminder_due
from domain.clock import Clock
from handlers.booking_flow import reminder_message
from handlers.i18n import Translator
from handlers.outbound import OutboundCall

log = logging.getLogger(__name__)

# Bookings without a reminder that start within the longest reminder window; bounded by what
# the stores can seat in that window, so one batch normally holds them all.
REMINDER_BATCH = 500


@dataclass(slots=True)
class JobContext:
    """What one job sees in its transaction."""

    uow: SqlUnitOfWork
    now: datetime
    translator: Translator


Job = Callable[[JobContext], Awaitable[int]]


async def send_reservation_reminders(ctx: JobContext) -> int:
    """Remind customers of requested or confirmed bookings within their store's lead time."""
    stores = {store.id: store for store in await ctx.uow.stores.list_all()}
    window = max(
        (store.settings.reservation_reminder_minutes for store in stores.values()), default=0
    )
    if window <= 0:
        return 0
    reservations = ctx.uow.reservations
    due = await reservations.due_reminders(
        ctx.now, ctx.now + timedelta(minutes=window), REMINDER_BATCH
    )
    calls: list[OutboundCall] = []
    for item in due:
        view = item.reservation
        store = stores.get(view.store_id)
        if store is None or not reminder_due(
            view.starts_at, view.requested_at, ctx.now, store.settings.reservation_reminder_minutes
        ):
            continue
        if not await reservations.mark_reminded(view.id, ctx.now):
            continue  # another process claimed it first
        if item.reachable:
            calls.append(reminder_message(ctx.translator, item, store))
    ctx.uow.enqueue(calls, ctx.now)
    return len(calls)


# Telegram redelivers an update for at most 24 hours, and after a week without updates it may
# start update ids afresh, so old ids must not linger in the dedupe set.
INBOX_RETENTION = timedelta(days=3)


async def prune_inbox(ctx: JobContext) -> int:
    """Drop inbox entries older than INBOX_RETENTION (no messages to send)."""
    pruned = await ctx.uow.prune_inbox(ctx.now - INBOX_RETENTION)
    if pruned:
        log.info("inbox pruned", extra={"entries": pruned})
    return 0


JOBS: tuple[tuple[str, Job], ...] = (
    ("reservation_reminders", send_reservation_reminders),
    ("inbox_pruning", prune_inbox),
)


class JobRunner:
    """Runs the registered jobs every `interval` seconds until stopped."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        on_commit: Callable[[], None],
        translator: Translator,
        interval: float = 30.0,
        jobs: Sequence[tuple[str, Job]] = JOBS,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.on_commit = on_commit
        self.translator = translator
        self.interval = interval
        self.jobs = list(jobs)
        self._stop = asyncio.Event()

    async def run_once(self) -> dict[str, int]:
        """One tick: every job in its own transaction; returns the calls each enqueued.

        A failing job is logged and rolled back; the others still run.
        """
        done: dict[str, int] = {}
        for name, job in self.jobs:
            try:
                async with self.sessionmaker() as session, session.begin():
                    context = JobContext(SqlUnitOfWork(session), self.clock.now(), self.translator)
                    done[name] = await job(context)
            except Exception:
                log.exception("job failed; retrying next tick", extra={"job": name})
                continue
            if done[name]:
                self.on_commit()
        return done

    async def run(self) -> None:
        """Tick until stop(); a stopped runner stays stopped."""
        while not self._stop.is_set():
            await self.run_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)

    async def stop(self) -> None:
        """Finish the current tick, then stop."""
        self._stop.set()
