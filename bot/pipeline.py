"""One update, one transaction: inbox dedupe, the core's use case, outbox rows, commit, wake."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.uow import SqlUnitOfWork
from bot.metrics import Metrics
from domain.clock import Clock
from handlers.core import ConversationCore
from handlers.inbound import Inbound, InboundKind, parse_update
from handlers.outbound import send_message
from handlers.turn import TurnFacts

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What became of one update."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    INVALID = "invalid"


class UpdatePipeline:
    """Applies raw updates exactly once each and hands the resulting calls to the outbox."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        core: ConversationCore,
        clock: Clock,
        on_commit: Callable[[], None] = lambda: None,
        group_admins: Callable[[int, int], Awaitable[bool]] | None = None,
        metrics: Metrics | None = None,
        wake_reports: Callable[[], None] = lambda: None,
        wake_campaigns: Callable[[], None] = lambda: None,
    ) -> None:
        # `on_commit` runs after every handled update (it wakes the outbox sender);
        # `wake_reports` / `wake_campaigns` only after one that queued a report or started or
        # stopped a campaign, so those workers do not query the database after every update.
        self.sessionmaker = sessionmaker
        self.core = core
        self.clock = clock
        self.on_commit = on_commit
        self.group_admins = group_admins
        self.metrics = metrics
        self.wake_reports = wake_reports
        self.wake_campaigns = wake_campaigns

    async def process(self, raw: Mapping[str, Any]) -> Outcome:
        """Handle one raw update; a redelivered update id changes nothing.

        Database outages propagate (the update is not recorded, so Telegram or the poller delivers
        it again); a bug in a use case is recorded as failed, with an apology to the user, so one
        poisonous update cannot block the queue.
        """
        started = time.perf_counter()
        try:
            inbound = parse_update(raw, self.core.config.bot_username)
        except ValueError:
            log.warning("update without update_id ignored")
            self._observe("unknown", Outcome.INVALID, started)
            return Outcome.INVALID
        wakes: list[Callable[[], None]] = []
        try:
            outcome = await self._apply(inbound, wakes)
        except DBAPIError:
            self._observe(inbound.kind.value, "db_error", started)
            raise
        except Exception:
            log.exception(
                "update handling failed",
                extra={"update_id": inbound.update_id, "kind": inbound.kind.value},
            )
            outcome = await self._record_failure(inbound)
        if outcome is not Outcome.DUPLICATE:
            self.on_commit()
            for wake in wakes:
                wake()
        log.info(
            "update processed",
            extra={"update_id": inbound.update_id, "kind": inbound.kind.value, "outcome": outcome},
        )
        self._observe(inbound.kind.value, outcome, started)
        return outcome

    def _observe(self, kind: str, outcome: str, started: float) -> None:
        if self.metrics is not None:
            self.metrics.observe_update(kind, str(outcome), time.perf_counter() - started)

    async def _facts(self, inbound: Inbound) -> TurnFacts:
        """What must be asked of Telegram before the transaction (never while holding it)."""
        chat, user = inbound.chat, inbound.user
        if (
            self.group_admins is None
            or chat is None
            or user is None
            or chat.is_private
            or inbound.kind not in (InboundKind.CALLBACK, InboundKind.COMMAND)
        ):
            return TurnFacts()
        return TurnFacts(chat_admin=await self.group_admins(chat.id, user.id))

    async def _apply(self, inbound: Inbound, wakes: list[Callable[[], None]]) -> Outcome:
        """Handle the update in one transaction; `wakes` gets the workers it gave work to."""
        facts = await self._facts(inbound)
        now = self.clock.now()
        async with self.sessionmaker() as session, session.begin():
            uow = SqlUnitOfWork(session)
            if not await uow.record_update(inbound.update_id, inbound.kind.value, now):
                return Outcome.DUPLICATE
            calls = await self.core.handle(inbound, uow, now, facts)
            uow.enqueue(calls, now, inbound.update_id)
        if uow.reports.queued:
            wakes.append(self.wake_reports)
        if uow.campaigns.changed:
            wakes.append(self.wake_campaigns)
        return Outcome.HANDLED

    async def _record_failure(self, inbound: Inbound) -> Outcome:
        now = self.clock.now()
        async with self.sessionmaker() as session, session.begin():
            uow = SqlUnitOfWork(session)
            if not await uow.record_update(inbound.update_id, inbound.kind.value, now, "failed"):
                return Outcome.DUPLICATE
            if inbound.chat is not None and inbound.chat.is_private and inbound.user is not None:
                customer = await uow.customers.get_by_telegram_id(inbound.user.id)
                locale = customer.language if customer else self.core.config.default_locale
                text = self.core.translator.t(locale, "error.internal")
                uow.enqueue([send_message(inbound.chat.id, text)], now, inbound.update_id)
        return Outcome.FAILED
