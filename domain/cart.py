"""The cart: one store, bounded quantities, and a version that keys idempotent placement."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.errors import ValidationError


@dataclass(slots=True)
class CartLine:
    """A product and how many."""

    product_id: int
    quantity: int


@dataclass(slots=True)
class Cart:
    """A customer's cart at one store; every change bumps `version`."""

    customer_id: int
    store_id: int
    lines: list[CartLine] = field(default_factory=list)
    version: int = 0
    fulfilment: str | None = None
    table_label: str | None = None
    id: int | None = None

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to order."""
        return not self.lines

    @property
    def item_count(self) -> int:
        """Total number of items (for the cart button)."""
        return sum(line.quantity for line in self.lines)

    def quantity_of(self, product_id: int) -> int:
        """How many of a product are in the cart."""
        return next((line.quantity for line in self.lines if line.product_id == product_id), 0)

    def set_quantity(self, product_id: int, quantity: int, max_quantity: int) -> None:
        """Set a line's quantity (0 removes it); more than `max_quantity` is refused."""
        if quantity < 0:
            raise ValidationError("quantity", "negative")
        if quantity > max_quantity:
            raise ValidationError("quantity", "too_many")
        current = self.quantity_of(product_id)
        if quantity == current:
            return
        self.lines = [line for line in self.lines if line.product_id != product_id]
        if quantity:
            self.lines.append(CartLine(product_id, quantity))
            self.lines.sort(key=lambda line: line.product_id)
        self.version += 1

    def add(self, product_id: int, quantity: int, max_quantity: int) -> None:
        """Add to a line's quantity, within `max_quantity`."""
        self.set_quantity(product_id, self.quantity_of(product_id) + quantity, max_quantity)

    def clear(self) -> None:
        """Remove every line (and any dine-in table)."""
        if self.lines or self.table_label or self.fulfilment:
            self.lines = []
            self.table_label = None
            self.fulfilment = None
            self.version += 1

    def move_to(self, store_id: int) -> None:
        """Start over at another store; the lines belonged to the old one."""
        if store_id != self.store_id:
            self.clear()
            self.store_id = store_id
            self.version += 1

    def seat_at(self, table_label: str) -> None:
        """Dine in at a table (from a table QR code or typed at checkout)."""
        if (self.fulfilment, self.table_label) != ("dine_in", table_label):
            self.fulfilment, self.table_label = "dine_in", table_label
            self.version += 1

    def idempotency_key(self) -> str:
        """The key one placement of this exact cart content is recorded under."""
        return f"cart:{self.id}:v{self.version}"
