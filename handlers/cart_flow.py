"""The cart screen: lines at current prices, -/+ per line, clear, checkout."""

from __future__ import annotations

import html

from domain.money import Money
from handlers.callbacks import CallbackData
from handlers.catalog_flow import cart_at, current_store, set_quantity
from handlers.outbound import Button, InlineKeyboard
from handlers.turn import Router, StaleButton, Turn, int_arg
from handlers.views import money


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.private_commands |= {"cart": cart_command}
    router.callbacks |= {"cart": cart_pressed, "cq": line_quantity, "clear": clear}


async def cart_command(turn: Turn) -> None:
    """/cart."""
    await show_cart(turn)


async def cart_pressed(turn: Turn, _data: CallbackData) -> None:
    """The cart, in place."""
    await show_cart(turn)


async def show_cart(turn: Turn, notice: str | None = None) -> None:
    """Lines with current prices; unavailable lines are flagged, not silently dropped."""
    store = await current_store(turn)
    if store is None:
        return
    assert store.id is not None
    cart = await cart_at(turn, store)
    lines = [notice] if notice else []
    lines.append(turn.t("cart.title", store=store.name))
    if cart.table_label:
        lines.append(turn.t("cart.table", table=cart.table_label))
    if cart.is_empty:
        lines.append(turn.t("cart.empty"))
        keyboard = InlineKeyboard(
            [
                [
                    turn.button(turn.t("button.menu"), "menu"),
                    turn.button(turn.t("button.back"), "home"),
                ]
            ]
        )
        turn.show("\n".join(lines), keyboard)
        return
    items = await turn.uow.catalog.items(store.id, [line.product_id for line in cart.lines])
    subtotal = Money.zero(store.currency)
    rows: list[list[Button]] = []
    for line in cart.lines:
        item = items.get(line.product_id)
        if item is None or not item.can_supply(line.quantity):
            name = item.title(turn.locale) if item else turn.t("cart.removed_product")
            lines.append(turn.t("cart.line_unavailable", quantity=line.quantity, name=name))
        else:
            total = item.price * line.quantity
            subtotal = subtotal + total
            lines.append(
                f"{line.quantity} × {html.escape(item.title(turn.locale))} — {money(total)}"
            )
            name = item.title(turn.locale)
        rows.append(
            [
                turn.button("➖", "cq", line.product_id, -1),
                turn.button(f"{name} ×{line.quantity}", "cq", line.product_id, 0),
                turn.button("➕", "cq", line.product_id, 1),
            ]
        )
    lines.append(turn.t("cart.subtotal", amount=money(subtotal)))
    rows.append(
        [turn.button(turn.t("button.clear"), "clear"), turn.button(turn.t("button.checkout"), "co")]
    )
    rows.append(
        [turn.button(turn.t("button.menu"), "menu"), turn.button(turn.t("button.back"), "home")]
    )
    turn.show("\n".join(lines), InlineKeyboard(rows))


async def line_quantity(turn: Turn, data: CallbackData) -> None:
    """➖ / ➕ on a cart line (the middle button just refreshes)."""
    product_id, delta = int_arg(data, 0), int_arg(data, 1)
    if delta not in (-1, 0, 1):
        raise StaleButton(data.action)
    store = await current_store(turn)
    if store is None:
        return
    cart = await cart_at(turn, store)
    current = cart.quantity_of(product_id)
    if current == 0 and delta != 0:
        raise StaleButton(data.action)
    if delta:
        refusal = await set_quantity(turn, store, cart, product_id, max(0, current + delta))
        if refusal is not None:
            turn.toast(refusal, alert=True)
    await show_cart(turn)


async def clear(turn: Turn, _data: CallbackData) -> None:
    """Empty the cart (the chosen store stays)."""
    store = await current_store(turn)
    if store is None:
        return
    cart = await cart_at(turn, store)
    cart.clear()
    await turn.uow.carts.save(cart, turn.now)
    turn.toast(turn.t("cart.cleared"))
    await show_cart(turn)
