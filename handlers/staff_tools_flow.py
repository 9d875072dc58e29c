"""Staff-group tools: the staff list (/staff) and today's availability and stock (/stock).

Only the group bound to a store (see /bind) serves these commands. Adding and removing staff is
for the group's administrators, the store's manager and the bot's admins; listing staff and
changing stock is for anyone who may act on the store's cards (see staff_flow.is_staff_here).
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.catalog import CatalogItem
from domain.stores import Store
from handlers.callbacks import CallbackData
from handlers.i18n import Markup
from handlers.outbound import Button, InlineKeyboard
from handlers.staff_flow import is_staff_here, staff_t
from handlers.turn import Router, StaleButton, Turn, int_arg

STOCK_PAGE_SIZE = 8
MAX_STOCK = 100_000


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.group_commands |= {"staff": staff, "stock": stock}
    router.callbacks |= {"sto": toggle, "stp": stock_page}


# ------------------------------------------------------------------ /staff


def _may_manage(turn: Turn, store: Store) -> bool:
    return (
        turn.facts.chat_admin
        or turn.user_id in turn.config.admin_ids
        or turn.user_id == store.manager_telegram_id
    )


async def staff(turn: Turn) -> None:
    """/staff add | remove (as a reply, or with a Telegram id) | list."""
    t = staff_t(turn)
    store = await turn.uow.stores.by_staff_chat(turn.chat_id)
    if store is None:
        turn.say(t("staff.not_bound"))
        return
    assert store.id is not None
    verb, _, rest = turn.inbound.args.partition(" ")
    verb = verb.lower()
    if verb == "list" and not rest.strip():
        await _list(turn, store)
        return
    target = _target(turn, rest)
    if verb not in ("add", "remove") or target is None:
        turn.say(t("staff.usage"))
        return
    if not _may_manage(turn, store):
        turn.say(t("staff.manage_refused"))
        return
    telegram_id, name = target
    if verb == "add":
        added = await turn.uow.stores.add_staff(store.id, telegram_id, name, turn.user_id, turn.now)
        turn.say(t("staff.added" if added else "staff.already_staff", name=name, store=store.name))
        return
    known = dict(await turn.uow.stores.list_staff(store.id))
    name = known.get(telegram_id) or name
    removed = await turn.uow.stores.remove_staff(store.id, telegram_id)
    turn.say(t("staff.removed" if removed else "staff.not_registered", name=name, store=store.name))


def _target(turn: Turn, rest: str) -> tuple[int, str] | None:
    """Whom /staff add|remove names: the replied-to person, else a Telegram id (and a name)."""
    inbound = turn.inbound
    if inbound.reply_to_user_id is not None and not rest.strip():
        if inbound.reply_to_is_bot:
            return None
        return inbound.reply_to_user_id, inbound.reply_to_first_name or str(
            inbound.reply_to_user_id
        )
    head, _, name = rest.strip().partition(" ")
    # isdecimal, not isdigit: int() refuses digits such as "²".
    if not head.isdecimal() or not 0 < int(head) < 2**52:
        return None
    return int(head), name.strip()[:200] or head


async def _list(turn: Turn, store: Store) -> None:
    t = staff_t(turn)
    assert store.id is not None
    if not (await is_staff_here(turn, store) or turn.user_id == store.manager_telegram_id):
        turn.say(t("staff.not_staff"))
        return
    members = await turn.uow.stores.list_staff(store.id)
    lines = [t("staff.list_title", store=store.name)]
    lines += [t("staff.list_line", name=name, id=telegram_id) for telegram_id, name in members]
    if not members:
        lines.append(t("staff.list_empty"))
    lines.append(t("staff.list_admins_note"))
    turn.say("\n".join(lines))


# ------------------------------------------------------------------ /stock


async def _staff_store(turn: Turn) -> Store | None:
    """The group's store if the sender may act for it; otherwise says why and returns None."""
    t = staff_t(turn)
    store = await turn.uow.stores.by_staff_chat(turn.chat_id)
    if store is None:
        if turn.is_press:
            raise StaleButton("sto")
        turn.say(t("staff.not_bound"))
        return None
    if not await is_staff_here(turn, store):
        if turn.is_press:
            turn.toast(t("staff.not_staff"), alert=True)
        else:
            turn.say(t("staff.not_staff"))
        return None
    return store


async def stock(turn: Turn) -> None:
    """/stock: the availability list; /stock <code> <qty|->: set a product's stock."""
    t = staff_t(turn)
    args = turn.inbound.args.split()
    if len(args) not in (0, 2):
        turn.say(t("stock.usage"))
        return
    store = await _staff_store(turn)
    if store is None:
        return
    if not args:
        await _show_page(turn, store, 0)
        return
    code, raw = args[0].lower(), args[1]
    quantity: int | None
    if raw == "-":
        quantity = None
    elif raw.isdecimal() and int(raw) <= MAX_STOCK:
        quantity = int(raw)
    else:
        turn.say(t("stock.bad_qty", max=MAX_STOCK))
        return
    assert store.id is not None
    item = await turn.uow.catalog.set_stock(store.id, code, quantity)
    if item is None:
        turn.say(t("stock.unknown_code", code=code, store=store.name))
        return
    turn.say(_line(turn, item))


async def stock_page(turn: Turn, data: CallbackData) -> None:
    """◀ / ▶ through the stock list."""
    store = await _staff_store(turn)
    if store is not None:
        await _show_page(turn, store, int_arg(data, 0))


async def toggle(turn: Turn, data: CallbackData) -> None:
    """Mark an item sold out (0) or back on sale (1), then show the page again."""
    t = staff_t(turn)
    product_id, wanted, page = int_arg(data, 0), int_arg(data, 1), int_arg(data, 2)
    if wanted not in (0, 1):
        raise StaleButton(data.action)
    store = await _staff_store(turn)
    if store is None:
        return
    assert store.id is not None
    item = await turn.uow.catalog.set_availability(store.id, product_id, bool(wanted))
    if item is None:
        raise StaleButton(data.action)
    key = "stock.marked_back" if wanted else "stock.marked_sold_out"
    turn.toast(t(key, name=item.name))
    await _show_page(turn, store, page)


def _state(turn: Turn, item: CatalogItem) -> Markup:
    t = staff_t(turn)
    if item.sold_out:
        return Markup(t("stock.state_sold_out"))
    if item.stock is None:
        return Markup(t("stock.state_untracked"))
    return Markup(t("stock.state_count", count=item.stock))


def _line(turn: Turn, item: CatalogItem) -> str:
    return staff_t(turn)("stock.line", name=item.name, code=item.code, state=_state(turn, item))


async def _show_page(turn: Turn, store: Store, page: int) -> None:
    t = staff_t(turn)
    assert store.id is not None
    items = await turn.uow.catalog.all_items(store.id)
    if not items:
        turn.show(t("stock.empty", store=store.name), InlineKeyboard([]))
        return
    pages = (len(items) + STOCK_PAGE_SIZE - 1) // STOCK_PAGE_SIZE
    page = min(max(page, 0), pages - 1)
    shown = items[page * STOCK_PAGE_SIZE : (page + 1) * STOCK_PAGE_SIZE]
    text = "\n".join(
        [
            t("stock.title", store=store.name, page=page + 1, pages=pages),
            *(_line(turn, item) for item in shown),
            "",
            t("stock.hint"),
        ]
    )
    turn.show(text, InlineKeyboard(_stock_rows(turn, shown, page, pages)))


def _stock_rows(
    turn: Turn, shown: Sequence[CatalogItem], page: int, pages: int
) -> list[list[Button]]:
    t = staff_t(turn)
    rows = [
        [
            turn.button(t("stock.to_back", name=item.name), "sto", item.product_id, 1, page)
            if item.sold_out
            else turn.button(
                t("stock.to_sold_out", name=item.name), "sto", item.product_id, 0, page
            )
        ]
        for item in shown
    ]
    nav = []
    if page > 0:
        nav.append(turn.button("◀", "stp", page - 1))
    if page + 1 < pages:
        nav.append(turn.button("▶", "stp", page + 1))
    if nav:
        rows.append(nav)
    return rows
