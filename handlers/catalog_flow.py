"""Browsing the chosen store's catalog: categories, product pages, details, search."""

from __future__ import annotations

import html

from domain.cart import Cart
from domain.catalog import CatalogItem
from domain.errors import ValidationError
from domain.stores import Store
from handlers import stores_flow
from handlers.callbacks import CallbackData
from handlers.inbound import InboundKind
from handlers.outbound import Button, InlineKeyboard
from handlers.turn import Router, StaleButton, Turn, int_arg
from handlers.views import money

PAGE_SIZE = 6
SEARCH_LIMIT = 10
SEARCH_MAX_LENGTH = 100
BROWSING = "browsing"
PRODUCT = "product"


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.private_commands |= {"menu": menu_command, "search": search_command}
    router.callbacks |= {"menu": menu_pressed, "cat": category, "prod": product, "qty": quantity}
    router.states |= {BROWSING: browsing_text, PRODUCT: product_text}


async def current_store(turn: Turn) -> Store | None:
    """The customer's chosen store; without one, the store list is shown instead."""
    customer = turn.require_customer()
    store = await turn.uow.stores.get(customer.selected_store_id or 0)
    if store is None:
        turn.toast()
        await stores_flow.show_store_list(turn, new_message=not turn.is_press)
    return store


async def cart_at(turn: Turn, store: Store) -> Cart:
    """The customer's cart, at this store (an empty cart follows the customer's store choice)."""
    customer = turn.require_customer()
    assert customer.id is not None
    assert store.id is not None
    cart = await turn.uow.carts.get(customer.id)
    if cart is None:
        return Cart(customer_id=customer.id, store_id=store.id)
    if cart.store_id != store.id and cart.is_empty:
        cart.move_to(store.id)
    return cart


async def menu_command(turn: Turn) -> None:
    """/menu: the categories of the chosen store."""
    await show_categories(turn)


async def menu_pressed(turn: Turn, _data: CallbackData) -> None:
    """The categories, in place."""
    await show_categories(turn)


async def show_categories(turn: Turn) -> None:
    """Categories as buttons, with the search hint; typed text now searches."""
    store = await current_store(turn)
    if store is None:
        return
    assert store.id is not None
    categories = await turn.uow.catalog.categories(store.id)
    if not categories:
        turn.show(turn.t("catalog.empty", store=store.name))
        return
    buttons = [
        turn.button(category.title(turn.locale), "cat", category.id, 0) for category in categories
    ]
    rows = [buttons[index : index + 2] for index in range(0, len(buttons), 2)]
    rows.append(
        [turn.button(turn.t("button.cart"), "cart"), turn.button(turn.t("button.back"), "home")]
    )
    await turn.set_state(BROWSING)
    turn.show(turn.t("catalog.categories", store=store.name), InlineKeyboard(rows))


def _label(turn: Turn, item: CatalogItem) -> str:
    if item.sold_out:
        return turn.t("catalog.item_sold_out", name=item.title(turn.locale))
    return f"{item.title(turn.locale)} · {money(item.price)}"


async def category(turn: Turn, data: CallbackData) -> None:
    """One page of a category's products."""
    category_id, page = int_arg(data, 0), max(0, int_arg(data, 1))
    store = await current_store(turn)
    if store is None:
        return
    assert store.id is not None
    items, total = await turn.uow.catalog.page(store.id, category_id, page * PAGE_SIZE, PAGE_SIZE)
    if total == 0:
        raise StaleButton(data.action)
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    if page >= pages:
        page = pages - 1
        items, _ = await turn.uow.catalog.page(store.id, category_id, page * PAGE_SIZE, PAGE_SIZE)
    rows = [
        [turn.button(_label(turn, item), "prod", item.product_id, category_id, page)]
        for item in items
    ]
    if pages > 1:
        nav: list[Button] = []
        if page > 0:
            nav.append(turn.button("◀", "cat", category_id, page - 1))
        nav.append(turn.button(f"{page + 1}/{pages}", "cat", category_id, page))
        if page < pages - 1:
            nav.append(turn.button("▶", "cat", category_id, page + 1))
        rows.append(nav)
    rows.append(
        [
            turn.button(turn.t("button.categories"), "menu"),
            turn.button(turn.t("button.cart"), "cart"),
        ]
    )
    await turn.set_state(BROWSING)
    turn.show(turn.t("catalog.page"), InlineKeyboard(rows))


async def product(turn: Turn, data: CallbackData) -> None:
    """A product's details with its quantity in the cart and -/+ buttons."""
    product_id, category_id, page = int_arg(data, 0), int_arg(data, 1), int_arg(data, 2)
    store = await current_store(turn)
    if store is None:
        return
    await show_product(turn, store, product_id, category_id, page)


async def show_product(
    turn: Turn, store: Store, product_id: int, category_id: int, page: int
) -> None:
    """Render one product; a product no longer sold here is a stale button."""
    assert store.id is not None
    item = (await turn.uow.catalog.items(store.id, [product_id])).get(product_id)
    if item is None:
        turn.toast(turn.t("catalog.gone"), alert=True)
        return
    cart = await cart_at(turn, store)
    in_cart = cart.quantity_of(product_id)
    lines = []
    if item.photo:
        # An invisible link makes Telegram show the photo as the message preview.
        lines.append(f'<a href="{html.escape(item.photo, quote=True)}">\u200b</a>')
    lines.append(f"<b>{html.escape(item.title(turn.locale))}</b> · {money(item.price)}")
    if item.describe(turn.locale):
        lines.append(html.escape(item.describe(turn.locale)))
    if item.sold_out:
        lines.append(turn.t("catalog.sold_out"))
    elif item.stock is not None and item.stock <= 5:
        lines.append(turn.t("catalog.few_left", count=item.stock))
    lines.append(turn.t("catalog.in_cart", count=in_cart))
    if not item.sold_out:
        lines.append(turn.t("catalog.type_quantity"))
    rows: list[list[Button]] = []
    if not item.sold_out or in_cart:
        rows.append(
            [
                turn.button("➖", "qty", product_id, -1, category_id, page),
                turn.button(turn.t("button.cart_count", count=in_cart), "cart"),
                turn.button("➕", "qty", product_id, 1, category_id, page),
            ]
        )
    back = ("cat", category_id, page) if category_id else ("menu",)
    rows.append([turn.button(turn.t("button.back"), *back)])
    await turn.set_state(PRODUCT, {"product_id": product_id, "cat": category_id, "page": page})
    turn.show("\n".join(lines), InlineKeyboard(rows))


async def quantity(turn: Turn, data: CallbackData) -> None:
    """➖ / ➕ on a product: change its quantity in the cart, bounded by policy and stock."""
    product_id, delta = int_arg(data, 0), int_arg(data, 1)
    category_id, page = int_arg(data, 2), int_arg(data, 3)
    if delta not in (-1, 1):
        raise StaleButton(data.action)
    store = await current_store(turn)
    if store is None:
        return
    cart = await cart_at(turn, store)
    if cart.store_id != store.id:
        await stores_flow.select_store(turn, store, None)
        return
    wanted = max(0, cart.quantity_of(product_id) + delta)
    refusal = await set_quantity(turn, store, cart, product_id, wanted)
    if refusal is None:
        turn.toast(turn.t("cart.updated", count=wanted))
    else:
        turn.toast(refusal, alert=True)
    await show_product(turn, store, product_id, category_id, page)


async def set_quantity(
    turn: Turn, store: Store, cart: Cart, product_id: int, wanted: int
) -> str | None:
    """Set a cart line's quantity if allowed; otherwise return why not (nothing changes)."""
    assert store.id is not None
    item = (await turn.uow.catalog.items(store.id, [product_id])).get(product_id)
    increasing = wanted > cart.quantity_of(product_id)
    if item is None:
        return turn.t("catalog.gone")
    if increasing and item.sold_out:
        return turn.t("catalog.sold_out")
    if increasing and item.stock is not None and wanted > item.stock:
        return turn.t("catalog.only_left", count=item.stock)
    try:
        cart.set_quantity(product_id, wanted, store.settings.max_line_quantity)
    except ValidationError:
        return turn.t("cart.too_many", count=store.settings.max_line_quantity)
    await turn.uow.carts.save(cart, turn.now)
    return None


async def product_text(turn: Turn) -> None:
    """While viewing a product: a number sets its quantity, other text searches."""
    text = (turn.inbound.text or "").strip()
    state = await turn.state()
    if turn.inbound.kind is not InboundKind.TEXT or state is None:
        turn.say(turn.t("error.not_expected"))
        return
    # isdecimal, not isdigit: "²" is a digit that int() refuses; "３" and "٣" are decimals.
    if not text.isdecimal():
        await search(turn, text)
        return
    store = await current_store(turn)
    if store is None:
        return
    product_id = int(state.data.get("product_id", 0))
    # Decimal digits only, so int() cannot fail; a huge number is simply over the limit.
    wanted = int(text) if len(text) <= 6 else 10**9
    cart = await cart_at(turn, store)
    refusal = await set_quantity(turn, store, cart, product_id, wanted)
    turn.say(refusal or turn.t("cart.updated", count=wanted))
    await show_product(
        turn, store, product_id, int(state.data.get("cat", 0)), int(state.data.get("page", 0))
    )


async def browsing_text(turn: Turn) -> None:
    """Text typed while browsing searches the catalog."""
    if turn.inbound.kind is not InboundKind.TEXT:
        turn.say(turn.t("error.not_expected"))
        return
    await search(turn, (turn.inbound.text or "").strip())


async def search_command(turn: Turn) -> None:
    """/search milk tea."""
    query = turn.inbound.args.strip()
    if not query:
        await turn.set_state(BROWSING)
        turn.say(turn.t("catalog.search_prompt"))
        return
    await search(turn, query)


async def search(turn: Turn, query: str) -> None:
    """Products at the chosen store matching every word of `query`."""
    store = await current_store(turn)
    if store is None:
        return
    assert store.id is not None
    if len(query) > SEARCH_MAX_LENGTH:
        turn.say(turn.t("catalog.search_too_long", limit=SEARCH_MAX_LENGTH))
        return
    items = await turn.uow.catalog.search(store.id, query, SEARCH_LIMIT)
    await turn.set_state(BROWSING)
    if not items:
        turn.say(
            turn.t("catalog.no_results", query=query),
            InlineKeyboard([[turn.button(turn.t("button.categories"), "menu")]]),
        )
        return
    rows = [[turn.button(_label(turn, item), "prod", item.product_id, 0, 0)] for item in items]
    rows.append(
        [
            turn.button(turn.t("button.categories"), "menu"),
            turn.button(turn.t("button.cart"), "cart"),
        ]
    )
    turn.say(turn.t("catalog.results", query=query, count=len(items)), InlineKeyboard(rows))
