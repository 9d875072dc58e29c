"""Shared presentation: money and times in the customer's terms, and the main-menu keyboard."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from domain.cart import Cart
from domain.money import Money
from domain.stores import Store
from handlers.i18n import Markup
from handlers.outbound import InlineKeyboard
from handlers.turn import Turn

_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}
_WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def money(amount: Money) -> Markup:
    """Money for display: '¥28.00', '$3.50', or '12.50 CHF' for currencies without a symbol."""
    text = f"{amount.to_decimal():,}"
    symbol = _SYMBOLS.get(amount.currency)
    if symbol is None:
        return Markup(f"{text} {amount.currency}")
    return Markup(f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}")


def epoch_minutes(moment: datetime) -> int:
    """A moment as whole minutes since the epoch: compact in button data."""
    return int(moment.timestamp() // 60)


def from_epoch_minutes(minutes: int) -> datetime:
    """The UTC moment `epoch_minutes` encoded."""
    return datetime.fromtimestamp(minutes * 60, UTC)


def weekday_key(day: date) -> str:
    """The catalog key of a date's weekday name."""
    return f"weekday.{_WEEKDAY_KEYS[day.weekday()]}"


def local(moment: datetime, timezone: str) -> datetime:
    """A UTC moment in the store's timezone."""
    return moment.astimezone(ZoneInfo(timezone))


def clock_time(moment: datetime, timezone: str) -> Markup:
    """'14:30' in the store's timezone."""
    return Markup(local(moment, timezone).strftime("%H:%M"))


def day_and_time(turn: Turn, moment: datetime, timezone: str) -> Markup:
    """'Tue 14:30' (today: just the time) in the store's timezone and the turn's language."""
    at = local(moment, timezone)
    today = local(turn.now, timezone).date()
    if at.date() == today:
        return Markup(at.strftime("%H:%M"))
    weekday = turn.t(weekday_key(at.date()))
    if (at.date() - today).days > 6:
        return Markup(f"{at:%Y-%m-%d} {weekday} {at:%H:%M}")
    return Markup(f"{weekday} {at:%H:%M}")


def main_menu(turn: Turn, store: Store | None, cart: Cart | None) -> InlineKeyboard:
    """The home keyboard: menu, cart, booking, orders, stores."""
    count = cart.item_count if cart is not None and store is not None else 0
    cart_label = turn.t("button.cart_count", count=count) if count else turn.t("button.cart")
    rows = []
    if store is not None:
        rows.append([turn.button(turn.t("button.menu"), "menu"), turn.button(cart_label, "cart")])
        if store.settings.reservations:
            rows.append([turn.button(turn.t("button.book"), "book")])
    rows.append(
        [
            turn.button(turn.t("button.orders"), "orders"),
            turn.button(turn.t("button.stores"), "stores"),
        ]
    )
    return InlineKeyboard(rows)
