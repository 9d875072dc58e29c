"""/start (with deep links), /help and /language."""

from __future__ import annotations

from domain.campaigns import parse_campaign_payload
from domain.stores import Store, deep_link_candidates
from handlers import push_flow, stores_flow
from handlers.callbacks import CallbackData
from handlers.i18n import LOCALE_NAMES, LOCALES
from handlers.outbound import InlineKeyboard
from handlers.turn import Router, StaleButton, Turn, str_arg
from handlers.views import main_menu


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.private_commands |= {"start": start, "help": help_private, "language": language}
    router.group_commands |= {"help": help_group}
    router.callbacks |= {"lang": set_language, "home": home}
    router.text = not_understood


async def start(turn: Turn) -> None:
    """Greet; a deep-link payload selects a store (and a table for scan-to-order)."""
    customer = turn.require_customer()
    await turn.clear_state()
    payload = turn.inbound.args.strip()
    greeting = turn.t("start.welcome", name=customer.first_name or "👋")
    campaign_id = parse_campaign_payload(payload)
    if campaign_id is not None:
        store = await push_flow.opened(turn, campaign_id)
        if store is not None:
            await stores_flow.select_store(turn, store, None, greeting=greeting)
            return
    if payload:
        store, table = await _resolve_deep_link(turn, payload)
        if store is None:
            turn.say(greeting + "\n\n" + turn.t("start.unknown_link"))
            await stores_flow.show_store_list(turn, new_message=True)
            return
        await stores_flow.select_store(turn, store, table, greeting=greeting)
        return
    await home(turn, None, greeting=greeting)


async def home(turn: Turn, _data: CallbackData | None, *, greeting: str | None = None) -> None:
    """The home screen: the chosen store and the main menu, or the way to choose one."""
    customer = turn.require_customer()
    store = await turn.uow.stores.get(customer.selected_store_id or 0)
    cart = await turn.uow.carts.get(customer.id or 0)
    lines = [greeting] if greeting else []
    if store is not None:
        lines.append(stores_flow.store_card(turn, store))
    else:
        lines.append(turn.t("start.choose_store"))
    lines.append(turn.t("start.hint"))
    turn.show("\n\n".join(lines), main_menu(turn, store, cart))


async def _resolve_deep_link(turn: Turn, payload: str) -> tuple[Store | None, str | None]:
    for candidate in deep_link_candidates(payload):
        store = await turn.uow.stores.get_by_code(candidate.store_code)
        if store is not None:
            return store, candidate.table
    return None, None


async def not_understood(turn: Turn) -> None:
    """Free text outside any step."""
    turn.say(turn.t("error.not_understood"))


async def help_private(turn: Turn) -> None:
    """What a customer can do."""
    turn.say(turn.t("help.private"))


async def help_group(turn: Turn) -> None:
    """What the staff group is for."""
    turn.say(turn.t("help.group"))


async def language(turn: Turn) -> None:
    """Offer the supported languages."""
    buttons = [
        turn.button(("✓ " if locale == turn.locale else "") + LOCALE_NAMES[locale], "lang", locale)
        for locale in LOCALES
    ]
    turn.say(turn.t("language.prompt"), InlineKeyboard([buttons]))


async def set_language(turn: Turn, data: CallbackData) -> None:
    """Pin the chosen language and confirm in it."""
    customer = turn.customer
    chosen = str_arg(data, 0)
    if customer is None or chosen not in LOCALES:
        raise StaleButton(data.action)
    customer.choose_language(chosen)
    await turn.uow.customers.save(customer, turn.now)
    turn.locale = customer.language
    confirmation = turn.t("language.changed", language=LOCALE_NAMES[customer.language])
    turn.toast(confirmation)
    turn.show(confirmation)
