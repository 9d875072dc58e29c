"""The due-work loop: timed jobs read their work from the database, so timers survive restarts.

Each tick runs every registered job in its own transaction. A job finds rows whose time has come,
claims each with a compare-and-set (so two processes never both act on one row), writes the Bot
API calls it causes into the outbox, and returns how many it wrote; after the commit the runner
wakes the sender. The acceptance SLA (re-announce, time out, pause after a streak) is two jobs
here; later kinds of work (survey sends, campaigns) are further functions in JOBS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.sla import SLA_ACTOR, SqlSlaRepository
from bot.db.uow import SqlUnitOfWork
from domain.booking import reminder_due
from domain.clock import Clock
from domain.errors import DomainError
from domain.orders import ETA_MAX_MINUTES, RejectReason
from domain.stores import Store
from domain.surveys import COMMENT_GRACE, outside_quiet_hours
from handlers import staff_admin_flow, survey_flow
from handlers.booking_flow import reminder_message
from handlers.callbacks import CallbackCodec
from handlers.i18n import Translator
from handlers.outbound import OutboundCall
from handlers.turn import CoreConfig, Turn

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
    config: CoreConfig = field(default_factory=lambda: CoreConfig(bot_username=""))
    # Signs the buttons of cards the jobs post; the app passes the one its handlers verify with.
    codec: CallbackCodec = field(default_factory=lambda: CallbackCodec(secrets.token_bytes(32)))

    def turn(self) -> Turn:
        """A system Turn over this transaction, for rendering staff cards and notices."""
        return staff_admin_flow.system_turn(
            self.uow, self.now, self.translator, self.codec, self.config
        )


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


SURVEY_BATCH = 200


async def send_due_surveys(ctx: JobContext) -> int:
    """Send the surveys whose time has come (never in the store's quiet hours)."""
    uow = ctx.uow
    due = await uow.surveys.due(ctx.now, SURVEY_BATCH)
    if not due:
        return 0
    stores = {store.id: store for store in await uow.stores.list_all()}
    turn = ctx.turn()
    calls: list[OutboundCall] = []
    for survey in due:
        store = stores.get(survey.store_id)
        customer = await uow.customers.get(survey.customer_id)
        if store is None or customer is None or not customer.surveys_enabled:
            await uow.surveys.cancel(survey.id)
            continue
        settings = store.settings
        later = outside_quiet_hours(
            ctx.now, settings.survey_quiet_start, settings.survey_quiet_end, store.timezone
        )
        if later > ctx.now:  # the loop was late (say, the bot was down): wait for morning
            await uow.surveys.postpone(survey.id, later)
            continue
        if not customer.reachable:
            await uow.surveys.cancel(survey.id)
            continue
        if not await uow.surveys.mark_sent(survey.id, ctx.now):
            continue  # another process sent it
        subject = await survey_flow.survey_subject(uow, ctx.translator, customer.language, survey)
        calls.append(survey_flow.survey_message(turn, customer, survey, store, subject))
    uow.enqueue(calls, ctx.now)
    return len(calls)


async def close_surveys(ctx: JobContext) -> int:
    """Expire unanswered surveys; close comment prompts left open (alerting low scores)."""
    uow = ctx.uow
    expired = await uow.surveys.expire(ctx.now)
    turn = ctx.turn()
    closed = 0
    for survey in await uow.surveys.open_prompts(ctx.now - COMMENT_GRACE, SURVEY_BATCH):
        if await uow.surveys.close(survey.id, ""):
            closed += 1
            await survey_flow.alert_if_low(turn, survey)
    uow.enqueue(turn.replies, ctx.now)
    return expired + closed + len(turn.replies)


# Telegram redelivers an update for at most 24 hours, and after a week without updates it may
# start update ids afresh, so old ids must not linger in the dedupe set.
INBOX_RETENTION = timedelta(days=3)


async def prune_inbox(ctx: JobContext) -> int:
    """Drop inbox entries older than INBOX_RETENTION (no messages to send)."""
    pruned = await ctx.uow.prune_inbox(ctx.now - INBOX_RETENTION)
    if pruned:
        log.info("inbox pruned", extra={"entries": pruned})
    return 0


# Placed orders looked at per tick by each SLA job; the rest wait for the next tick.
SLA_BATCH = 200


async def _sla_stores(ctx: JobContext) -> dict[int, Store]:
    return {store.id: store for store in await ctx.uow.stores.list_all() if store.id is not None}


async def reannounce_waiting_orders(ctx: JobContext) -> int:
    """Post one fresh card copy for orders waiting longer than sla_reannounce_minutes."""
    stores = await _sla_stores(ctx)
    windows = [s.settings.sla_reannounce_minutes for s in stores.values()]
    shortest = min((m for m in windows if m > 0), default=0)
    if shortest <= 0:
        return 0
    sla = SqlSlaRepository(ctx.uow.session)
    turn = ctx.turn()
    calls: list[OutboundCall] = []
    for waiting in await sla.waiting_orders(ctx.now - timedelta(minutes=shortest), SLA_BATCH):
        store = stores.get(waiting.store_id)
        if store is None or store.staff_chat_id is None:
            continue
        minutes = store.settings.sla_reannounce_minutes
        timeout = store.settings.sla_timeout_minutes
        age = ctx.now - waiting.placed_at
        if minutes <= 0 or age < timedelta(minutes=minutes):
            continue
        if 0 < timeout <= minutes or (timeout > 0 and age >= timedelta(minutes=timeout)):
            continue  # about to time out: a copy now would only be edited away
        if not await sla.claim_reannounce(waiting.id, ctx.now):
            continue  # moved on meanwhile, or already re-announced (maybe by another process)
        view = await ctx.uow.orders.get(waiting.id)
        call = await staff_admin_flow.reannounce(turn, view, store) if view else None
        if call is not None:
            calls.append(call)
    ctx.uow.enqueue(calls, ctx.now)
    return len(calls)


async def time_out_waiting_orders(ctx: JobContext) -> int:
    """Reject (or accept) orders waiting longer than sla_timeout_minutes; pause after a streak.

    Each order moves with the same compare-and-set a staff press uses, so a press in the same
    moment wins or loses cleanly and two processes never both act.
    """
    stores = await _sla_stores(ctx)
    windows = [s.settings.sla_timeout_minutes for s in stores.values()]
    shortest = min((m for m in windows if m > 0), default=0)
    if shortest <= 0:
        return 0
    sla = SqlSlaRepository(ctx.uow.session)
    turn = ctx.turn()
    decided: set[int] = set()
    for waiting in await sla.waiting_orders(ctx.now - timedelta(minutes=shortest), SLA_BATCH):
        store = stores.get(waiting.store_id)
        if store is None:
            continue
        settings = store.settings
        if settings.sla_timeout_minutes <= 0 or ctx.now - waiting.placed_at < timedelta(
            minutes=settings.sla_timeout_minutes
        ):
            continue
        order = await ctx.uow.orders.load(waiting.id)
        if order is None:
            continue
        try:
            if settings.sla_timeout_action == "accept":
                eta = min(settings.prep_minutes + settings.busy_extra_minutes, ETA_MAX_MINUTES)
                change = order.accept(ctx.now, SLA_ACTOR, eta)
            else:
                change = order.reject(ctx.now, SLA_ACTOR, RejectReason.TOO_BUSY)
        except DomainError:
            continue  # moved on since it was read
        if not await ctx.uow.orders.record_change(order, change):
            continue  # a staff press or another process got there first
        if change.to_status == "rejected":
            await ctx.uow.orders.release_stock(waiting.id)
        view = await ctx.uow.orders.get(waiting.id)
        assert view is not None
        await staff_admin_flow.timed_out(turn, view, store)
        decided.add(waiting.store_id)
    for store_id in sorted(decided):
        store = stores[store_id]
        limit = store.settings.sla_pause_after
        if limit <= 0 or await sla.timeout_streak(store_id, limit) < limit:
            continue
        if await sla.auto_pause(store_id, ctx.now):
            log.warning("store paused by the acceptance SLA", extra={"store_id": store_id})
            staff_admin_flow.auto_paused(turn, store, limit)
    ctx.uow.enqueue(turn.replies, ctx.now)
    return len(turn.replies)


JOBS: tuple[tuple[str, Job], ...] = (
    ("reservation_reminders", send_reservation_reminders),
    ("inbox_pruning", prune_inbox),
    ("sla_reannounce", reannounce_waiting_orders),
    ("sla_timeout", time_out_waiting_orders),
    ("survey_send", send_due_surveys),
    ("survey_close", close_surveys),
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
        *,
        config: CoreConfig | None = None,
        codec: CallbackCodec | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.on_commit = on_commit
        self.translator = translator
        self.interval = interval
        self.jobs = list(jobs)
        self.config = config or CoreConfig(bot_username="")
        self.codec = codec or CallbackCodec(secrets.token_bytes(32))
        self._stop = asyncio.Event()

    async def run_once(self) -> dict[str, int]:
        """One tick: every job in its own transaction; returns the calls each enqueued.

        A failing job is logged and rolled back; the others still run.
        """
        done: dict[str, int] = {}
        for name, job in self.jobs:
            try:
                async with self.sessionmaker() as session, session.begin():
                    context = JobContext(
                        SqlUnitOfWork(session),
                        self.clock.now(),
                        self.translator,
                        self.config,
                        self.codec,
                    )
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
