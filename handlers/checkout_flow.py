"""Checkout: fulfilment, time or address or table, phone, comment, summary, idempotent placement."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.cart import Cart
from domain.catalog import localized
from domain.checkout import (
    COMMENT_MAX_LENGTH,
    BelowMinimumOrder,
    ItemsUnavailable,
    NewOrder,
    Quote,
    clean_address,
    clean_comment,
    clean_table,
    price_cart,
)
from domain.errors import ValidationError
from domain.geo import haversine_km
from domain.money import Money
from domain.ports import OrderView, PaymentRecord
from domain.schedule import OpeningHours, pickup_slots
from domain.stores import Store
from handlers import cart_flow, push_flow, staff_flow
from handlers.callbacks import CallbackData
from handlers.catalog_flow import cart_at, current_store
from handlers.contact import CONTACT_REFUSALS, ask_phone, read_phone
from handlers.inbound import InboundKind
from handlers.outbound import InlineKeyboard, OutboundCall, send_message
from handlers.stores_flow import is_taking_orders, store_status
from handlers.turn import Router, StaleButton, Turn, int_arg, str_arg
from handlers.views import clock_time, epoch_minutes, from_epoch_minutes, money

CHECKOUT = "checkout"
ASAP = 0
SLOTS_SHOWN = 6
_FULFILMENT_ICONS = {"pickup": "🥡", "delivery": "🛵", "dine_in": "🍽"}
# What each step expects, said again when the customer sends something else.
_STEP_HINTS = {
    "fulfilment": "checkout.expected_button",
    "slot": "checkout.expected_button",
    "summary": "checkout.expected_button",
    "address": "checkout.ask_address_again",
    "table": "checkout.ask_table",
    "phone": "checkout.ask_phone",
    "comment": "checkout.ask_comment",
}
_INVALID = CONTACT_REFUSALS | {
    ("comment", "empty"): "checkout.ask_comment",
    ("address", "too_short"): "checkout.address_too_short",
    ("address", "too_long"): "checkout.address_too_long",
    ("table", "invalid"): "checkout.table_invalid",
    ("table", "unknown"): "checkout.table_unknown",
}


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.callbacks |= {
        "co": start,
        "ful": fulfilment_chosen,
        "slot": slot_chosen,
        "skip": comment_skipped,
        "place": place,
        "pay": pay,
        "co_x": cancel,
    }
    router.states |= {CHECKOUT: typed}
    router.pre_checkout = pre_checkout
    router.payment = payment_received


async def _checkout_state(turn: Turn) -> dict[str, Any] | None:
    state = await turn.state()
    return dict(state.data) if state is not None and state.state == CHECKOUT else None


async def _quote(turn: Turn, store: Store, cart: Cart, fulfilment: str | None) -> Quote | None:
    """Price the cart now; on a problem, say what it is and show the cart or the choice again."""
    assert store.id is not None
    items = await turn.uow.catalog.items(store.id, [line.product_id for line in cart.lines])
    try:
        return price_cart(cart, items, store.settings, fulfilment, store.currency)
    except ItemsUnavailable as exc:
        names = ", ".join(
            items[pid].title(turn.locale) if pid in items else turn.t("cart.removed_product")
            for pid in exc.product_ids
        )
        await turn.clear_state()
        turn.toast()
        await cart_flow.show_cart(turn, turn.t("checkout.unavailable", names=names))
        return None
    except BelowMinimumOrder as exc:
        turn.toast()
        turn.say(
            turn.t(
                "checkout.below_minimum",
                minimum=money(exc.minimum),
                missing=money(exc.minimum - exc.subtotal),
            )
        )
        return None


def _closed_message(turn: Turn, store: Store) -> str:
    return turn.t("checkout.closed", store=store.name, status=store_status(turn, store))


async def start(turn: Turn, _data: CallbackData) -> None:
    """✅ Checkout: check the store takes orders and the cart can be supplied, then ask."""
    store = await current_store(turn)
    if store is None:
        return
    cart = await cart_at(turn, store)
    if cart.is_empty:
        await cart_flow.show_cart(turn)
        return
    if not is_taking_orders(turn, store):
        turn.toast()
        turn.say(_closed_message(turn, store))
        return
    if await _quote(turn, store, cart, None) is None:
        return
    data: dict[str, Any] = {"cart_version": cart.version}
    if cart.fulfilment == "dine_in" and cart.table_label:
        data |= {"fulfilment": "dine_in", "table": cart.table_label}
        await _ask_phone(turn, data)
        return
    offered = store.settings.fulfilment
    if len(offered) == 1:
        await _choose_fulfilment(turn, store, cart, offered[0], data)
        return
    await turn.set_state(CHECKOUT, data | {"step": "fulfilment"})
    buttons = [
        turn.button(f"{_FULFILMENT_ICONS[kind]} {turn.t(f'fulfilment.{kind}')}", "ful", kind)
        for kind in offered
    ]
    turn.show(
        turn.t("checkout.choose_fulfilment"),
        InlineKeyboard([buttons, [turn.button(turn.t("button.cancel"), "co_x")]]),
    )


async def fulfilment_chosen(turn: Turn, data: CallbackData) -> None:
    """Pickup, delivery or dine-in chosen."""
    kind = str_arg(data, 0)
    state = await _checkout_state(turn)
    store = await current_store(turn)
    if state is None or store is None or kind not in store.settings.fulfilment:
        raise StaleButton(data.action)
    cart = await cart_at(turn, store)
    await _choose_fulfilment(turn, store, cart, kind, state)


async def _choose_fulfilment(
    turn: Turn, store: Store, cart: Cart, kind: str, state: dict[str, Any]
) -> None:
    if await _quote(turn, store, cart, kind) is None:
        return
    state = state | {"fulfilment": kind}
    if kind == "pickup":
        await _ask_slot(turn, store, state)
    elif kind == "delivery":
        await turn.set_state(CHECKOUT, state | {"step": "address"})
        turn.toast()
        turn.say(
            turn.t(
                "checkout.ask_address",
                radius=f"{store.settings.delivery_radius_km:g}",
                fee=money(_fee(store)),
            ),
            {
                "keyboard": [[{"text": turn.t("button.share_location"), "request_location": True}]],
                "resize_keyboard": True,
                "one_time_keyboard": True,
            },
        )
    elif cart.table_label:
        await _ask_phone(turn, state | {"table": cart.table_label})
    else:
        await turn.set_state(CHECKOUT, state | {"step": "table"})
        turn.toast()
        turn.say(turn.t("checkout.ask_table"))


def _fee(store: Store) -> Money:
    return Money(store.settings.delivery_fee_minor, store.currency)


async def _available_slots(turn: Turn, store: Store) -> list[datetime]:
    assert store.id is not None
    settings = store.settings
    candidates = pickup_slots(
        OpeningHours.parse(store.opening_hours),
        store.timezone,
        turn.now,
        prep_minutes=settings.prep_minutes,
        slot_minutes=settings.slot_minutes,
        limit=SLOTS_SHOWN * 2,
    )
    load = await turn.uow.orders.slot_load(store.id, candidates)
    return [slot for slot in candidates if load.get(slot, 0) < settings.slot_capacity][:SLOTS_SHOWN]


async def _ask_slot(turn: Turn, store: Store, state: dict[str, Any]) -> None:
    slots = await _available_slots(turn, store)
    await turn.set_state(CHECKOUT, state | {"step": "slot"})
    asap = turn.t("checkout.asap", minutes=store.settings.prep_minutes)
    rows = [[turn.button(asap, "slot", ASAP)]]
    buttons = [
        turn.button(clock_time(slot, store.timezone), "slot", epoch_minutes(slot)) for slot in slots
    ]
    rows += [buttons[index : index + 3] for index in range(0, len(buttons), 3)]
    rows.append([turn.button(turn.t("button.cancel"), "co_x")])
    turn.show(turn.t("checkout.ask_slot"), InlineKeyboard(rows))


async def slot_chosen(turn: Turn, data: CallbackData) -> None:
    """A pickup time chosen; a slot that filled up meanwhile is refused with fresh choices."""
    chosen = int_arg(data, 0)
    state = await _checkout_state(turn)
    store = await current_store(turn)
    if state is None or store is None or state.get("step") != "slot":
        raise StaleButton(data.action)
    if chosen != ASAP:
        slots = await _available_slots(turn, store)
        if from_epoch_minutes(chosen) not in slots:
            turn.toast(turn.t("checkout.slot_taken"), alert=True)
            await _ask_slot(turn, store, state)
            return
    await _ask_phone(turn, state | {"slot": chosen})


async def _ask_phone(turn: Turn, state: dict[str, Any]) -> None:
    await turn.set_state(CHECKOUT, state | {"step": "phone"})
    ask_phone(turn)


async def typed(turn: Turn) -> None:
    """Text, a contact or a location during checkout, read according to the current step."""
    state = await _checkout_state(turn)
    store = await current_store(turn)
    if state is None or store is None:
        return
    step = state.get("step")
    kind = turn.inbound.kind
    text = turn.inbound.text or ""
    try:
        if step == "address" and kind is InboundKind.LOCATION:
            await _delivery_location(turn, store, state)
        elif step == "address" and kind is InboundKind.TEXT:
            address = clean_address(text)
            turn.say(turn.t("checkout.address_noted"), {"remove_keyboard": True})
            await _ask_phone(turn, state | {"address": address})
        elif step == "table" and kind is InboundKind.TEXT:
            assert store.id is not None
            table = clean_table(text, await turn.uow.stores.table_labels(store.id))
            await _ask_phone(turn, state | {"table": table})
        elif step == "phone" and kind in (InboundKind.CONTACT, InboundKind.TEXT):
            await _phone(turn, state)
        elif step == "comment" and kind is InboundKind.TEXT:
            await _summary(turn, store, state | {"comment": clean_comment(text)})
        else:
            turn.say(turn.t(_STEP_HINTS.get(str(step), "error.not_expected")))
    except ValidationError as exc:
        key = _INVALID.get((exc.field, exc.reason), "error.not_expected")
        # The note step keeps its Skip button on the refusal, so skipping stays one tap away.
        keyboard = _skip_keyboard(turn) if step == "comment" else None
        turn.say(turn.t(key, limit=COMMENT_MAX_LENGTH, length=len(text)), keyboard)


async def _delivery_location(turn: Turn, store: Store, state: dict[str, Any]) -> None:
    latitude, longitude = turn.inbound.latitude, turn.inbound.longitude
    assert latitude is not None
    assert longitude is not None
    if store.latitude is not None and store.longitude is not None:
        km = haversine_km(store.latitude, store.longitude, latitude, longitude)
        if km > store.settings.delivery_radius_km:
            turn.say(
                turn.t(
                    "checkout.too_far",
                    km=f"{km:.1f}",
                    radius=f"{store.settings.delivery_radius_km:g}",
                )
            )
            return
    turn.say(turn.t("checkout.location_noted"), {"remove_keyboard": True})
    await _ask_phone(
        turn,
        state | {"address": turn.t("checkout.shared_location"), "lat": latitude, "lon": longitude},
    )


async def _phone(turn: Turn, state: dict[str, Any]) -> None:
    phone = await read_phone(turn)
    if phone is not None:
        await _ask_comment(turn, state | {"phone": phone})


async def _ask_comment(turn: Turn, state: dict[str, Any]) -> None:
    await turn.set_state(CHECKOUT, state | {"step": "comment"})
    turn.toast()
    turn.say(turn.t("checkout.ask_comment"), _skip_keyboard(turn))


def _skip_keyboard(turn: Turn) -> InlineKeyboard:
    return InlineKeyboard([[turn.button(turn.t("button.skip"), "skip")]])


async def comment_skipped(turn: Turn, data: CallbackData) -> None:
    """No comment."""
    state = await _checkout_state(turn)
    store = await current_store(turn)
    if state is None or store is None or state.get("step") != "comment":
        raise StaleButton(data.action)
    await _summary(turn, store, state | {"comment": None})


async def _summary(turn: Turn, store: Store, state: dict[str, Any]) -> None:
    cart = await cart_at(turn, store)
    quote = await _quote(turn, store, cart, state.get("fulfilment"))
    if quote is None:
        return
    await turn.set_state(CHECKOUT, state | {"step": "summary", "total": quote.total.amount_minor})
    text = _summary_text(turn, store, state, quote)
    keyboard = InlineKeyboard(
        [
            [
                turn.button(
                    turn.t("button.pay", amount=money(quote.total)),
                    "pay",
                    cart.id or 0,
                    cart.version,
                )
                if turn.config.payments
                else turn.button(turn.t("button.place_order"), "place", cart.id or 0, cart.version)
            ],
            [turn.button(turn.t("button.cancel"), "co_x")],
        ]
    )
    turn.toast()
    turn.show(text, keyboard)


def _summary_text(turn: Turn, store: Store, state: dict[str, Any], quote: Quote) -> str:
    lines = [turn.t("checkout.summary_title", store=store.name)]
    for line in quote.lines:
        name = localized(line.name, line.names, turn.locale)
        lines.append(f"{line.quantity} × {html.escape(name)} — {money(line.total)}")
    lines.append(turn.t("checkout.subtotal", amount=money(quote.subtotal)))
    if quote.delivery_fee.amount_minor:
        lines.append(turn.t("checkout.delivery_fee", amount=money(quote.delivery_fee)))
    lines.append(turn.t("checkout.total", amount=money(quote.total)))
    lines.append("")
    lines.append(_fulfilment_line(turn, store, state))
    lines.append(turn.t("checkout.phone_line", phone=state.get("phone", "")))
    if state.get("comment"):
        lines.append(turn.t("checkout.comment_line", comment=state["comment"]))
    lines.append(
        turn.t("checkout.pay_in_telegram" if turn.config.payments else "checkout.pay_at_store")
    )
    return "\n".join(lines)


def _fulfilment_line(turn: Turn, store: Store, state: dict[str, Any]) -> str:
    kind = state.get("fulfilment")
    if kind == "pickup":
        slot = int(state.get("slot", ASAP))
        when = (
            turn.t("checkout.asap", minutes=store.settings.prep_minutes)
            if slot == ASAP
            else clock_time(from_epoch_minutes(slot), store.timezone)
        )
        return turn.t("checkout.pickup_line", when=when)
    if kind == "delivery":
        return turn.t("checkout.delivery_line", address=state.get("address", ""))
    return turn.t("checkout.dine_in_line", table=state.get("table", ""))


@dataclass(frozen=True, slots=True)
class _Ready:
    """A checkout that passed every check and can become an order now."""

    store: Store
    cart: Cart
    state: dict[str, Any]
    quote: Quote


async def _ready_to_place(turn: Turn, data: CallbackData) -> _Ready | None:
    """The checks shared by ✅ Place order and 💳 Pay; None after telling the customer why not."""
    cart_id, version = int_arg(data, 0), int_arg(data, 1)
    existing = await turn.uow.orders.find_by_key(f"cart:{cart_id}:v{version}")
    if existing is not None:
        turn.toast(turn.t("checkout.already_placed", number=existing.number))
        return None
    state = await _checkout_state(turn)
    store = await current_store(turn)
    if state is None or store is None or state.get("step") != "summary":
        raise StaleButton(data.action)
    cart = await cart_at(turn, store)
    if cart.id != cart_id or cart.version != version:
        turn.toast(turn.t("checkout.cart_changed"), alert=True)
        await _summary(turn, store, state)
        return None
    if not is_taking_orders(turn, store):
        turn.toast()
        turn.say(_closed_message(turn, store))
        return None
    quote = await _quote(turn, store, cart, state.get("fulfilment"))
    if quote is None:
        return None
    if quote.total.amount_minor != state.get("total"):
        turn.toast(turn.t("checkout.prices_changed"), alert=True)
        await _summary(turn, store, state)
        return None
    return _Ready(store, cart, state, quote)


def _new_order(turn: Turn, ready: _Ready, charge_id: str | None = None) -> NewOrder:
    customer = turn.require_customer()
    assert customer.id is not None
    assert ready.store.id is not None
    state = ready.state
    slot = int(state.get("slot", ASAP))
    return NewOrder(
        idempotency_key=ready.cart.idempotency_key(),
        store_id=ready.store.id,
        customer_id=customer.id,
        fulfilment=str(state["fulfilment"]),
        quote=ready.quote,
        placed_at=turn.now,
        slot_start=from_epoch_minutes(slot) if slot != ASAP else None,
        table_label=state.get("table"),
        delivery_address=state.get("address"),
        delivery_latitude=state.get("lat"),
        delivery_longitude=state.get("lon"),
        contact_phone=state.get("phone"),
        comment=state.get("comment"),
        payment_method="telegram" if charge_id else "at_store",
        telegram_payment_charge_id=charge_id,
    )


async def _unavailable_names(turn: Turn, store: Store, exc: ItemsUnavailable) -> str:
    assert store.id is not None
    items = await turn.uow.catalog.items(store.id, list(exc.product_ids))
    return ", ".join(items[p].title(turn.locale) for p in exc.product_ids if p in items)


async def _placed(turn: Turn, ready: _Ready, order: OrderView) -> None:
    """The cart is emptied and the customer sees the confirmed order."""
    ready.cart.clear()
    await turn.uow.carts.save(ready.cart, turn.now)
    await turn.clear_state()
    card = staff_flow.new_order_card(turn, order, ready.store)
    if card is not None:
        turn.replies.append(card)
    turn.toast(turn.t("checkout.placed_toast", number=order.number))
    placed = turn.t("checkout.placed", number=order.number)
    rows = [[turn.button(turn.t("button.orders"), "orders")]]
    question = await push_flow.consent_question(turn)
    if question is not None:
        placed += "\n\n" + question[0]
        rows.insert(0, question[1])
    keyboard = InlineKeyboard(rows)
    if turn.is_press:
        # The summary message becomes the receipt.
        summary = _summary_text(turn, ready.store, ready.state, ready.quote)
        turn.show(summary + "\n\n" + placed, keyboard)
    else:
        paid = turn.t("checkout.paid", amount=money(ready.quote.total))
        turn.say(paid + "\n" + placed, keyboard)


async def place(turn: Turn, data: CallbackData) -> None:
    """✅ Place order: exactly one order per cart version, stock reserved atomically."""
    ready = await _ready_to_place(turn, data)
    if ready is None:
        return
    try:
        order = await turn.uow.orders.place(_new_order(turn, ready))
    except ItemsUnavailable as exc:
        names = await _unavailable_names(turn, ready.store, exc)
        await turn.clear_state()
        turn.toast()
        await cart_flow.show_cart(turn, turn.t("checkout.sold_out_meanwhile", names=names))
        return
    await _placed(turn, ready, order)


async def pay(turn: Turn, data: CallbackData) -> None:
    """💳 Pay: send a Telegram invoice for the cart as it is; the order is placed once paid."""
    if not turn.config.payments:
        raise StaleButton(data.action)
    ready = await _ready_to_place(turn, data)
    if ready is None:
        return
    prices = [
        {"label": f"{line.name} ×{line.quantity}"[:32], "amount": line.total.amount_minor}
        for line in ready.quote.lines
    ]
    if ready.quote.delivery_fee.amount_minor:
        prices.append(
            {
                "label": turn.t("fulfilment.delivery"),
                "amount": ready.quote.delivery_fee.amount_minor,
            }
        )
    turn.toast()
    turn.replies.append(
        OutboundCall(
            "sendInvoice",
            {
                "chat_id": turn.chat_id,
                "title": turn.t("checkout.invoice_title", store=ready.store.name)[:32],
                "description": _fulfilment_line(turn, ready.store, ready.state)[:255],
                "payload": _payload(ready.cart),
                "currency": ready.quote.total.currency,
                "prices": prices,
            },
            turn.chat_id,
        )
    )


def _payload(cart: Cart) -> str:
    return f"o2o|{cart.id}|{cart.version}"


async def _payable(turn: Turn, payload: str, total: int | None, currency: str | None) -> str | None:
    """Why an invoice for `payload` can no longer be paid (a catalog key), or None if it can."""
    store = await turn.uow.stores.get(turn.require_customer().selected_store_id or 0)
    state = await _checkout_state(turn)
    if store is None or state is None or state.get("step") != "summary":
        return "checkout.pay_cart_changed"
    cart = await cart_at(turn, store)
    if payload != _payload(cart):
        return "checkout.pay_cart_changed"
    if not is_taking_orders(turn, store):
        return "checkout.pay_closed"
    assert store.id is not None
    items = await turn.uow.catalog.items(store.id, [line.product_id for line in cart.lines])
    try:
        quote = price_cart(cart, items, store.settings, state.get("fulfilment"), store.currency)
    except (ItemsUnavailable, BelowMinimumOrder):
        return "checkout.pay_unavailable"
    if quote.total.amount_minor != total or quote.total.currency != currency:
        return "checkout.pay_cart_changed"
    return None


async def pre_checkout(turn: Turn) -> None:
    """Telegram asks whether to take the money: re-check cart, stock, price and opening."""
    inbound = turn.inbound
    assert inbound.callback_id is not None
    problem = await _payable(turn, inbound.payload or "", inbound.total_amount, inbound.currency)
    params: dict[str, Any] = {"pre_checkout_query_id": inbound.callback_id, "ok": problem is None}
    if problem is not None:
        params["error_message"] = turn.t(problem)
    # Unthrottled (no chat) so it goes out at once: Telegram waits only about ten seconds.
    turn.replies.append(OutboundCall("answerPreCheckoutQuery", params, None))


async def payment_received(turn: Turn) -> None:
    """Money arrived: place the order once per charge, or record that a refund is due."""
    inbound = turn.inbound
    customer = turn.require_customer()
    assert inbound.charge_id is not None
    assert customer.id is not None
    if await turn.uow.payments.seen(inbound.charge_id):
        return  # a redelivered successful_payment changes nothing
    total = Money(inbound.total_amount or 0, inbound.currency or "XXX")
    store = await turn.uow.stores.get(customer.selected_store_id or 0)
    problem = await _payable(turn, inbound.payload or "", inbound.total_amount, inbound.currency)
    order: OrderView | None = None
    if problem is None and store is not None:
        cart = await cart_at(turn, store)
        state = await _checkout_state(turn) or {}
        items = await turn.uow.catalog.items(store.id or 0, [ln.product_id for ln in cart.lines])
        quote = price_cart(cart, items, store.settings, state.get("fulfilment"), store.currency)
        ready = _Ready(store, cart, state, quote)
        try:
            order = await turn.uow.orders.place(_new_order(turn, ready, inbound.charge_id))
        except ItemsUnavailable:
            problem = "checkout.pay_unavailable"
        else:
            await _placed(turn, ready, order)
    await turn.uow.payments.record(
        PaymentRecord(
            charge_id=inbound.charge_id,
            provider_charge_id=inbound.provider_charge_id,
            customer_id=customer.id,
            store_id=store.id if store else None,
            order_id=order.id if order else None,
            payload=inbound.payload or "",
            total=total,
            status="applied" if order else "refund_due",
            at=turn.now,
            note=problem,
        )
    )
    if order is None:
        await turn.clear_state()
        turn.say(
            turn.t(
                "checkout.refund_due",
                amount=money(total),
                reason=turn.t(problem or "checkout.pay_cart_changed"),
            )
        )
        _alert_refund(turn, store, total, inbound.charge_id)


def _alert_refund(turn: Turn, store: Store | None, total: Money, charge_id: str) -> None:
    """Tell the store's staff group and the bot's admins to refund a charge."""
    chats = set(turn.config.admin_ids)
    if store is not None and store.staff_chat_id is not None:
        chats.add(store.staff_chat_id)
    text = turn.translator.t(
        turn.config.default_locale,
        "staff.refund_due",
        amount=money(total),
        charge=charge_id,
        store=store.name if store else "?",
    )
    turn.replies += [send_message(chat, text) for chat in sorted(chats)]


async def cancel(turn: Turn, _data: CallbackData) -> None:
    """Leave checkout; the cart stays as it was."""
    await turn.clear_state()
    turn.toast(turn.t("checkout.cancelled"))
    await cart_flow.show_cart(turn)
