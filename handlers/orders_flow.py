"""Order tracking: /orders, a detail view, cancelling before acceptance, ordering again."""

from __future__ import annotations

import html

from domain.cart import Cart
from domain.errors import InvalidTransition, ValidationError
from domain.ports import OrderView
from domain.stores import Store
from handlers import booking_flow, cart_flow, stores_flow
from handlers.callbacks import CallbackData
from handlers.outbound import InlineKeyboard
from handlers.turn import Router, StaleButton, Turn, int_arg
from handlers.views import clock_time, day_and_time, money

RECENT_LIMIT = 10


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.private_commands |= {"orders": orders_command}
    router.callbacks |= {
        "orders": orders_pressed,
        "order": order_pressed,
        "ocancel": cancel_order,
        "again": order_again,
    }


async def orders_command(turn: Turn) -> None:
    """/orders."""
    await show_orders(turn)


async def orders_pressed(turn: Turn, _data: CallbackData) -> None:
    """The order list, in place."""
    await show_orders(turn)


async def show_orders(turn: Turn) -> None:
    """The customer's recent orders, then their recent bookings, with their status."""
    customer = turn.require_customer()
    orders = await turn.uow.orders.recent(customer.id or 0, RECENT_LIMIT)
    bookings = await booking_flow.reservation_rows(turn)
    home = [turn.button(turn.t("button.back"), "home")]
    if not orders and not bookings:
        turn.show(turn.t("orders.none"), InlineKeyboard([home]))
        return
    rows = [
        [
            turn.button(
                f"#{order.number} · {money(order.total)} · {turn.t(f'status.{order.status}')}",
                "order",
                order.id,
            )
        ]
        for order in orders
    ]
    rows += bookings
    rows.append(home)
    title = turn.t("booking.orders_title") if bookings else turn.t("orders.title")
    turn.show(title, InlineKeyboard(rows))


async def _own_order(turn: Turn, data: CallbackData) -> OrderView:
    customer = turn.require_customer()
    order = await turn.uow.orders.get(int_arg(data, 0))
    if order is None or order.customer_id != customer.id:
        raise StaleButton(data.action)
    return order


async def order_pressed(turn: Turn, data: CallbackData) -> None:
    """One order's details."""
    await show_order(turn, await _own_order(turn, data))


def status_line(turn: Turn, order: OrderView, store: Store) -> str:
    """The status with what matters in it: ETA, pickup code, rejection reason."""
    status = turn.t(f"status.{order.status}")
    if order.status == "accepted" and order.ready_by is not None:
        return turn.t(
            "orders.status_eta", status=status, time=clock_time(order.ready_by, store.timezone)
        )
    if order.status == "ready" and order.pickup_code:
        return turn.t("orders.status_code", status=status, code=order.pickup_code)
    if order.status == "rejected" and order.reject_reason:
        reason = turn.t(f"reject.{order.reject_reason}")
        return turn.t("orders.status_reason", status=status, reason=reason)
    return turn.t("orders.status", status=status)


async def show_order(turn: Turn, order: OrderView, notice: str | None = None) -> None:
    """Render an order and the actions still open to the customer."""
    store = await turn.uow.stores.get(order.store_id)
    if store is None:
        raise StaleButton("order")
    lines = [notice] if notice else []
    lines.append(
        turn.t(
            "orders.detail_title",
            number=order.number,
            store=store.name,
            when=day_and_time(turn, order.placed_at, store.timezone),
        )
    )
    lines.append(status_line(turn, order, store))
    lines += [
        f"{line.quantity} × {html.escape(line.name)} — {money(line.unit_price * line.quantity)}"
        for line in order.lines
    ]
    if order.delivery_fee.amount_minor:
        lines.append(turn.t("checkout.delivery_fee", amount=money(order.delivery_fee)))
    lines.append(turn.t("checkout.total", amount=money(order.total)))
    rows = []
    if order.status == "placed":
        rows.append([turn.button(turn.t("button.cancel_order"), "ocancel", order.id)])
    rows.append([turn.button(turn.t("button.order_again"), "again", order.id)])
    rows.append([turn.button(turn.t("button.back"), "orders")])
    turn.show("\n".join(lines), InlineKeyboard(rows))


async def cancel_order(turn: Turn, data: CallbackData) -> None:
    """Cancel an order the store has not accepted yet; its stock goes back on the shelf."""
    view = await _own_order(turn, data)
    order = await turn.uow.orders.load(view.id)
    assert order is not None
    customer = turn.require_customer()
    try:
        change = order.cancel(turn.now, f"customer:{customer.id}", "cancelled by customer")
    except InvalidTransition:
        turn.toast(
            turn.t("orders.cannot_cancel", status=turn.t(f"status.{view.status}")), alert=True
        )
        await show_order(turn, view)
        return
    if not await turn.uow.orders.record_change(order, change):
        # Staff moved it in the same instant; show what it is now.
        turn.toast(turn.t("orders.changed_meanwhile"), alert=True)
    else:
        await turn.uow.orders.release_stock(view.id)
        turn.toast(turn.t("orders.cancelled_toast", number=view.number))
    fresh = await turn.uow.orders.get(view.id)
    assert fresh is not None
    await show_order(turn, fresh)


async def order_again(turn: Turn, data: CallbackData) -> None:
    """Refill the cart with what is still available from a past order."""
    order = await _own_order(turn, data)
    customer = turn.require_customer()
    assert customer.id is not None
    store = await turn.uow.stores.get(order.store_id)
    if store is None:
        raise StaleButton(data.action)
    cart = await turn.uow.carts.get(customer.id)
    if cart is not None and cart.store_id != store.id and not cart.is_empty:
        # Asks before emptying the other store's cart; pressing again afterwards refills.
        await stores_flow.select_store(turn, store, None)
        return
    if cart is None:
        cart = Cart(customer_id=customer.id, store_id=order.store_id)
    cart.move_to(order.store_id)
    if customer.selected_store_id != store.id:
        customer.selected_store_id = store.id
        await turn.uow.customers.save(customer, turn.now)
    ids = [line.product_id for line in order.lines if line.product_id is not None]
    items = await turn.uow.catalog.items(order.store_id, ids)
    skipped = []
    for line in order.lines:
        item = items.get(line.product_id or 0)
        wanted = cart.quantity_of(line.product_id or 0) + line.quantity
        if item is None or not item.can_supply(wanted):
            skipped.append(line.name)
            continue
        try:
            cart.set_quantity(item.product_id, wanted, store.settings.max_line_quantity)
        except ValidationError:
            skipped.append(line.name)
    await turn.uow.carts.save(cart, turn.now)
    notice = turn.t("orders.again_done")
    if skipped:
        notice += "\n" + turn.t("orders.again_skipped", names=", ".join(skipped))
    turn.toast()
    await cart_flow.show_cart(turn, notice)
