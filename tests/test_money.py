"""Money input rules and rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from prm.errors import InvalidInput
from prm.money import Money, minor_units, normalise_currency, round_money


def test_currencies_are_iso_4217_and_normalised() -> None:
    assert normalise_currency(" usd ") == "USD"
    for bad in ("", "US", "ZZZ", "12A", "dollars"):
        with pytest.raises(InvalidInput):
            normalise_currency(bad)


def test_minor_units_follow_the_currency() -> None:
    assert (minor_units("USD"), minor_units("JPY"), minor_units("KWD")) == (2, 0, 3)


def test_rounding_is_half_up_to_the_minor_unit() -> None:
    assert round_money(Decimal("1.005"), "USD") == Decimal("1.01")
    assert round_money(Decimal("2.5"), "JPY") == Decimal("3")
    assert round_money(Decimal("1.0005"), "KWD") == Decimal("1.001")


def test_parse_accepts_valid_money() -> None:
    assert Money.parse("1234.50", "eur") == Money(Decimal("1234.50"), "EUR")


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("-1", "USD"), ("1.001", "USD"), ("1.5", "JPY"), ("NaN", "USD"), ("Infinity", "USD"),
     ("abc", "USD"), ("1e20", "USD"), ("10", "XYZ")],
)  # fmt: skip
def test_parse_refuses_bad_money(amount: str, currency: str) -> None:
    with pytest.raises(InvalidInput):
        Money.parse(amount, currency)
