"""What a store sells: products with their per-store price, availability and stock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.money import Money


def localized(default: str, translations: Mapping[str, str], locale: str) -> str:
    """The translation for `locale` when there is one, else the default text."""
    return translations.get(locale) or default


@dataclass(frozen=True, slots=True)
class Category:
    """A catalog section."""

    id: int
    code: str
    name: str
    names: Mapping[str, str] = field(default_factory=dict)

    def title(self, locale: str) -> str:
        """The category name in `locale`."""
        return localized(self.name, self.names, locale)


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """A product as sold at one store: its price there, whether it is on sale, its stock."""

    product_id: int
    code: str
    name: str
    price: Money
    category_id: int | None = None
    names: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    photo: str | None = None
    available: bool = True
    stock: int | None = None  # None: not tracked (made to order)

    @property
    def sold_out(self) -> bool:
        """True when it cannot be ordered at all right now."""
        return not self.available or self.stock == 0

    def can_supply(self, quantity: int) -> bool:
        """Whether `quantity` can be ordered now."""
        return not self.sold_out and (self.stock is None or self.stock >= quantity)

    def title(self, locale: str) -> str:
        """The product name in `locale`."""
        return localized(self.name, self.names, locale)

    def describe(self, locale: str) -> str:
        """The description in `locale` (kept in `names` under 'description:<locale>')."""
        return self.names.get(f"description:{locale}") or self.description
