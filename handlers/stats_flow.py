"""Managers' figures (/stats, /export, /rfm): asked here, answered off the update by bot/reports.py.

Who may ask: the bot's admins (every store, with buttons to switch) and a store's manager (their
store; in a private chat, or in the store's staff group). Anyone else is refused politely. The
figures themselves are worked out after the update commits, so a large history never holds the
update's transaction; meanwhile the chat shows "sending a photo…".
"""

from __future__ import annotations

import re

from domain.ports import ReportRequest
from domain.stores import Store
from handlers.callbacks import CallbackData
from handlers.outbound import OutboundCall
from handlers.turn import Router, StaleButton, Turn, str_arg

PERIOD_RE = re.compile(r"^(today|[1-9][0-9]{0,3}d|\d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2})$")
DEFAULT_PERIOD = "7d"
PERIOD_CHOICES = ("today", "7d", "30d")
ALL_STORES = "*"


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.private_commands |= {"stats": stats, "export": export, "rfm": rfm}
    router.group_commands |= {"stats": stats, "export": export, "rfm": rfm}
    router.callbacks |= {"st": switch}


async def stats(turn: Turn) -> None:
    """/stats [period] [store-code]: the figures and a chart."""
    await _ask(turn, "stats")


async def export(turn: Turn) -> None:
    """/export [period] [store-code]: the period's orders as a CSV file."""
    await _ask(turn, "export")


async def rfm(turn: Turn) -> None:
    """/rfm [store-code]: the customers' RFM segments and how they moved since the last /rfm."""
    words = turn.inbound.args.lower().split()
    if len(words) > 1 or len(turn.inbound.args) > 100:
        turn.say(turn.t("rfm.usage"))
        return
    scope = await report_scope(turn, words[0] if words else None)
    if scope is None:
        return
    store, _switch_stores = scope
    await _queue(turn, "rfm", "", store, False)


async def _ask(turn: Turn, kind: str) -> None:
    period, code, extra = _arguments(turn.inbound.args)
    if period is None or extra:
        turn.say(turn.t("stats.usage", command=kind))
        return
    scope = await report_scope(turn, code)
    if scope is None:
        return
    store, switch_stores = scope
    await _queue(turn, kind, period, store, switch_stores)


def _arguments(args: str) -> tuple[str | None, str | None, list[str]]:
    """(period, store code, anything left over) from the command's words."""
    period, code, extra = DEFAULT_PERIOD, None, []
    seen_period = False
    for word in args.lower().split():
        if PERIOD_RE.match(word) and not seen_period:
            period, seen_period = word, True
        elif code is None and re.fullmatch(r"[a-z0-9_]{2,32}", word):
            code = word
        else:
            extra.append(word)
    if len(args) > 200:
        return None, None, extra
    return period, code, extra


async def report_scope(turn: Turn, code: str | None) -> tuple[Store | None, bool] | None:
    """The store to report on (None: all) and whether the asker may switch stores.

    None (after telling the asker why) when they may not see it.
    """
    admin = turn.user_id in turn.config.admin_ids
    if not turn.inbound.chat or turn.inbound.chat.is_private:
        if admin:
            if code is None:
                return None, True
            store = await turn.uow.stores.get_by_code(code)
            if store is None:
                turn.say(turn.t("stats.unknown_store", code=code))
                return None
            return store, True
        managed = [
            s for s in await turn.uow.stores.list_all() if s.manager_telegram_id == turn.user_id
        ]
        if not managed:
            turn.say(turn.t("stats.refused"))
            return None
        chosen = [s for s in managed if code is None or s.code == code]
        if not chosen:
            turn.say(turn.t("stats.unknown_store", code=code))
            return None
        return chosen[0], False
    store = await turn.uow.stores.by_staff_chat(turn.chat_id)
    if store is None:
        turn.say(turn.t("staff.not_bound"))
        return None
    if not admin and store.manager_telegram_id != turn.user_id:
        turn.say(turn.t("stats.refused"))
        return None
    if code is not None and code != store.code:
        turn.say(turn.t("stats.group_store_only", store=store.name))
        return None
    return store, False


async def _queue(
    turn: Turn, kind: str, period: str, store: Store | None, switch_stores: bool
) -> None:
    await turn.uow.reports.request(
        ReportRequest(
            kind=kind,
            chat_id=turn.chat_id,
            user_id=turn.user_id,
            locale=turn.locale,
            period=period,
            store_code=store.code if store else None,
            switch_stores=switch_stores,
        ),
        turn.now,
    )
    action = {"stats": "upload_photo", "export": "upload_document"}.get(kind, "typing")
    turn.replies.append(
        OutboundCall("sendChatAction", {"chat_id": turn.chat_id, "action": action}, turn.chat_id)
    )


async def switch(turn: Turn, data: CallbackData) -> None:
    """A period or store button under the figures: the same report for another choice."""
    period = str_arg(data, 0)
    code = str_arg(data, 1)
    if period not in PERIOD_CHOICES and not PERIOD_RE.match(period):
        raise StaleButton(data.action)
    scope = await report_scope(turn, None if code == ALL_STORES else code)
    if scope is None:
        turn.toast(turn.t("stats.refused"), alert=True)
        return
    store, switch_stores = scope
    if code == ALL_STORES and store is not None:
        raise StaleButton(data.action)  # only admins see every store at once
    turn.toast(turn.t("stats.working"))
    await _queue(turn, "stats", period, store, switch_stores)


def switch_button_args(period: str, store_code: str | None) -> tuple[str, str]:
    """Callback arguments of a switch button (the worker draws the buttons)."""
    return period, store_code or ALL_STORES
