"""Money: integer minor units, one currency at a time, no floats."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.money import CurrencyMismatch, Money, minor_units


def usd(cents: int) -> Money:
    return Money(cents, "USD")


def test_adding_amounts_in_the_same_currency_adds_minor_units() -> None:
    assert usd(1250) + usd(75) == usd(1325)


def test_subtracting_amounts_in_the_same_currency_subtracts_minor_units() -> None:
    assert usd(1250) - usd(2000) == usd(-750)


@pytest.mark.parametrize("operation", ["add", "sub", "lt", "le", "gt", "ge"])
def test_combining_different_currencies_is_refused(operation: str) -> None:
    with pytest.raises(CurrencyMismatch):
        getattr(usd(100), f"__{operation}__")(Money(100, "EUR"))


def test_currency_mismatch_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        usd(1) + Money(1, "EUR")


def test_multiplying_by_an_integer_quantity_scales_the_amount() -> None:
    assert usd(250) * 3 == usd(750)
    assert 3 * usd(250) == usd(750)


@pytest.mark.parametrize("factor", [1.5, True, Decimal("2"), "2"])
def test_multiplying_by_anything_but_an_int_is_refused(factor: object) -> None:
    with pytest.raises(TypeError):
        usd(250) * factor  # type: ignore[operator]


@pytest.mark.parametrize("amount", [12.5, 12.0, True, Decimal("12"), "12"])
def test_a_non_integer_amount_is_refused(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["usd", "US", "USDT", "US1", "", None, " USD"])
def test_a_malformed_currency_code_is_refused(currency: object) -> None:
    with pytest.raises(ValueError):
        Money(100, currency)  # type: ignore[arg-type]


def test_money_is_immutable_and_hashable() -> None:
    price = usd(100)
    with pytest.raises(AttributeError):
        price.amount_minor = 5  # type: ignore[misc]
    assert {price, usd(100)} == {usd(100)}


def test_zero_is_an_amount_of_nothing_in_the_given_currency() -> None:
    assert Money.zero("JPY") == Money(0, "JPY")


def test_summing_amounts_adds_them_all() -> None:
    assert Money.sum([usd(100), usd(250), usd(-50)], "USD") == usd(300)


def test_summing_nothing_gives_zero_in_the_requested_currency() -> None:
    assert Money.sum([], "EUR") == Money(0, "EUR")


def test_summing_amounts_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        Money.sum([usd(100)], "EUR")


def test_summing_accepts_any_iterable() -> None:
    assert Money.sum((usd(n) for n in range(5)), "USD") == usd(10)


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        ("USD", 2),
        ("EUR", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("VND", 0),
        ("CLP", 0),
        ("ISK", 0),
        ("UGX", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("OMR", 3),
        ("JOD", 3),
        ("TND", 3),
        ("CLF", 4),
        ("XYZ", 2),
    ],
)
def test_minor_units_follow_iso_4217(currency: str, digits: int) -> None:
    assert minor_units(currency) == digits
    assert Money(0, currency).exponent == digits


def test_minor_units_of_a_malformed_code_is_refused() -> None:
    with pytest.raises(ValueError):
        minor_units("yen")


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1250, "USD"), "12.50 USD"),
        (Money(5, "USD"), "0.05 USD"),
        (Money(0, "USD"), "0.00 USD"),
        (Money(-705, "EUR"), "-7.05 EUR"),
        (Money(1500, "JPY"), "1500 JPY"),
        (Money(1234, "KWD"), "1.234 KWD"),
        (Money(10**30 + 1, "USD"), "10000000000000000000000000000.01 USD"),
    ],
)
def test_string_form_shows_major_units_and_the_code(money: Money, text: str) -> None:
    assert str(money) == text


def test_to_decimal_keeps_the_currency_precision_exactly() -> None:
    value = Money(1250, "USD").to_decimal()
    assert value == Decimal("12.50")
    assert value.as_tuple().exponent == -2


def test_from_decimal_parses_major_units() -> None:
    assert Money.from_decimal(Decimal("12.5"), "USD") == usd(1250)
    assert Money.from_decimal("-0.07", "USD") == usd(-7)
    assert Money.from_decimal(12, "JPY") == Money(12, "JPY")
    assert Money.from_decimal("1.5E+2", "USD") == usd(15000)


def test_from_decimal_refuses_more_decimals_than_the_currency_has() -> None:
    with pytest.raises(ValueError):
        Money.from_decimal("12.505", "USD")
    with pytest.raises(ValueError):
        Money.from_decimal("1.5", "JPY")


@pytest.mark.parametrize("value", [12.5, True, None])
def test_from_decimal_refuses_floats_and_other_types(value: object) -> None:
    with pytest.raises(TypeError):
        Money.from_decimal(value, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", ""])
def test_from_decimal_refuses_text_that_is_not_a_finite_number(value: str) -> None:
    with pytest.raises(ValueError):
        Money.from_decimal(value, "USD")


def test_amounts_in_one_currency_are_ordered() -> None:
    assert usd(1) < usd(2) <= usd(2) < usd(3)
    assert usd(3) > usd(2) >= usd(2)


def test_negation_flips_the_sign() -> None:
    assert -usd(5) == usd(-5)


@given(st.integers(min_value=-(10**40), max_value=10**40), st.sampled_from(["USD", "JPY", "KWD"]))
def test_decimal_round_trip_is_exact_for_any_amount(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert Money.from_decimal(money.to_decimal(), currency) == money
    assert Money.from_decimal(str(money).split()[0], currency) == money
