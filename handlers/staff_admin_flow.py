"""The staff group runs its store: /pause, /resume, /busy; and what the acceptance SLA posts.

The commands answer only the bound store's staff (group administrators, registered staff, the
bot's admins). The SLA messages are built on a system Turn (no update behind it) so the jobs
loop renders cards and notices exactly as the group handlers do.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta

from domain.ports import OrderView, UnitOfWork
from domain.stores import BUSY_EXTRA_MAX_MINUTES, Store
from handlers.callbacks import CallbackCodec
from handlers.i18n import Translator
from handlers.inbound import Inbound, InboundKind
from handlers.outbound import InlineKeyboard, OutboundCall, send_message
from handlers.staff_flow import (
    card_keyboard,
    card_label,
    card_text,
    show_card,
    sla_ref,
    staff_store,
    staff_t,
    tell_customer,
)
from handlers.turn import CoreConfig, Router, Turn
from handlers.views import clock_time

PAUSE_MAX_MINUTES = 1440
_PAUSE_RE = re.compile(r"^\d{1,4}$")
_BUSY_RE = re.compile(r"^\+?\d{1,3}$")


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.group_commands |= {"pause": pause, "resume": resume, "busy": busy}


async def pause(turn: Turn) -> None:
    """/pause [minutes]: stop taking orders for 1..1440 minutes, or until /resume."""
    t = staff_t(turn)
    store = await staff_store(turn)
    if store is None:
        return
    assert store.id is not None
    args = turn.inbound.args.strip()
    if args and not (_PAUSE_RE.match(args) and 1 <= int(args) <= PAUSE_MAX_MINUTES):
        turn.say(t("staff.pause_usage"))
        return
    until = turn.now + timedelta(minutes=int(args)) if args else None
    await turn.uow.stores.pause_store(store.id, until)
    if until is None:
        turn.say(t("staff.paused", store=store.name))
    else:
        turn.say(t("staff.paused_until", store=store.name, time=clock_time(until, store.timezone)))


async def resume(turn: Turn) -> None:
    """/resume: take orders again."""
    t = staff_t(turn)
    store = await staff_store(turn)
    if store is None:
        return
    assert store.id is not None
    await turn.uow.stores.resume_store(store.id)
    turn.say(t("staff.resumed", store=store.name))


async def busy(turn: Turn) -> None:
    """/busy +N: add N minutes (0..120) to every ETA staff give; /busy 0 turns it off."""
    t = staff_t(turn)
    store = await staff_store(turn)
    if store is None:
        return
    assert store.id is not None
    args = turn.inbound.args.strip()
    if not _BUSY_RE.match(args) or int(args) > BUSY_EXTRA_MAX_MINUTES:
        turn.say(t("staff.busy_usage", current=store.settings.busy_extra_minutes))
        return
    minutes = int(args)
    settings = dataclasses.replace(store.settings, busy_extra_minutes=minutes)
    await turn.uow.stores.save_settings(store.id, settings)
    if minutes:
        turn.say(t("staff.busy_on", store=store.name, minutes=minutes))
    else:
        turn.say(t("staff.busy_off", store=store.name))


def system_turn(
    uow: UnitOfWork,
    now: datetime,
    translator: Translator,
    codec: CallbackCodec,
    config: CoreConfig,
) -> Turn:
    """A Turn with no update behind it, for due work that renders staff cards and notices."""
    return Turn(
        inbound=Inbound(update_id=0, kind=InboundKind.UNSUPPORTED),
        uow=uow,
        now=now,
        locale=config.default_locale,
        translator=translator,
        codec=codec,
        config=config,
    )


async def _card(turn: Turn, order: OrderView, store: Store) -> str:
    customer = await turn.uow.customers.get(order.customer_id)
    return card_text(turn, order, store, customer.first_name if customer else "?")


async def reannounce(turn: Turn, order: OrderView, store: Store) -> OutboundCall | None:
    """A fresh copy of a waiting order's card, with its buttons, at the bottom of the group."""
    if store.staff_chat_id is None:
        return None
    t = staff_t(turn)
    waited = max(0, int((turn.now - order.placed_at).total_seconds() // 60))
    text = t("staff.sla_reannounce", number=order.number, minutes=waited)
    text += "\n\n" + await _card(turn, order, store)
    return send_message(
        store.staff_chat_id,
        text,
        card_keyboard(turn, order),
        ref=sla_ref(order.id),
        label=card_label(order),
    )


async def timed_out(turn: Turn, order: OrderView, store: Store) -> None:
    """Queue what an SLA timeout causes: the cards updated, a notice, the customer told."""
    t = staff_t(turn)
    minutes = store.settings.sla_timeout_minutes
    if store.staff_chat_id is not None:
        text = await _card(turn, order, store)
        text += "\n" + t("staff.by_system", time=clock_time(turn.now, store.timezone))
        await show_card(turn, order, store, text, InlineKeyboard([]))
        if order.status == "accepted":
            notice = t(
                "staff.sla_accepted", number=order.number, minutes=minutes, eta=order.eta_minutes
            )
        else:
            notice = t("staff.sla_rejected", number=order.number, minutes=minutes)
        turn.replies.append(send_message(store.staff_chat_id, notice))
    key = "notify.accepted" if order.status == "accepted" else "notify.rejected"
    await tell_customer(turn, order, store, key)


def auto_paused(turn: Turn, store: Store, count: int) -> None:
    """Queue the alerts for a store the SLA paused: its group, the bot's admins, its manager."""
    t = staff_t(turn)
    if store.staff_chat_id is not None:
        turn.replies.append(
            send_message(store.staff_chat_id, t("staff.sla_paused", store=store.name, count=count))
        )
    people = set(turn.config.admin_ids)
    if store.manager_telegram_id is not None:
        people.add(store.manager_telegram_id)
    for person in sorted(people):
        turn.replies.append(
            send_message(person, t("staff.sla_paused_admin", store=store.name, count=count))
        )
