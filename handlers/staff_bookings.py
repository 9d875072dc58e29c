"""Booking cards in the staff group: confirm, decline, seated, no-show, completed."""

from __future__ import annotations

from collections.abc import Callable

from domain.errors import InvalidTransition, ValidationError
from domain.orders import StatusChange
from domain.ports import ReservationView
from domain.reservations import Reservation
from domain.stores import Store
from handlers import booking_flow, survey_flow
from handlers.callbacks import CallbackData
from handlers.outbound import Button, InlineKeyboard, OutboundCall, send_message
from handlers.staff_flow import is_staff_here, staff_t
from handlers.turn import Router, StaleButton, Turn, int_arg

DECLINE_REASON = "fully booked"


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.callbacks |= {"bc": confirm, "bd": decline, "bs": seat, "bn": no_show, "bf": finish}


def booking_card_text(turn: Turn, view: ReservationView, store: Store, name: str) -> str:
    """The booking card: what, when, who, note, status."""
    t = staff_t(turn)
    locale = turn.config.default_locale
    lines = [
        t("staff.booking_title", store=store.name),
        booking_flow.what_text(turn.translator, locale, view),
        booking_flow.when_text(
            turn.translator, locale, view.starts_at, view.duration_minutes, store.timezone
        ),
    ]
    if view.table_label:
        lines.append(t("staff.booking_table", table=view.table_label))
    lines.append(t("staff.customer", name=name, phone=view.contact_phone or "-"))
    if view.comment:
        lines.append(t("checkout.comment_line", comment=view.comment))
    lines.append(t(f"reservation_status.{view.status}"))
    return "\n".join(line for line in lines if line)


def booking_card_keyboard(turn: Turn, view: ReservationView) -> InlineKeyboard:
    """The next steps of a booking (no buttons once it is finished)."""
    t = staff_t(turn)
    rows: list[list[Button]] = []
    if view.status == "requested":
        rows.append(
            [
                turn.button(t("staff.confirm"), "bc", view.id),
                turn.button(t("staff.decline"), "bd", view.id),
            ]
        )
    elif view.status == "confirmed":
        rows.append(
            [
                turn.button(t("staff.seated"), "bs", view.id),
                turn.button(t("staff.no_show"), "bn", view.id),
            ]
        )
    elif view.status == "seated":
        rows.append([turn.button(t("staff.complete"), "bf", view.id)])
    return InlineKeyboard(rows)


def new_booking_card(turn: Turn, view: ReservationView, store: Store) -> OutboundCall | None:
    """The card announcing a booking request in the store's group (None if no group is bound)."""
    if store.staff_chat_id is None:
        return None
    name = turn.require_customer().first_name
    return send_message(
        store.staff_chat_id,
        booking_card_text(turn, view, store, name),
        booking_card_keyboard(turn, view),
        ref=f"reservation:{view.id}:card",
    )


async def _step(
    turn: Turn,
    data: CallbackData,
    step: Callable[[Reservation, str], StatusChange],
    notice_key: str | None,
) -> None:
    t = staff_t(turn)
    view = await turn.uow.reservations.get(int_arg(data, 0))
    store = await turn.uow.stores.get(view.store_id) if view else None
    if view is None or store is None or store.staff_chat_id != turn.chat_id:
        raise StaleButton(data.action)
    if not await is_staff_here(turn, store):
        turn.toast(t("staff.not_staff"), alert=True)
        return
    reservation = await turn.uow.reservations.load(view.id)
    assert reservation is not None
    try:
        change = step(reservation, f"staff:{turn.user_id}")
    except InvalidTransition:
        turn.toast(t("staff.booking_already", status=t(f"reservation_status.{view.status}")))
        await _refresh(turn, view, store)
        return
    except ValidationError:
        turn.toast(t("staff.too_early"), alert=True)
        return
    if not await turn.uow.reservations.record_change(reservation, change):
        turn.toast(t("staff.changed_meanwhile"), alert=True)
    else:
        turn.toast(t("staff.done"))
    fresh = await turn.uow.reservations.get(view.id)
    assert fresh is not None
    if fresh.status in ("seated", "completed"):
        await survey_flow.schedule_booking_survey(turn, fresh, store)
    await _refresh(turn, fresh, store)
    if notice_key is not None and fresh.status == change.to_status:
        await _tell_customer(turn, fresh, store, notice_key)


async def _refresh(turn: Turn, view: ReservationView, store: Store) -> None:
    customer = await turn.uow.customers.get(view.customer_id)
    who = turn.inbound.user.first_name if turn.inbound.user else "?"
    text = booking_card_text(turn, view, store, customer.first_name if customer else "?")
    text += "\n" + staff_t(turn)("staff.by_name", name=who)
    turn.show(text, booking_card_keyboard(turn, view))


async def _tell_customer(turn: Turn, view: ReservationView, store: Store, key: str) -> None:
    customer = await turn.uow.customers.get(view.customer_id)
    if customer is None or not customer.reachable:
        return
    locale = customer.language
    text = turn.translator.t(
        locale,
        key,
        store=store.name,
        what=booking_flow.what_text(turn.translator, locale, view),
        when=booking_flow.when_text(
            turn.translator, locale, view.starts_at, view.duration_minutes, store.timezone
        ),
    )
    turn.replies.append(send_message(customer.telegram_id, text))


async def confirm(turn: Turn, data: CallbackData) -> None:
    """Confirm the booking; the customer is told."""
    await _step(turn, data, lambda r, actor: r.confirm(turn.now, actor), "notify.booking_confirmed")


async def decline(turn: Turn, data: CallbackData) -> None:
    """Decline the booking; the customer is told."""
    await _step(
        turn,
        data,
        lambda r, actor: r.decline(turn.now, actor, DECLINE_REASON),
        "notify.booking_declined",
    )


async def seat(turn: Turn, data: CallbackData) -> None:
    """The guests arrived."""
    await _step(turn, data, lambda r, actor: r.seat(turn.now, actor), None)


async def no_show(turn: Turn, data: CallbackData) -> None:
    """The guests never came (only once the slot has started)."""
    await _step(turn, data, lambda r, actor: r.mark_no_show(turn.now, actor), None)


async def finish(turn: Turn, data: CallbackData) -> None:
    """The visit is over."""
    await _step(turn, data, lambda r, actor: r.complete(turn.now, actor), None)
