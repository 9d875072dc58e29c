"""Checkout rules: pricing a cart at current prices, contact details, and placement errors."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.cart import Cart
from domain.catalog import CatalogItem
from domain.errors import DomainError, ValidationError
from domain.money import Money
from domain.stores import StoreSettings

COMMENT_MAX_LENGTH = 500
ADDRESS_MIN_LENGTH = 5
ADDRESS_MAX_LENGTH = 300
TABLE_MAX_LENGTH = 8
_PHONE_CHARS_RE = re.compile(r"^\+?[\d\s().-]+$")


class ItemsUnavailable(DomainError):
    """Some cart lines cannot be supplied now (removed, sold out, not enough stock)."""

    code = "items_unavailable"

    def __init__(self, product_ids: Sequence[int]) -> None:
        super().__init__(
            f"unavailable: {list(product_ids)}", details={"product_ids": list(product_ids)}
        )
        self.product_ids = tuple(product_ids)


class BelowMinimumOrder(DomainError):
    """Delivery needs a larger subtotal."""

    code = "below_minimum"

    def __init__(self, minimum: Money, subtotal: Money) -> None:
        super().__init__(f"minimum {minimum}, subtotal {subtotal}")
        self.minimum = minimum
        self.subtotal = subtotal


@dataclass(frozen=True, slots=True)
class QuoteLine:
    """A cart line priced now."""

    product_id: int
    name: str
    unit_price: Money
    quantity: int
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def total(self) -> Money:
        """unit price x quantity."""
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Quote:
    """What the customer would pay now: lines, delivery fee and total."""

    lines: tuple[QuoteLine, ...]
    subtotal: Money
    delivery_fee: Money
    total: Money


def price_cart(
    cart: Cart,
    items: Mapping[int, CatalogItem],
    settings: StoreSettings,
    fulfilment: str | None,
    currency: str,
) -> Quote:
    """Price every line at current prices; refuse lines that cannot be supplied."""
    missing = [
        line.product_id
        for line in cart.lines
        if line.product_id not in items or not items[line.product_id].can_supply(line.quantity)
    ]
    if missing:
        raise ItemsUnavailable(missing)
    lines = tuple(
        QuoteLine(
            product_id=line.product_id,
            name=items[line.product_id].name,
            unit_price=items[line.product_id].price,
            quantity=line.quantity,
            names=items[line.product_id].names,
        )
        for line in cart.lines
    )
    subtotal = Money.sum((line.total for line in lines), currency)
    fee = Money.zero(currency)
    if fulfilment == "delivery":
        minimum = Money(settings.delivery_min_order_minor, currency)
        if subtotal.amount_minor < minimum.amount_minor:
            raise BelowMinimumOrder(minimum, subtotal)
        fee = Money(settings.delivery_fee_minor, currency)
    return Quote(lines=lines, subtotal=subtotal, delivery_fee=fee, total=subtotal + fee)


def normalize_phone(text: str) -> str:
    """A phone number as +digits (7 to 15 digits, E.164's range); ValidationError otherwise."""
    candidate = text.strip()
    if not _PHONE_CHARS_RE.match(candidate):
        raise ValidationError("phone", "invalid_characters")
    digits = re.sub(r"\D", "", candidate)
    if not 7 <= len(digits) <= 15:
        raise ValidationError("phone", "length")
    return "+" + digits


def clean_comment(text: str) -> str:
    """A comment for the store: trimmed, not empty, at most COMMENT_MAX_LENGTH characters."""
    comment = text.strip()
    if not comment:
        raise ValidationError("comment", "empty")
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValidationError("comment", "too_long")
    return comment


def clean_address(text: str) -> str:
    """A delivery address typed by the customer."""
    address = " ".join(text.split())
    if len(address) < ADDRESS_MIN_LENGTH:
        raise ValidationError("address", "too_short")
    if len(address) > ADDRESS_MAX_LENGTH:
        raise ValidationError("address", "too_long")
    return address


def clean_table(text: str, known_tables: Sequence[str]) -> str:
    """A typed table label, checked against the store's tables when it has any."""
    label = text.strip().lstrip("#").upper()
    if not label or len(label) > TABLE_MAX_LENGTH or not label.isalnum():
        raise ValidationError("table", "invalid")
    if known_tables:
        by_upper = {known.upper(): known for known in known_tables}
        if label not in by_upper:
            raise ValidationError("table", "unknown")
        return by_upper[label]
    return label


@dataclass(frozen=True, slots=True)
class NewOrder:
    """Everything needed to place an order, validated, at one moment."""

    idempotency_key: str
    store_id: int
    customer_id: int
    fulfilment: str
    quote: Quote
    placed_at: datetime
    slot_start: datetime | None = None
    table_label: str | None = None
    delivery_address: str | None = None
    delivery_latitude: float | None = None
    delivery_longitude: float | None = None
    contact_phone: str | None = None
    comment: str | None = None
    payment_method: str = "at_store"  # at_store | telegram
    telegram_payment_charge_id: str | None = None
