"""Answers /stats and /export outside the update's transaction: figures, chart, CSV file.

The handler (handlers/stats_flow.py) only queues a report_requests row. This worker, woken after
each commit, claims pending rows (compare-and-set, so two processes never answer one twice),
reads the figures through the read-side query layer (bot/db/stats.py: no write lock is held
while a large history is read), and writes the reply into the outbox in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from analytics.periods import PeriodError
from bot.campaigns import CampaignError, CampaignResult, campaign_results, preview_calls
from bot.db import models
from bot.db.uow import SqlUnitOfWork
from domain.clock import Clock
from domain.money import Money
from handlers.callbacks import CallbackCodec
from handlers.i18n import Translator
from handlers.outbound import (
    Button,
    FileUpload,
    InlineKeyboard,
    OutboundCall,
    send_file,
    send_message,
)
from handlers.stats_flow import PERIOD_CHOICES, switch_button_args
from handlers.views import money

if TYPE_CHECKING:
    from analytics.kpis import StatsReport

log = logging.getLogger(__name__)
# The figures, the chart and RFM need pandas and matplotlib (bot/db/stats.py, analytics/): they
# are imported with the first request, so an idle bot does not carry them in memory.

BATCH = 5
STALE_CLAIM = timedelta(minutes=10)  # a claim older than this was lost with its process


class ReportWorker:
    """Claims queued report requests and answers them; woken after every commit."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        engine: AsyncEngine,
        clock: Clock,
        translator: Translator,
        codec: CallbackCodec,
        on_commit: Callable[[], None],
        poll_interval: float = 5.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.engine = engine
        self.clock = clock
        self.translator = translator
        self.codec = codec
        self.on_commit = on_commit
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def wake(self) -> None:
        """Look for new requests at once."""
        self._wake.set()

    async def run(self) -> None:
        """Answer requests until stop()."""
        while not self._stop.is_set():
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("report worker failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)

    async def stop(self) -> None:
        """Finish the current request, then stop."""
        self._stop.set()
        self._wake.set()

    async def run_once(self) -> int:
        """Answer what is queued now; returns how many requests were answered."""
        answered = 0
        while claimed := await self._claim():
            for request in claimed:
                await self._answer(request)
                answered += 1
        return answered

    async def _claim(self) -> list[models.ReportRequest]:
        now = self.clock.now()
        table = models.ReportRequest
        async with self.sessionmaker() as session, session.begin():
            candidates = list(
                await session.scalars(
                    select(table)
                    .where(
                        (table.status == "pending")
                        | ((table.status == "working") & (table.claimed_at < now - STALE_CLAIM))
                    )
                    .order_by(table.id)
                    .limit(BATCH)
                )
            )
            claimed = []
            for request in candidates:
                result = cast(
                    CursorResult[Any],
                    await session.execute(
                        update(table)
                        .where(table.id == request.id, table.status == request.status)
                        .values(status="working", claimed_at=now)
                        .execution_options(synchronize_session=False)
                    ),
                )
                if result.rowcount == 1:
                    claimed.append(request)
                    session.expunge(request)
            return claimed

    async def _answer(self, request: models.ReportRequest) -> None:
        from bot.db.stats import UnknownStoreError

        now = self.clock.now()
        status = "done"
        try:
            calls = await self._reply(request, now)
        except (PeriodError, UnknownStoreError, CampaignError) as exc:
            calls = [send_message(request.chat_id, self._t(request, "stats.bad", error=str(exc)))]
        except Exception:
            log.exception("report failed", extra={"request_id": request.id})
            calls = [send_message(request.chat_id, self._t(request, "error.internal"))]
            status = "failed"
        async with self.sessionmaker() as session, session.begin():
            SqlUnitOfWork(session).enqueue(calls, self.clock.now())
            await session.execute(
                update(models.ReportRequest)
                .where(models.ReportRequest.id == request.id)
                .values(status=status, done_at=self.clock.now())
                .execution_options(synchronize_session=False)
            )
        self.on_commit()

    def _t(self, request: models.ReportRequest, key: str, /, **params: object) -> str:
        return self.translator.t(request.locale, key, **params)

    async def _reply(self, request: models.ReportRequest, now: datetime) -> list[OutboundCall]:
        from analytics.chart import render_chart
        from bot.db.stats import export_orders_csv, load_report
        from bot.rfm_report import rfm_calls

        if request.kind == "push":
            return await preview_calls(
                self.sessionmaker,
                self.engine,
                self.translator,
                self.codec,
                store_code=request.store_code or "",
                chat_id=request.chat_id,
                user_id=request.user_id,
                locale=request.locale,
                now=now,
            )
        if request.kind == "rfm":
            return await rfm_calls(
                self.sessionmaker,
                self.engine,
                self.translator,
                store_code=request.store_code,
                chat_id=request.chat_id,
                locale=request.locale,
                now=now,
            )
        if request.kind == "export":
            data, result = await export_orders_csv(
                self.engine, request.period, request.store_code, now
            )
            caption = self._t(
                request,
                "stats.export_caption",
                scope=result.scope.store.name if result.scope.store else self._all(request),
                period=result.scope.period.range_text,
                rows=result.rows,
            )
            upload = FileUpload(result.filename, data)
            return [send_file("sendDocument", request.chat_id, "document", upload, caption)]
        report = await load_report(self.engine, request.period, request.store_code, now)
        chart = await asyncio.to_thread(render_chart, report)
        text = self.format(request, report)
        results = await campaign_results(
            self.engine, request.store_code, report.period.start, report.period.end
        )
        if results:
            text += "\n" + self._campaign_lines(request, report, results)
        keyboard = _switch_keyboard(self.codec, self.translator, request, report)
        title = self._t(request, "stats.chart_caption", scope=self._scope(request, report))
        upload = FileUpload("stats.png", chart)
        return [
            send_message(request.chat_id, text, keyboard),
            send_file("sendPhoto", request.chat_id, "photo", upload, title),
        ]

    def _campaign_lines(
        self, request: models.ReportRequest, report: StatsReport, results: list[CampaignResult]
    ) -> str:
        """Per campaign of the period: pushes sent, links opened and orders within 7 days."""
        zone = ZoneInfo(report.period.timezone)
        lines = [self._t(request, "push.stats_title")]
        for result in results:
            rate = f"{100 * result.opened / result.sent:.0f}%" if result.sent else "–"
            lines.append(
                self._t(
                    request,
                    "push.stats_line",
                    id=result.id,
                    date=result.created_at.astimezone(zone).strftime("%m-%d"),
                    sent=result.sent,
                    opened=result.opened,
                    rate=rate,
                    orders=result.orders,
                )
            )
        return "\n".join(lines)

    def _all(self, request: models.ReportRequest) -> str:
        return self._t(request, "stats.all_stores")

    def _scope(self, request: models.ReportRequest, report: StatsReport) -> str:
        return report.store.name if report.store is not None else self._all(request)

    def format(self, request: models.ReportRequest, report: StatsReport) -> str:
        """The figures as a chat message, each with its change against the previous period."""
        now, before = report.current, report.previous
        currency = report.currency

        def t(key: str, /, **params: object) -> str:
            return self._t(request, key, **params)

        def cash(amount: int | None) -> str:
            if amount is None or currency is None:
                return "–"
            return money(Money(amount, currency))

        lines = [
            t(
                "stats.title",
                scope=self._scope(request, report),
                period=report.period.range_text,
                timezone=report.period.timezone,
            ),
            t(
                "stats.orders",
                placed=now.orders_placed,
                completed=now.orders_completed,
                rejected=now.orders_rejected,
                cancelled=now.orders_cancelled,
                change=_change(now.orders_placed, before.orders_placed, "%"),
            ),
            t(
                "stats.conversion",
                value=_number(now.conversion_rate, "%"),
                change=_change(now.conversion_rate, before.conversion_rate, "pt"),
            ),
            t(
                "stats.processing",
                mean=_number(now.apt_minutes, " min"),
                median=_number(now.apt_median_minutes, " min"),
                accept=_number(now.accept_minutes, " min"),
                change=_change(now.apt_minutes, before.apt_minutes, " min"),
            ),
            t(
                "stats.csat",
                value=_number(now.csat_avg, ""),
                share=_number(now.csat_share_4_5, "%"),
                responses=now.csat_responses,
                rate=_number(now.survey_response_rate, "%"),
                change=_change(now.csat_avg, before.csat_avg, ""),
            ),
            t(
                "stats.revenue",
                revenue=cash(now.revenue_minor),
                average=cash(now.avg_order_value_minor),
                change=_change(now.revenue_minor, before.revenue_minor, "%"),
            ),
        ]
        if now.top_products:
            top = ", ".join(f"{p.name} × {p.quantity}" for p in now.top_products)
            lines.append(t("stats.top", products=top))
        lines.append(
            t(
                "stats.bookings",
                count=now.reservations,
                no_show=_number(now.no_show_rate, "%"),
                change=_change(now.reservations, before.reservations, "%"),
            )
        )
        if now.other_currency_orders:
            lines.append(t("stats.other_currency", count=now.other_currency_orders))
        return "\n".join(lines)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}{unit}" if unit != "" else f"{value:.2f}"


def _change(value: float | None, before: float | None, unit: str) -> str:
    """The change against the previous period: "▲ 12%", "▼ 1.5 pt", "=", or "–"."""
    if value is None or before is None:
        return "–"
    if unit == "%":
        if before == 0:
            return "–" if value == 0 else "▲ new"
        delta = (value - before) / before * 100
        return "=" if round(delta, 1) == 0 else f"{'▲' if delta > 0 else '▼'} {abs(delta):.0f}%"
    delta = value - before
    if round(delta, 2) == 0:
        return "="
    shown = f"{abs(delta):.2f}" if unit == "" else f"{abs(delta):.1f}{unit}"
    return f"{'▲' if delta > 0 else '▼'} {shown}"


def _switch_keyboard(
    codec: CallbackCodec, translator: Translator, request: models.ReportRequest, report: StatsReport
) -> InlineKeyboard:
    """Buttons under the figures: other periods, and other stores for those who may see them."""

    def button(label: str, period: str, store_code: str | None) -> Button:
        data = codec.encode("st", *switch_button_args(period, store_code))
        return Button(label, callback_data=data)

    store_code = report.store.code if report.store is not None else None
    periods = [
        button(
            ("• " if choice == request.period else "")
            + translator.t(request.locale, f"stats.period.{choice}"),
            choice,
            store_code,
        )
        for choice in PERIOD_CHOICES
    ]
    rows = [periods]
    if request.switch_stores:
        stores = [(None, translator.t(request.locale, "stats.all_stores"))] + [
            (store.code, store.name) for store in report.stores
        ]
        period = request.period if request.period in PERIOD_CHOICES else PERIOD_CHOICES[1]
        rows.append(
            [
                button(("• " if code == store_code else "") + name, period, code)
                for code, name in stores
            ]
        )
    return InlineKeyboard(rows)
