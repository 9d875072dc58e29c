"""The store's staff group: binding, order cards, and accept / reject / ready / complete / cancel.

Every press is re-authorized: the group must be the order's store's staff chat, and the presser
a group administrator (asked of Telegram before the transaction, see TurnFacts), a registered
staff member, or one of the bot's admins. Transitions are compare-and-set, so of two people
pressing at once exactly one moves the order and the other is told.
"""

from __future__ import annotations

import dataclasses
import html
import random
from collections.abc import Callable, Sequence
from datetime import datetime

from domain.errors import InvalidTransition
from domain.orders import (
    ETA_MAX_MINUTES,
    PICKUP_CODE_ALPHABET,
    PICKUP_CODE_MAX_LENGTH,
    REANNOUNCED_NOTE,
    Order,
    RejectReason,
    StatusChange,
    generate_pickup_code,
)
from domain.ports import OrderMove, OrderView
from domain.stores import Store
from handlers import survey_flow
from handlers.callbacks import CallbackData
from handlers.outbound import (
    Button,
    InlineKeyboard,
    OutboundCall,
    edit_message_text,
    send_message,
)
from handlers.turn import Router, StaleButton, Turn, int_arg, str_arg
from handlers.views import clock_time, money

ETA_CHOICES = (10, 20, 30)
_PICKUP_CODES = random.SystemRandom()


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.group_commands |= {"bind": bind, "unbind": unbind, "pickup": pickup}
    router.membership = membership_changed
    router.callbacks |= {
        "sa": accept,
        "sr": reject_reasons,
        "srr": reject,
        "sy": ready,
        "sc": complete,
        "sx": cancel,
        "sk": back_to_card,
    }


def card_ref(order_id: int) -> str:
    """The outbox ref naming an order's card in the staff group."""
    return f"order:{order_id}:card"


def sla_ref(order_id: int) -> str:
    """The outbox ref naming an order's re-announced card copy."""
    return f"order:{order_id}:sla"


def card_label(order: OrderView) -> str:
    """How a card's buttons are marked when it shares a digest message with other cards."""
    return f"#{order.number}"


def card_text(turn: Turn, order: OrderView, store: Store, customer_name: str) -> str:
    """The order card: number, lines, total, fulfilment, customer, note, status."""
    t = staff_t(turn)
    lines = [t("staff.card_title", number=order.number, store=store.name)]
    lines += [f"{line.quantity} × {html.escape(line.name)}" for line in order.lines]
    lines.append(t("checkout.total", amount=money(order.total)))
    if order.fulfilment == "pickup":
        when = clock_time(order.slot_start, store.timezone) if order.slot_start else t("staff.asap")
        lines.append(t("checkout.pickup_line", when=when))
    elif order.fulfilment == "delivery":
        lines.append(t("checkout.delivery_line", address=order.delivery_address or ""))
    else:
        lines.append(t("checkout.dine_in_line", table=order.table_label or ""))
    lines.append(t("staff.customer", name=customer_name, phone=order.contact_phone or "-"))
    if order.comment:
        lines.append(t("checkout.comment_line", comment=order.comment))
    lines.append(t(f"staff.status.{order.status}", code=order.pickup_code or ""))
    return "\n".join(lines)


def card_keyboard(turn: Turn, order: OrderView) -> InlineKeyboard | None:
    """The buttons for the next steps of an order, or None once it is finished."""
    t = staff_t(turn)
    rows: list[list[Button]] = []
    if order.status == "placed":
        rows.append(
            [
                turn.button(t("staff.accept", minutes=minutes), "sa", order.id, minutes)
                for minutes in ETA_CHOICES
            ]
        )
        rows.append([turn.button(t("staff.reject"), "sr", order.id)])
    elif order.status == "accepted":
        rows.append(
            [
                turn.button(t("staff.ready"), "sy", order.id),
                turn.button(t("staff.cancel"), "sx", order.id),
            ]
        )
    elif order.status == "ready":
        rows.append([turn.button(t("staff.complete"), "sc", order.id)])
    return InlineKeyboard(rows) if rows else None


def new_order_card(turn: Turn, order: OrderView, store: Store) -> OutboundCall | None:
    """The card announcing a placed order in the store's group (None if no group is bound)."""
    if store.staff_chat_id is None:
        return None
    customer = turn.require_customer()
    keyboard = card_keyboard(turn, order)
    return send_message(
        store.staff_chat_id,
        card_text(turn, order, store, customer.first_name),
        keyboard,
        ref=card_ref(order.id),
        label=card_label(order),
    )


def staff_t(turn: Turn) -> Callable[..., str]:
    """Staff groups read the store's working language: the bot's default locale."""
    locale = turn.config.default_locale

    def t(key: str, /, **params: object) -> str:
        return turn.translator.t(locale, key, **params)

    return t


def _may_bind(turn: Turn, store: Store) -> bool:
    return turn.user_id in turn.config.admin_ids or turn.user_id == store.manager_telegram_id


async def bind(turn: Turn) -> None:
    """/bind <store-code>: this group becomes the store's staff chat (admins and the manager)."""
    t = staff_t(turn)
    code = turn.inbound.args.strip().lower()
    store = await turn.uow.stores.get_by_code(code) if code else None
    if store is None:
        turn.say(t("staff.bind_usage"))
        return
    if not _may_bind(turn, store):
        turn.say(t("staff.bind_refused"))
        return
    assert store.id is not None
    await turn.uow.stores.bind_staff_chat(store.id, turn.chat_id)
    turn.say(t("staff.bound", store=store.name))


async def unbind(turn: Turn) -> None:
    """/unbind: this group stops being a staff chat."""
    t = staff_t(turn)
    store = await turn.uow.stores.by_staff_chat(turn.chat_id)
    if store is None:
        turn.say(t("staff.not_bound"))
        return
    if not _may_bind(turn, store):
        turn.say(t("staff.bind_refused"))
        return
    assert store.id is not None
    await turn.uow.stores.bind_staff_chat(store.id, None)
    turn.say(t("staff.unbound", store=store.name))


async def membership_changed(turn: Turn) -> None:
    """The bot's place in a store's group changed: tell whoever can fix what it cannot do.

    Removed, or muted: orders stay and the admins and manager are told in private. Allowed to
    post but not to send photos or files: the group is told what will not arrive there.
    """
    store = await turn.uow.stores.by_staff_chat(turn.chat_id)
    if store is None:
        return
    t = staff_t(turn)
    missing = turn.inbound.missing_rights
    if turn.inbound.new_status in ("left", "kicked"):
        _alert_people(turn, store, t("staff.removed_alert", store=store.name))
    elif "can_send_messages" in missing:
        _alert_people(turn, store, t("staff.muted_alert", store=store.name))
    elif missing:
        rights = ", ".join(t(f"staff.right.{right}") for right in missing)
        turn.say(t("staff.rights_missing", rights=rights))


def _alert_people(turn: Turn, store: Store, text: str) -> None:
    people = set(turn.config.admin_ids)
    if store.manager_telegram_id is not None:
        people.add(store.manager_telegram_id)
    turn.replies += [send_message(person, text) for person in sorted(people)]


async def _authorized_order(turn: Turn, data: CallbackData) -> tuple[Order, OrderView, Store]:
    """The pressed card's order, if this group and this person may act on it."""
    t = staff_t(turn)
    view = await turn.uow.orders.get(int_arg(data, 0))
    if view is None:
        raise StaleButton(data.action)
    store = await turn.uow.stores.get(view.store_id)
    if store is None or store.staff_chat_id != turn.chat_id:
        raise StaleButton(data.action)
    if not await is_staff_here(turn, store):
        turn.toast(t("staff.not_staff"), alert=True)
        raise _Refused
    order = await turn.uow.orders.load(view.id)
    assert order is not None
    return order, view, store


async def is_staff_here(turn: Turn, store: Store) -> bool:
    """Whether the person behind the update may act for `store` in this group."""
    assert store.id is not None
    return (
        turn.facts.chat_admin
        or turn.user_id in turn.config.admin_ids
        or await turn.uow.stores.is_staff(store.id, turn.user_id)
    )


class _Refused(Exception):
    """The press was answered with a refusal; nothing changes."""


async def _transition(
    turn: Turn,
    data: CallbackData,
    step: Callable[[Order, str], StatusChange],
    notice_key: str | None,
) -> None:
    """Apply one staff step with compare-and-set, update the card, tell the customer."""
    try:
        order, view, store = await _authorized_order(turn, data)
    except _Refused:
        return
    await _apply(turn, order, view, store, step, notice_key)


async def _apply(
    turn: Turn,
    order: Order,
    view: OrderView,
    store: Store,
    step: Callable[[Order, str], StatusChange],
    notice_key: str | None,
) -> bool:
    """Move an authorized order one step; False (and the presser told who won) if it moved."""
    t = staff_t(turn)
    who = turn.inbound.user.first_name if turn.inbound.user else "?"
    try:
        change = dataclasses.replace(step(order, f"staff:{turn.user_id}"), actor_name=who)
    except InvalidTransition:
        # `view` may be older than `order`: on PostgreSQL each statement reads what was committed
        # when it began, so someone may have moved the order in between. Show it as it is now.
        fresh = await turn.uow.orders.get(view.id)
        await _already_moved(turn, fresh or view, store)
        return False
    if not await turn.uow.orders.record_change(order, change):
        fresh = await turn.uow.orders.get(view.id)
        await _already_moved(turn, fresh or view, store)
        return False
    if change.to_status in ("rejected", "cancelled"):
        await turn.uow.orders.release_stock(view.id)
    fresh = await turn.uow.orders.get(view.id)
    assert fresh is not None
    if fresh.status == "completed":
        await survey_flow.schedule_order_survey(turn, fresh, store)
    turn.toast(t("staff.done"))
    await _refresh(turn, fresh, store, who)
    if notice_key is not None:
        await tell_customer(turn, fresh, store, notice_key)
    return True


async def _already_moved(turn: Turn, order: OrderView, store: Store) -> None:
    """Tell the presser who moved the order, and when; show the card as it is now."""
    t = staff_t(turn)
    status = t(f"staff.word.{order.status}")
    moves = await turn.uow.orders.moves(order.id)
    last = _last_move_to(moves, order.status)
    if order.status == "placed":
        # Nobody moved it: the press is ahead of the order (it overtook the Accept it needs).
        turn.toast(t("staff.not_accepted", number=order.number), alert=True)
    elif last is None:
        turn.toast(t("staff.already", status=status), alert=True)
    else:
        turn.toast(
            t(
                "staff.already_by",
                status=status,
                name=actor_name(turn, last),
                time=clock_time(last.at, store.timezone),
            ),
            alert=True,
        )
    # The card keeps naming who moved the order: the sender shows only a card's newest edit,
    # and after a race that is a loser's.
    who = actor_name(turn, last) if last is not None else None
    await _refresh(turn, order, store, who, moves, at=last.at if last is not None else None)


def _last_move_to(moves: Sequence[OrderMove], status: str) -> OrderMove | None:
    for move in reversed(moves):
        if move.to_status == status and move.from_status != status:
            return move
    return None


def actor_name(turn: Turn, move: OrderMove) -> str:
    """Who made a move, as staff should read it: a name, "the customer", "automatically"."""
    t = staff_t(turn)
    if move.actor_name:
        return move.actor_name
    kind = move.actor.split(":", 1)[0]
    if kind == "system":
        return t("staff.actor_system")
    if kind == "customer":
        return t("staff.actor_customer")
    return move.actor


async def _refresh(
    turn: Turn,
    order: OrderView,
    store: Store,
    who: str | None = None,
    moves: Sequence[OrderMove] | None = None,
    at: datetime | None = None,
) -> None:
    customer = await turn.uow.customers.get(order.customer_id)
    text = card_text(turn, order, store, customer.first_name if customer else "?")
    if who is not None:
        t = staff_t(turn)
        when = turn.now if at is None else at
        text += "\n" + t("staff.by", name=who, time=clock_time(when, store.timezone))
    keyboard = card_keyboard(turn, order) or InlineKeyboard([])
    await show_card(turn, order, store, text, keyboard, moves)


async def show_card(
    turn: Turn,
    order: OrderView,
    store: Store,
    text: str,
    keyboard: InlineKeyboard,
    moves: Sequence[OrderMove] | None = None,
) -> None:
    """Edit every copy of the order's card (by ref: the card may share a digest message).

    `moves` are the order's recorded transitions when the caller has read them already.
    """
    if store.staff_chat_id is None:
        return
    if moves is None:
        moves = await turn.uow.orders.moves(order.id)
    refs = [card_ref(order.id)]
    if any(move.note == REANNOUNCED_NOTE for move in moves):
        refs.append(sla_ref(order.id))
    for ref in refs:
        turn.replies.append(edit_message_text(store.staff_chat_id, ref, text, keyboard))


async def tell_customer(turn: Turn, order: OrderView, store: Store, key: str) -> None:
    """Tell the customer (in their language) what became of their order."""
    customer = await turn.uow.customers.get(order.customer_id)
    if customer is None or not customer.reachable:
        return
    reason = turn.translator.t(customer.language, f"reject.{order.reject_reason or 'other'}")
    text = turn.translator.t(
        customer.language,
        key,
        number=order.number,
        store=store.name,
        time=clock_time(order.ready_by, store.timezone) if order.ready_by else "",
        code=order.pickup_code or "",
        reason=reason,
    )
    if key == "notify.rejected" and order.total.amount_minor and _was_paid(order):
        text += "\n" + turn.translator.t(customer.language, "notify.refund_due")
    turn.replies.append(send_message(customer.telegram_id, text))


def _was_paid(order: OrderView) -> bool:
    return order.payment_method == "telegram"


async def accept(turn: Turn, data: CallbackData) -> None:
    """Accept with an ETA of 10, 20 or 30 minutes, plus the store's busy extra (/busy +N)."""
    minutes = int_arg(data, 1)
    if minutes not in ETA_CHOICES:
        raise StaleButton(data.action)
    eta = min(minutes + await _busy_extra(turn, int_arg(data, 0)), ETA_MAX_MINUTES)
    await _transition(
        turn, data, lambda order, actor: order.accept(turn.now, actor, eta), "notify.accepted"
    )


async def _busy_extra(turn: Turn, order_id: int) -> int:
    view = await turn.uow.orders.get(order_id)
    store = await turn.uow.stores.get(view.store_id) if view is not None else None
    return store.settings.busy_extra_minutes if store is not None else 0


async def reject_reasons(turn: Turn, data: CallbackData) -> None:
    """Show the rejection reasons on the card."""
    t = staff_t(turn)
    try:
        _order, view, store = await _authorized_order(turn, data)
    except _Refused:
        return
    if view.status != "placed":
        await _already_moved(turn, view, store)
        return
    customer = await turn.uow.customers.get(view.customer_id)
    rows = [
        [turn.button(t(f"reject.{reason.value}"), "srr", view.id, reason.value)]
        for reason in RejectReason
    ]
    rows.append([turn.button(t("button.back"), "sk", view.id)])
    text = card_text(turn, view, store, customer.first_name if customer else "?")
    await show_card(turn, view, store, text + "\n" + t("staff.choose_reason"), InlineKeyboard(rows))


async def back_to_card(turn: Turn, data: CallbackData) -> None:
    """Leave the reasons and show the card again."""
    try:
        _, view, store = await _authorized_order(turn, data)
    except _Refused:
        return
    await _refresh(turn, view, store)


async def reject(turn: Turn, data: CallbackData) -> None:
    """Reject with a reason; the stock goes back on the shelf."""
    try:
        reason = RejectReason(str_arg(data, 1))
    except ValueError:
        raise StaleButton(data.action) from None
    await _transition(
        turn, data, lambda order, actor: order.reject(turn.now, actor, reason), "notify.rejected"
    )


async def ready(turn: Turn, data: CallbackData) -> None:
    """Ready: a short pickup code goes to the customer."""
    code = generate_pickup_code(_PICKUP_CODES)
    await _transition(
        turn, data, lambda order, actor: order.mark_ready(turn.now, actor, code), "notify.ready"
    )


async def complete(turn: Turn, data: CallbackData) -> None:
    """Completed (handed over)."""
    await _transition(
        turn, data, lambda order, actor: order.complete(turn.now, actor), "notify.completed"
    )


async def cancel(turn: Turn, data: CallbackData) -> None:
    """Cancelled by the store after accepting; the stock goes back."""
    await _transition(
        turn,
        data,
        lambda order, actor: order.cancel(turn.now, actor, "cancelled by the store"),
        "notify.cancelled",
    )


async def staff_store(turn: Turn) -> Store | None:
    """The group's store if the sender may run it; otherwise say why not and return None."""
    t = staff_t(turn)
    store = await turn.uow.stores.by_staff_chat(turn.chat_id)
    if store is None:
        turn.say(t("staff.not_bound"))
        return None
    if not await is_staff_here(turn, store):
        turn.say(t("staff.not_staff"))
        return None
    return store


async def pickup(turn: Turn) -> None:
    """/pickup <code>: the customer showed their code; complete the matching ready order."""
    t = staff_t(turn)
    store = await staff_store(turn)
    if store is None:
        return
    assert store.id is not None
    code = turn.inbound.args.strip().upper()
    if not code:
        turn.say(t("staff.pickup_usage"))
        return
    if len(code) > PICKUP_CODE_MAX_LENGTH or any(c not in PICKUP_CODE_ALPHABET for c in code):
        turn.say(t("staff.pickup_unknown", code=code[:PICKUP_CODE_MAX_LENGTH]))
        return
    view = await turn.uow.orders.find_ready_by_code(store.id, code)
    order = await turn.uow.orders.load(view.id) if view is not None else None
    if view is None or order is None:
        turn.say(t("staff.pickup_unknown", code=code))
        return
    completed = await _apply(
        turn,
        order,
        view,
        store,
        lambda order, actor: order.complete(turn.now, actor),
        "notify.completed",
    )
    if completed:
        items = ", ".join(f"{line.quantity} × {line.name}" for line in view.lines)
        turn.say(t("staff.pickup_done", number=view.number, code=code, items=items))
