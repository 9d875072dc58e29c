"""Bookings: a table or a service, day, time, party size, phone, note, summary, one confirm.

Steps (state "booking", `step` in its data):

    kind ──table──> party ──> day ──> time ──> phone ──> comment ──> summary ──confirm──> done
      └──service────────────> day

A table booking asks the party size before the day, so only days and times with a free table
that seats the party are offered. The confirm button carries the flow's token: the first press
books and clears the state; any later press with the same token finds no matching state and is
told the booking was already sent, while two presses racing each other meet in the repository,
which books under a per-store lock and returns the first booking for an identical request.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.booking import (
    BOOKING_LEAD_MINUTES,
    NewReservation,
    ServiceInfo,
    SlotUnavailable,
    TableInfo,
    booking_days,
    can_cancel,
    cancel_deadline,
    check_party_size,
    is_available,
    max_party_size,
    parse_party_size,
)
from domain.checkout import COMMENT_MAX_LENGTH, clean_comment
from domain.errors import InvalidTransition, ValidationError
from domain.money import Money
from domain.ports import DueReminder, ReservationView
from domain.reservations import ReservationKind, ReservationStatus
from domain.schedule import OpeningHours, reservation_slots
from domain.stores import Store
from handlers import basics, staff_bookings
from handlers.callbacks import CallbackData
from handlers.catalog_flow import current_store
from handlers.contact import CONTACT_REFUSALS, ask_phone, read_phone
from handlers.i18n import Markup, Translator
from handlers.inbound import InboundKind
from handlers.outbound import Button, InlineKeyboard, OutboundCall, send_message
from handlers.turn import Router, StaleButton, Turn, int_arg, str_arg
from handlers.views import (
    clock_time,
    day_and_time,
    epoch_minutes,
    from_epoch_minutes,
    money,
    weekday_key,
)

BOOKING = "booking"
PARTY_BUTTONS = 8
TIMES_PER_ROW = 4
DAYS_PER_ROW = 3
TIMES_SHOWN = 48
RECENT_BOOKINGS = 5
TABLE_CHOICE = "t"
# Statuses a customer may still cancel from (before the store's cutoff).
_CANCELLABLE = frozenset({ReservationStatus.REQUESTED.value, ReservationStatus.CONFIRMED.value})
_STEP_HINTS = {
    "party": "booking.ask_party_again",
    "phone": "checkout.ask_phone",
    "comment": "booking.ask_comment",
}
_INVALID = {
    ("party_size", "not_a_number"): "booking.party_not_number",
    ("party_size", "too_small"): "booking.party_too_small",
    ("party_size", "too_large"): "booking.party_too_large",
    ("comment", "empty"): "booking.ask_comment",
} | CONTACT_REFUSALS


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.private_commands |= {"book": book_command}
    router.callbacks |= {
        "book": book_pressed,
        "bk_k": kind_chosen,
        "bk_p": party_chosen,
        "bk_days": days_pressed,
        "bk_d": day_chosen,
        "bk_t": time_chosen,
        "bk_s": comment_skipped,
        "bk_ok": confirm,
        "bk_x": leave,
        "res": reservation_pressed,
        "res_x": cancel_reservation,
    }
    router.states |= {BOOKING: typed}


# --------------------------------------------------------------------------- what is booked


@dataclass(frozen=True, slots=True)
class _Offer:
    """What the flow's state books, resolved against the store as it is now."""

    kind: ReservationKind
    duration_minutes: int
    tables: tuple[TableInfo, ...]
    service: ServiceInfo | None
    party_size: int


def _local(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(ZoneInfo(timezone))


def _weekday(translator: Translator, locale: str, day: date) -> str:
    return translator.t(locale, weekday_key(day))


def when_text(
    translator: Translator, locale: str, starts_at: datetime, duration_minutes: int, timezone: str
) -> Markup:
    """'Sat 2026-05-09 19:00–20:30' in the store's timezone."""
    start = _local(starts_at, timezone)
    end = _local(starts_at + timedelta(minutes=duration_minutes), timezone)
    weekday = _weekday(translator, locale, start.date())
    return Markup(f"{weekday} {start:%Y-%m-%d} {start:%H:%M}–{end:%H:%M}")


def _moment_text(turn: Turn, moment: datetime, timezone: str) -> Markup:
    at = _local(moment, timezone)
    return Markup(f"{_weekday(turn.translator, turn.locale, at.date())} {at:%Y-%m-%d %H:%M}")


def what_text(translator: Translator, locale: str, view: ReservationView) -> str:
    """'table for 4' or the service's name."""
    if view.kind == ReservationKind.SERVICE.value:
        return html.escape(view.service_title(locale))
    return translator.t(locale, "booking.table_for", count=view.party_size)


async def _booking_state(turn: Turn) -> dict[str, Any] | None:
    state = await turn.state()
    return dict(state.data) if state is not None and state.state == BOOKING else None


async def _flow(turn: Turn, data: CallbackData, *steps: str) -> tuple[Store, dict[str, Any]]:
    """The store and state of a flow at one of `steps`; StaleButton for any other press."""
    state = await _booking_state(turn)
    customer = turn.require_customer()
    store = await turn.uow.stores.get(customer.selected_store_id or 0)
    if (
        state is None
        or store is None
        or state.get("store_id") != store.id
        or state.get("step") not in steps
    ):
        raise StaleButton(data.action)
    return store, state


async def _offer(turn: Turn, store: Store, state: dict[str, Any]) -> _Offer | None:
    """Resolve the state's choice; None when the service or the tables are gone."""
    assert store.id is not None
    settings = store.settings
    if not settings.reservations:
        return None
    if state.get("kind") == ReservationKind.SERVICE.value:
        services = await turn.uow.reservations.services(store.id)
        service = next((s for s in services if s.id == state.get("service_id")), None)
        if service is None:
            return None
        return _Offer(ReservationKind.SERVICE, service.duration_minutes, (), service, 1)
    tables = tuple(await turn.uow.reservations.tables(store.id))
    party = int(state.get("party") or 1)
    if not tables or party > max_party_size(tables):
        return None
    return _Offer(ReservationKind.TABLE, settings.reservation_duration_minutes, tables, None, party)


async def _open_times(
    turn: Turn, store: Store, offer: _Offer, days: list[date]
) -> dict[date, list[datetime]]:
    """Bookable starts per local day: inside opening hours, ahead of the lead time, with room."""
    assert store.id is not None
    hours = OpeningHours.parse(store.opening_hours)
    candidates = {
        day: reservation_slots(
            hours,
            store.timezone,
            day,
            now=turn.now,
            slot_minutes=store.settings.reservation_slot_minutes,
            duration_minutes=offer.duration_minutes,
            min_lead_minutes=BOOKING_LEAD_MINUTES,
        )
        for day in days
    }
    starts = [start for slots in candidates.values() for start in slots]
    if not starts:
        return {}
    booked = await turn.uow.reservations.booked(
        store.id, min(starts), max(starts) + timedelta(minutes=offer.duration_minutes)
    )
    available: dict[date, list[datetime]] = {}
    for day, slots in candidates.items():
        free = [
            start
            for start in slots
            if is_available(
                offer.kind,
                start,
                offer.duration_minutes,
                tables=offer.tables,
                booked=booked,
                party_size=offer.party_size,
                service_capacity=store.settings.service_capacity,
            )
        ]
        if free:
            available[day] = free
    return available


def _window(turn: Turn, store: Store) -> list[date]:
    today = _local(turn.now, store.timezone).date()
    return booking_days(today, store.settings.reservation_days_ahead)


def _cancel_row(turn: Turn) -> list[Button]:
    return [turn.button(turn.t("button.cancel"), "bk_x")]


# --------------------------------------------------------------------------- the flow


async def book_command(turn: Turn) -> None:
    """/book."""
    await start(turn)


async def book_pressed(turn: Turn, _data: CallbackData) -> None:
    """📅 Book."""
    await start(turn)


async def start(turn: Turn) -> None:
    """Offer what the chosen store takes bookings for: a table and/or its services."""
    store = await current_store(turn)
    if store is None:
        return
    assert store.id is not None
    tables = await turn.uow.reservations.tables(store.id)
    services = await turn.uow.reservations.services(store.id)
    if not store.settings.reservations or (not tables and not services):
        if await _booking_state(turn) is not None:
            await turn.clear_state()
        turn.show(
            turn.t("booking.not_offered", store=store.name),
            InlineKeyboard([[turn.button(turn.t("button.back"), "home")]]),
        )
        return
    state: dict[str, Any] = {"store_id": store.id, "token": secrets.token_urlsafe(6)}
    if tables and not services:
        await _ask_party(turn, tables, state | {"kind": ReservationKind.TABLE.value})
        return
    if services and not tables and len(services) == 1:
        await _ask_day(turn, store, _service_state(state, services[0]))
        return
    await turn.set_state(BOOKING, state | {"step": "kind"})
    rows: list[list[Button]] = []
    if tables:
        rows.append([turn.button(turn.t("booking.table_button"), "bk_k", TABLE_CHOICE)])
    for service in services:
        label = turn.t(
            "booking.service_button",
            name=service.title(turn.locale),
            minutes=service.duration_minutes,
        )
        if service.price_minor is not None:
            label += f" · {money(Money(service.price_minor, store.currency))}"
        rows.append([turn.button(label, "bk_k", service.id)])
    rows.append(_cancel_row(turn))
    turn.show(turn.t("booking.choose_kind", store=store.name), InlineKeyboard(rows))


def _service_state(state: dict[str, Any], service: ServiceInfo) -> dict[str, Any]:
    return state | {"kind": ReservationKind.SERVICE.value, "service_id": service.id, "party": 1}


async def kind_chosen(turn: Turn, data: CallbackData) -> None:
    """A table, or one of the services."""
    choice = str_arg(data, 0)
    store, state = await _flow(turn, data, "kind")
    assert store.id is not None
    if choice == TABLE_CHOICE:
        tables = await turn.uow.reservations.tables(store.id)
        if not tables:
            raise StaleButton(data.action)
        await _ask_party(turn, tables, state | {"kind": ReservationKind.TABLE.value})
        return
    services = await turn.uow.reservations.services(store.id)
    service = next((s for s in services if str(s.id) == choice), None)
    if service is None:
        raise StaleButton(data.action)
    await _ask_day(turn, store, _service_state(state, service))


async def _ask_party(turn: Turn, tables: Sequence[TableInfo], state: dict[str, Any]) -> None:
    largest = max_party_size(tables)
    await turn.set_state(BOOKING, state | {"step": "party"})
    buttons = [
        turn.button(str(size), "bk_p", size) for size in range(1, min(PARTY_BUTTONS, largest) + 1)
    ]
    rows = [buttons[index : index + 4] for index in range(0, len(buttons), 4)]
    rows.append(_cancel_row(turn))
    turn.show(turn.t("booking.ask_party", max=largest), InlineKeyboard(rows))


async def party_chosen(turn: Turn, data: CallbackData) -> None:
    """A party-size button."""
    size = int_arg(data, 0)
    store, state = await _flow(turn, data, "party")
    await _party(turn, store, state, size)


async def _party(turn: Turn, store: Store, state: dict[str, Any], size: int | str) -> None:
    assert store.id is not None
    tables = await turn.uow.reservations.tables(store.id)
    if isinstance(size, str):
        size = parse_party_size(size, tables)
    else:
        size = check_party_size(size, tables)
    await _ask_day(turn, store, state | {"party": size})


async def days_pressed(turn: Turn, data: CallbackData) -> None:
    """📅 Another day (from the time choice)."""
    store, state = await _flow(turn, data, "time")
    await _ask_day(turn, store, state)


async def _ask_day(
    turn: Turn, store: Store, state: dict[str, Any], notice: str | None = None
) -> None:
    offer = await _offer(turn, store, state)
    if offer is None:
        await _gone(turn)
        return
    available = await _open_times(turn, store, offer, _window(turn, store))
    await turn.set_state(BOOKING, state | {"step": "day"})
    lines = [notice] if notice else []
    if not available:
        lines.append(turn.t("booking.no_days", days=store.settings.reservation_days_ahead))
        turn.show("\n\n".join(lines), InlineKeyboard([_cancel_row(turn)]))
        return
    today = _local(turn.now, store.timezone).date()
    buttons = [
        turn.button(_day_label(turn, day, today), "bk_d", f"{day:%Y%m%d}") for day in available
    ]
    rows = [buttons[index : index + DAYS_PER_ROW] for index in range(0, len(buttons), DAYS_PER_ROW)]
    rows.append(_cancel_row(turn))
    lines.append(turn.t("booking.ask_day"))
    turn.show("\n\n".join(lines), InlineKeyboard(rows))


def _day_label(turn: Turn, day: date, today: date) -> str:
    if day == today:
        return turn.t("booking.today")
    if day == today + timedelta(days=1):
        return turn.t("booking.tomorrow")
    return f"{_weekday(turn.translator, turn.locale, day)} {day:%m-%d}"


def _parse_day(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


async def day_chosen(turn: Turn, data: CallbackData) -> None:
    """A day; one that filled up or passed meanwhile is refused with the fresh choice."""
    day = _parse_day(str_arg(data, 0))
    store, state = await _flow(turn, data, "day")
    if day is None:
        raise StaleButton(data.action)
    await _ask_time(turn, store, state, day)


async def _ask_time(turn: Turn, store: Store, state: dict[str, Any], day: date) -> None:
    offer = await _offer(turn, store, state)
    if offer is None:
        await _gone(turn)
        return
    times = (
        (await _open_times(turn, store, offer, [day])).get(day, [])
        if day in _window(turn, store)
        else []
    )
    if not times:
        turn.toast(turn.t("booking.day_full"), alert=True)
        await _ask_day(turn, store, state)
        return
    await turn.set_state(BOOKING, state | {"step": "time", "day": f"{day:%Y%m%d}"})
    buttons = [
        turn.button(clock_time(start, store.timezone), "bk_t", epoch_minutes(start))
        for start in times[:TIMES_SHOWN]
    ]
    rows = [
        buttons[index : index + TIMES_PER_ROW] for index in range(0, len(buttons), TIMES_PER_ROW)
    ]
    rows.append([turn.button(turn.t("booking.other_day"), "bk_days"), *_cancel_row(turn)])
    today = _local(turn.now, store.timezone).date()
    turn.show(
        turn.t(
            "booking.ask_time", day=_day_label(turn, day, today), minutes=offer.duration_minutes
        ),
        InlineKeyboard(rows),
    )


async def time_chosen(turn: Turn, data: CallbackData) -> None:
    """A start time; one that passed or filled up meanwhile is refused with fresh times."""
    start = from_epoch_minutes(int_arg(data, 0))
    store, state = await _flow(turn, data, "time")
    offer = await _offer(turn, store, state)
    if offer is None:
        await _gone(turn)
        return
    day = _local(start, store.timezone).date()
    if not await _still_open(turn, store, offer, start):
        turn.toast(_refusal(turn, start), alert=True)
        await _ask_time(turn, store, state, day)
        return
    await _ask_phone(turn, state | {"start": epoch_minutes(start), "day": f"{day:%Y%m%d}"})


async def _still_open(turn: Turn, store: Store, offer: _Offer, start: datetime) -> bool:
    day = _local(start, store.timezone).date()
    if day not in _window(turn, store):
        return False
    return start in (await _open_times(turn, store, offer, [day])).get(day, [])


def _refusal(turn: Turn, start: datetime) -> str:
    if start < turn.now + timedelta(minutes=BOOKING_LEAD_MINUTES):
        return turn.t("booking.slot_past")
    return turn.t("booking.slot_taken")


async def _ask_phone(turn: Turn, state: dict[str, Any]) -> None:
    await turn.set_state(BOOKING, state | {"step": "phone"})
    ask_phone(turn)


async def typed(turn: Turn) -> None:
    """Text or a contact during booking, read according to the current step."""
    state = await _booking_state(turn)
    customer = turn.require_customer()
    store = await turn.uow.stores.get(customer.selected_store_id or 0)
    if state is None or store is None or state.get("store_id") != store.id:
        await turn.clear_state()
        turn.say(turn.t("error.not_expected"))
        return
    step = state.get("step")
    kind = turn.inbound.kind
    text = turn.inbound.text or ""
    try:
        if step == "party" and kind is InboundKind.TEXT:
            await _party(turn, store, state, text)
        elif step == "phone" and kind in (InboundKind.CONTACT, InboundKind.TEXT):
            await _phone(turn, state)
        elif step == "comment" and kind is InboundKind.TEXT:
            await _summary(turn, store, state | {"comment": clean_comment(text)})
        else:
            turn.say(turn.t(_STEP_HINTS.get(str(step), "checkout.expected_button")))
    except ValidationError as exc:
        assert store.id is not None
        largest = 0
        if exc.field == "party_size":
            largest = max_party_size(await turn.uow.reservations.tables(store.id))
        key = _INVALID.get((exc.field, exc.reason), "error.not_expected")
        keyboard = _comment_keyboard(turn) if step == "comment" else None
        turn.say(turn.t(key, limit=COMMENT_MAX_LENGTH, length=len(text), max=largest), keyboard)


async def _phone(turn: Turn, state: dict[str, Any]) -> None:
    phone = await read_phone(turn)
    if phone is None:
        return
    await turn.set_state(BOOKING, state | {"phone": phone, "step": "comment"})
    turn.say(turn.t("booking.ask_comment"), _comment_keyboard(turn))


def _comment_keyboard(turn: Turn) -> InlineKeyboard:
    return InlineKeyboard([[turn.button(turn.t("button.skip"), "bk_s")], _cancel_row(turn)])


async def comment_skipped(turn: Turn, data: CallbackData) -> None:
    """No note."""
    store, state = await _flow(turn, data, "comment")
    await _summary(turn, store, state | {"comment": None})


async def _summary(turn: Turn, store: Store, state: dict[str, Any]) -> None:
    offer = await _offer(turn, store, state)
    if offer is None:
        await _gone(turn)
        return
    await turn.set_state(BOOKING, state | {"step": "summary"})
    keyboard = InlineKeyboard(
        [
            [turn.button(turn.t("button.confirm_booking"), "bk_ok", state["token"])],
            _cancel_row(turn),
        ]
    )
    turn.toast()
    turn.show(_summary_text(turn, store, offer, state), keyboard)


def _summary_text(turn: Turn, store: Store, offer: _Offer, state: dict[str, Any]) -> str:
    start = from_epoch_minutes(int(state["start"]))
    lines = [turn.t("booking.summary_title", store=store.name)]
    if offer.service is not None:
        lines.append(turn.t("booking.service_line", name=offer.service.title(turn.locale)))
    else:
        lines.append(turn.t("booking.table_line", count=offer.party_size))
    lines.append(
        turn.t(
            "booking.when_line",
            when=when_text(
                turn.translator, turn.locale, start, offer.duration_minutes, store.timezone
            ),
        )
    )
    lines.append(turn.t("checkout.phone_line", phone=state.get("phone", "")))
    if state.get("comment"):
        lines.append(turn.t("checkout.comment_line", comment=state["comment"]))
    cutoff = store.settings.reservation_cancel_cutoff_minutes
    deadline = _moment_text(turn, cancel_deadline(start, cutoff), store.timezone)
    if can_cancel(start, turn.now, cutoff):
        lines.append(turn.t("booking.cancel_until", deadline=deadline))
    else:
        lines.append(turn.t("booking.no_cancel", deadline=deadline))
    return "\n".join(lines)


async def confirm(turn: Turn, data: CallbackData) -> None:
    """✅ Confirm: one booking per flow token, availability checked again under the store lock."""
    token = str_arg(data, 0)
    state = await _booking_state(turn)
    if state is None or state.get("token") != token:
        # The flow that made this button already booked (or was left): never book twice.
        turn.toast(turn.t("booking.already_sent"), alert=True)
        return
    store, state = await _flow(turn, data, "summary")
    assert store.id is not None
    offer = await _offer(turn, store, state)
    if offer is None:
        await _gone(turn)
        return
    start = from_epoch_minutes(int(state["start"]))
    day = _local(start, store.timezone).date()
    if not await _still_open(turn, store, offer, start):
        turn.toast(_refusal(turn, start), alert=True)
        await _ask_time(turn, store, state, day)
        return
    customer = turn.require_customer()
    assert customer.id is not None
    request = NewReservation(
        store_id=store.id,
        customer_id=customer.id,
        kind=offer.kind,
        party_size=offer.party_size,
        starts_at=start,
        duration_minutes=offer.duration_minutes,
        requested_at=turn.now,
        service_id=offer.service.id if offer.service is not None else None,
        contact_phone=state.get("phone"),
        comment=state.get("comment"),
    )
    try:
        view, created = await turn.uow.reservations.create(request, store.settings.service_capacity)
    except SlotUnavailable:
        turn.toast(turn.t("booking.slot_taken"), alert=True)
        await _ask_time(turn, store, state, day)
        return
    await turn.clear_state()
    card = staff_bookings.new_booking_card(turn, view, store) if created else None
    if card is not None:
        turn.replies.append(card)
    turn.toast(turn.t("booking.requested_toast") if created else turn.t("booking.already_sent"))
    turn.show(
        _summary_text(turn, store, offer, state) + "\n\n" + turn.t("booking.requested"),
        InlineKeyboard([[turn.button(turn.t("button.orders"), "orders")]]),
    )


async def leave(turn: Turn, _data: CallbackData) -> None:
    """✖ Cancel: leave the flow; nothing was booked."""
    if await _booking_state(turn) is not None:
        await turn.clear_state()
    turn.toast(turn.t("booking.left"))
    await basics.home(turn, None)


async def _gone(turn: Turn) -> None:
    """The chosen service or the tables are no longer bookable: start again."""
    await turn.clear_state()
    turn.toast()
    turn.say(turn.t("booking.changed"))
    await start(turn)


# --------------------------------------------------------------------------- tracking


async def reservation_rows(turn: Turn) -> list[list[Button]]:
    """Buttons for the customer's recent bookings, for the /orders list."""
    customer = turn.require_customer()
    views = await turn.uow.reservations.recent(customer.id or 0, RECENT_BOOKINGS)
    stores: dict[int, Store | None] = {}
    rows = []
    for view in views:
        if view.store_id not in stores:
            stores[view.store_id] = await turn.uow.stores.get(view.store_id)
        store = stores[view.store_id]
        timezone = store.timezone if store is not None else "UTC"
        label = " · ".join(
            [
                f"📅 {day_and_time(turn, view.starts_at, timezone)}",
                what_text(turn.translator, turn.locale, view),
                turn.t(f"reservation_status.{view.status}"),
            ]
        )
        rows.append([turn.button(html.unescape(label), "res", view.id)])
    return rows


async def _own(turn: Turn, data: CallbackData) -> ReservationView:
    customer = turn.require_customer()
    view = await turn.uow.reservations.get(int_arg(data, 0))
    if view is None or view.customer_id != customer.id:
        raise StaleButton(data.action)
    return view


async def reservation_pressed(turn: Turn, data: CallbackData) -> None:
    """One booking's details."""
    await show_reservation(turn, await _own(turn, data))


async def show_reservation(turn: Turn, view: ReservationView) -> None:
    """Render a booking and, until the store's cutoff, its Cancel button."""
    store = await turn.uow.stores.get(view.store_id)
    if store is None:
        raise StaleButton("res")
    lines = [turn.t("booking.detail_title", store=store.name)]
    if view.kind == ReservationKind.SERVICE.value:
        lines.append(turn.t("booking.service_line", name=view.service_title(turn.locale)))
    else:
        lines.append(turn.t("booking.table_line", count=view.party_size))
        if view.table_label:
            lines.append(turn.t("booking.table_label", table=view.table_label))
    when = when_text(
        turn.translator, turn.locale, view.starts_at, view.duration_minutes, store.timezone
    )
    lines.append(turn.t("booking.when_line", when=when))
    lines.append(turn.t("orders.status", status=turn.t(f"reservation_status.{view.status}")))
    if view.contact_phone:
        lines.append(turn.t("checkout.phone_line", phone=view.contact_phone))
    if view.comment:
        lines.append(turn.t("checkout.comment_line", comment=view.comment))
    rows = []
    if view.status in _CANCELLABLE:
        cutoff = store.settings.reservation_cancel_cutoff_minutes
        deadline = _moment_text(turn, cancel_deadline(view.starts_at, cutoff), store.timezone)
        if can_cancel(view.starts_at, turn.now, cutoff):
            lines.append(turn.t("booking.cancel_until", deadline=deadline))
            rows.append([turn.button(turn.t("button.cancel_booking"), "res_x", view.id)])
        else:
            lines.append(turn.t("booking.cancel_closed", deadline=deadline))
    rows.append([turn.button(turn.t("button.back"), "orders")])
    turn.show("\n".join(lines), InlineKeyboard(rows))


async def cancel_reservation(turn: Turn, data: CallbackData) -> None:
    """Cancel a booking until the store's cutoff; a compare-and-set with an event row."""
    view = await _own(turn, data)
    store = await turn.uow.stores.get(view.store_id)
    if store is None:
        raise StaleButton(data.action)
    cutoff = store.settings.reservation_cancel_cutoff_minutes
    status = turn.t(f"reservation_status.{view.status}")
    if view.status in _CANCELLABLE and not can_cancel(view.starts_at, turn.now, cutoff):
        deadline = _moment_text(turn, cancel_deadline(view.starts_at, cutoff), store.timezone)
        turn.toast(turn.t("booking.cancel_too_late", deadline=deadline), alert=True)
        await show_reservation(turn, view)
        return
    reservation = await turn.uow.reservations.load(view.id)
    assert reservation is not None
    customer = turn.require_customer()
    try:
        change = reservation.cancel(turn.now, f"customer:{customer.id}", "cancelled by customer")
    except InvalidTransition:
        turn.toast(turn.t("booking.cannot_cancel", status=status), alert=True)
        await show_reservation(turn, view)
        return
    if await turn.uow.reservations.record_change(reservation, change):
        turn.toast(turn.t("booking.cancelled_toast"))
    else:
        # The store changed it in the same instant; show what it is now.
        turn.toast(turn.t("orders.changed_meanwhile"), alert=True)
    fresh = await turn.uow.reservations.get(view.id)
    assert fresh is not None
    await show_reservation(turn, fresh)


# --------------------------------------------------------------------------- reminders


def reminder_message(translator: Translator, reminder: DueReminder, store: Store) -> OutboundCall:
    """The reminder a customer gets before the slot, in their language and the store's time."""
    view = reminder.reservation
    locale = reminder.language
    text = translator.t(
        locale,
        "booking.reminder",
        what=Markup(what_text(translator, locale, view)),
        store=store.name,
        when=when_text(translator, locale, view.starts_at, view.duration_minutes, store.timezone),
    )
    return send_message(reminder.chat_id, text)
