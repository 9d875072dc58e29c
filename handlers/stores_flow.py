"""Choosing a store: the list with opening status, the nearest to a location, deep links."""

from __future__ import annotations

from domain.cart import Cart
from domain.geo import nearest
from domain.schedule import OpeningHours, closes_at, is_open, next_opening
from domain.stores import Store
from handlers.callbacks import CallbackData
from handlers.outbound import InlineKeyboard
from handlers.turn import Router, StaleButton, Turn, int_arg, str_arg
from handlers.views import day_and_time, main_menu

NEAREST_LIMIT = 5
NEAREST_MAX_KM = 50.0


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.private_commands |= {"stores": stores_command}
    router.callbacks |= {"stores": stores_pressed, "store": store_pressed, "store_sw": switch}
    router.location = nearest_stores


def store_status(turn: Turn, store: Store) -> str:
    """'open until 21:00', 'closed, opens Tue 10:00', 'paused' for the store right now."""
    if store.is_paused(turn.now):
        return turn.t("store.paused")
    hours = OpeningHours.parse(store.opening_hours)
    if is_open(hours, turn.now, store.timezone):
        until = closes_at(hours, turn.now, store.timezone)
        if until is None:
            return turn.t("store.open")
        return turn.t("store.open_until", time=day_and_time(turn, until, store.timezone))
    opens = next_opening(hours, turn.now, store.timezone)
    if opens is None:
        return turn.t("store.closed")
    return turn.t("store.closed_opens", time=day_and_time(turn, opens, store.timezone))


def is_taking_orders(turn: Turn, store: Store) -> bool:
    """Open now and not paused."""
    return not store.is_paused(turn.now) and is_open(
        OpeningHours.parse(store.opening_hours), turn.now, store.timezone
    )


def store_card(turn: Turn, store: Store, table: str | None = None) -> str:
    """The chosen store: name, address, status (and the table for scan-to-order)."""
    text = turn.t(
        "store.card", store=store.name, address=store.address, status=store_status(turn, store)
    )
    if table is not None:
        text += "\n" + turn.t("start.table", table=table)
    return text


async def stores_command(turn: Turn) -> None:
    """/stores: the list, and a keyboard to share a location."""
    await show_store_list(turn, new_message=True)


async def stores_pressed(turn: Turn, _data: CallbackData) -> None:
    """The store list, in place."""
    await show_store_list(turn)


async def show_store_list(turn: Turn, *, new_message: bool = False) -> None:
    """Every store with its status; typed requests also get the share-location keyboard."""
    stores = await turn.uow.stores.list_all()
    if not stores:
        turn.show(turn.t("store.none"))
        return
    rows = [
        [turn.button(f"{store.name} · {store_status(turn, store)}", "store", store.id)]
        for store in stores
    ]
    rows.append([turn.button(turn.t("button.back"), "home")])
    text = turn.t("store.list")
    if new_message:
        turn.say(text, InlineKeyboard(rows))
        turn.say(turn.t("store.share_location"), _location_keyboard(turn))
    else:
        turn.show(text, InlineKeyboard(rows))


def _location_keyboard(turn: Turn) -> dict[str, object]:
    return {
        "keyboard": [[{"text": turn.t("button.share_location"), "request_location": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }


async def nearest_stores(turn: Turn) -> None:
    """A shared location outside checkout: the nearest stores that take orders, with distance."""
    latitude, longitude = turn.inbound.latitude, turn.inbound.longitude
    assert latitude is not None
    assert longitude is not None
    stores = await turn.uow.stores.list_all()
    ranked = nearest(
        ((store, store.latitude, store.longitude) for store in stores),
        latitude,
        longitude,
        limit=len(stores),
    )
    open_nearby = [
        (store, km)
        for store, km in ranked
        if km <= NEAREST_MAX_KM and is_taking_orders(turn, store)
    ][:NEAREST_LIMIT]
    removal = {"remove_keyboard": True}
    if not open_nearby:
        if ranked:
            store, km = ranked[0]
            turn.say(turn.t("store.none_near", store=store.name, km=f"{km:.1f}"), removal)
        else:
            turn.say(turn.t("store.none"), removal)
        await show_store_list(turn)
        return
    rows = [
        [turn.button(f"{store.name} · {km:.1f} km", "store", store.id)] for store, km in open_nearby
    ]
    turn.say(turn.t("store.nearest_found"), removal)
    turn.say(turn.t("store.nearest"), InlineKeyboard(rows))


async def store_pressed(turn: Turn, data: CallbackData) -> None:
    """A store chosen from a list."""
    store = await turn.uow.stores.get(int_arg(data, 0))
    if store is None:
        raise StaleButton(data.action)
    await select_store(turn, store, None)


async def switch(turn: Turn, data: CallbackData) -> None:
    """Confirmed: empty the cart at the old store and choose the new one."""
    store = await turn.uow.stores.get(int_arg(data, 0))
    table = str_arg(data, 1)
    if store is None:
        raise StaleButton(data.action)
    await select_store(turn, store, table if table != "-" else None, confirmed=True)


async def select_store(
    turn: Turn,
    store: Store,
    table: str | None,
    *,
    greeting: str | None = None,
    confirmed: bool = False,
) -> None:
    """Make `store` the customer's store; a cart at another store is only emptied on consent."""
    customer = turn.require_customer()
    assert customer.id is not None
    assert store.id is not None
    cart = await turn.uow.carts.get(customer.id)
    if cart is not None and cart.store_id != store.id and not cart.is_empty and not confirmed:
        old = await turn.uow.stores.get(cart.store_id)
        text = turn.t(
            "store.switch_confirm",
            old=old.name if old else "?",
            new=store.name,
            count=cart.item_count,
        )
        keyboard = InlineKeyboard(
            [
                [turn.button(turn.t("button.switch_store"), "store_sw", store.id, table or "-")],
                [turn.button(turn.t("button.keep_cart"), "home")],
            ]
        )
        turn.show((greeting + "\n\n" if greeting else "") + text, keyboard)
        return
    notes: list[str] = []
    if table is not None:
        known = await turn.uow.stores.table_labels(store.id)
        if known and table not in known:
            notes.append(turn.t("store.unknown_table", table=table))
            table = None
    if cart is None:
        cart = Cart(customer_id=customer.id, store_id=store.id)
    cart.move_to(store.id)
    if table is not None:
        cart.seat_at(table)
    await turn.uow.carts.save(cart, turn.now)
    customer.selected_store_id = store.id
    await turn.uow.customers.save(customer, turn.now)
    await turn.clear_state()
    parts = [greeting] if greeting else []
    parts.append(store_card(turn, store, table))
    parts += notes
    if not is_taking_orders(turn, store):
        parts.append(turn.t("store.browse_while_closed"))
    parts.append(turn.t("store.what_next"))
    turn.toast()
    turn.show("\n\n".join(parts), main_menu(turn, store, cart))
