"""Exact money arithmetic in integer minor units (cents), never floats."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

# ISO 4217 exponents that differ from the usual 2. Anything not listed uses 2 decimals.
_ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
        "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip
_THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
_FOUR_DECIMAL_CURRENCIES = frozenset({"CLF", "UYW"})

_CURRENCY_RE = re.compile(r"[A-Z]{3}")


class CurrencyMismatch(ValueError):
    """Arithmetic or comparison between amounts in different currencies."""


def validate_currency(currency: str) -> str:
    """Return ``currency`` if it looks like an ISO 4217 code (three upper-case letters)."""
    if not isinstance(currency, str) or not _CURRENCY_RE.fullmatch(currency):
        raise ValueError(f"currency must be three upper-case letters, got {currency!r}")
    return currency


def minor_units(currency: str) -> int:
    """Number of decimal digits of the currency's minor unit (JPY 0, USD 2, KWD 3)."""
    validate_currency(currency)
    if currency in _ZERO_DECIMAL_CURRENCIES:
        return 0
    if currency in _THREE_DECIMAL_CURRENCIES:
        return 3
    if currency in _FOUR_DECIMAL_CURRENCIES:
        return 4
    return 2


def _require_int(value: object, name: str) -> int:
    # bool is an int subclass, and True * price silently "works"; refuse it with floats.
    if type(value) is not int:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of one currency stored as an integer number of minor units."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        """Refuse non-integer amounts and malformed currency codes."""
        _require_int(self.amount_minor, "amount_minor")
        validate_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in ``currency``."""
        return cls(0, currency)

    @classmethod
    def sum(cls, items: Iterable[Money], currency: str) -> Money:
        """Add up ``items``; an empty iterable gives zero, so the currency must be explicit."""
        total = cls.zero(currency)
        for item in items:
            total = total + item
        return total

    @classmethod
    def from_decimal(cls, value: Decimal | str | int, currency: str) -> Money:
        """Build from a major-unit amount such as ``Decimal("12.50")``, refusing lost precision."""
        if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
            raise TypeError(f"value must be Decimal, str or int, got {type(value).__name__}")
        try:
            decimal_value = Decimal(value.strip() if isinstance(value, str) else value)
        except ArithmeticError as exc:
            raise ValueError(f"not a decimal amount: {value!r}") from exc
        sign, digits, exponent = decimal_value.as_tuple()
        if not isinstance(exponent, int):  # "n", "N" or "F": NaN and infinities
            raise ValueError(f"amount must be finite, got {value!r}")
        # Shift by the currency exponent on the digit tuple itself: Decimal arithmetic would
        # round to the context precision and could silently change very large amounts.
        shift = exponent + minor_units(currency)
        coefficient = int("".join(map(str, digits)))
        if shift >= 0:
            amount = coefficient * 10**shift
        else:
            amount, remainder = divmod(coefficient, 10**-shift)
            if remainder:
                raise ValueError(f"{value!r} has more decimals than {currency} allows")
        return cls(-amount if sign else amount, currency)

    @property
    def exponent(self) -> int:
        """Decimal digits of this currency's minor unit."""
        return minor_units(self.currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units with exactly the currency's number of decimals."""
        sign = 1 if self.amount_minor < 0 else 0
        digits = tuple(int(d) for d in str(abs(self.amount_minor)))
        # Building from the tuple is exact; division or scaleb would round at context precision.
        return Decimal((sign, digits, -self.exponent))

    def __str__(self) -> str:
        """Human-readable form such as ``"12.50 USD"``."""
        return f"{self.to_decimal():f} {self.currency}"

    def _check_same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        """Sum of two amounts in the same currency."""
        if not isinstance(other, Money):
            return NotImplemented
        self._check_same_currency(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        """Difference of two amounts in the same currency."""
        if not isinstance(other, Money):
            return NotImplemented
        self._check_same_currency(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __mul__(self, quantity: int) -> Money:
        """Amount times an integer quantity."""
        if type(quantity) is not int:
            return NotImplemented
        return Money(self.amount_minor * quantity, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        """The amount with its sign flipped (refunds, discounts)."""
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        """Ordering is only defined within one currency."""
        if not isinstance(other, Money):
            return NotImplemented
        self._check_same_currency(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        """Ordering is only defined within one currency."""
        if not isinstance(other, Money):
            return NotImplemented
        self._check_same_currency(other)
        return self.amount_minor <= other.amount_minor

    def __gt__(self, other: Money) -> bool:
        """Ordering is only defined within one currency."""
        if not isinstance(other, Money):
            return NotImplemented
        self._check_same_currency(other)
        return self.amount_minor > other.amount_minor

    def __ge__(self, other: Money) -> bool:
        """Ordering is only defined within one currency."""
        if not isinstance(other, Money):
            return NotImplemented
        self._check_same_currency(other)
        return self.amount_minor >= other.amount_minor
