"""Answers /rfm: the store's RFM segments, and how they moved since the last /rfm.

Run by the report worker (bot/reports.py) outside the update's transaction. The per-customer
summary is aggregated in SQL (bot/db/rfm.py), the segmentation (pandas) runs in a worker thread,
and the run is recorded so the next /rfm can show the movement. Recency counts to the day after
the store-local today (today's orders are 1 day old); the store's ``rfm_model`` setting picks
the model, and every store at once uses classic8.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import cast

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from analytics.rfm import SEGMENTS, Model, default_as_of, rfm_from_summary
from bot.db.rfm import (
    MixedCurrenciesError,
    RfmMovement,
    customer_summary,
    record_run,
    rfm_scope,
)
from handlers.i18n import Translator
from handlers.outbound import OutboundCall, send_message


async def rfm_calls(
    sessionmaker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    translator: Translator,
    *,
    store_code: str | None,
    chat_id: int,
    locale: str,
    now: datetime,
) -> list[OutboundCall]:
    """Segment the customers of ``store_code`` (None: every store), record the run, reply."""

    def t(key: str, /, **params: object) -> str:
        return translator.t(locale, key, **params)

    scope = await rfm_scope(engine, store_code, now)
    name = scope.store_name or t("stats.all_stores")
    try:
        summary, _currency = await customer_summary(engine, store_code, now)
    except MixedCurrenciesError as exc:
        text = t("rfm.mixed_currencies", currencies=", ".join(exc.currencies))
        return [send_message(chat_id, text)]
    if summary.empty:
        return [send_message(chat_id, t("rfm.no_orders", scope=name))]
    # Never before the last order's day (a clock behind the database's would make it so).
    as_of = max(scope.as_of(now), default_as_of(summary) or date.min)
    result = await asyncio.to_thread(rfm_from_summary, summary, as_of, scope.model)
    movement = await record_run(sessionmaker, scope.store_id, result, now)
    text = format_rfm_message(translator, locale, name, scope.timezone, movement)
    return [send_message(chat_id, text)]


def segment_name(segment: str, model: str, locale: str) -> str:
    """A segment's name in the locale (analytics.rfm names them in English and Chinese)."""
    for candidate in SEGMENTS.get(cast(Model, model), ()):
        if candidate.id == segment:
            return candidate.zh if locale.startswith("zh") else candidate.en
    return segment


def format_rfm_message(
    translator: Translator, locale: str, scope: str, timezone: str, movement: RfmMovement
) -> str:
    """The /rfm reply: every segment's size, share and change, then the biggest moves."""

    def t(key: str, /, **params: object) -> str:
        return translator.t(locale, key, **params)

    def name(segment: str) -> str:
        return segment_name(segment, movement.model, locale)

    total = movement.customers
    lines = [
        t("rfm.title", scope=scope, as_of=movement.as_of.isoformat(), timezone=timezone),
        t("rfm.summary", model=movement.model, customers=total),
    ]
    if movement.previous_as_of is None:
        lines.append(t("rfm.first_run"))
    else:
        lines.append(t("rfm.since", date=movement.previous_as_of.isoformat()))
    lines.append("")
    for segment in movement.segments:
        share = f"{segment.count * 100 / total:.1f}%" if total else "–"
        lines.append(
            t(
                "rfm.segment",
                segment=name(segment.segment),
                count=segment.count,
                share=share,
                change=_change(segment.change, t("rfm.change_new")),
            )
        )
    if movement.first_run:
        return "\n".join(lines)
    lines.append("")
    if movement.moves:
        lines.append(t("rfm.moves_title", moved=movement.moved))
        lines += [
            t(
                "rfm.move",
                source=name(move.source),
                target=name(move.target),
                count=move.customers,
            )
            for move in movement.moves
        ]
    else:
        lines.append(t("rfm.no_moves"))
    if movement.arrivals:
        parts = ", ".join(f"{name(a.target)} {a.customers}" for a in movement.arrivals)
        lines.append(t("rfm.new_customers", count=movement.new_customers, segments=parts))
    if movement.gone:
        lines.append(t("rfm.gone", count=movement.gone))
    return "\n".join(lines)


def _change(change: int | None, new: str) -> str:
    """The change since the last run: ▲ 3, ▼ 1, = or, with no earlier run, the word "new"."""
    if change is None:
        return new
    if change == 0:
        return "="
    return f"{'▲' if change > 0 else '▼'} {abs(change)}"
