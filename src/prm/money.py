"""Money: a `Decimal` amount with an ISO 4217 currency, never a float.

Currency codes are checked against ISO 4217 (pycountry); each currency's minor unit
(2 for USD, 0 for JPY, 3 for KWD) comes from CLDR (Babel) and is what amounts are
rounded to, half-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

import pycountry
from babel.numbers import get_currency_precision

from prm.errors import InvalidInput

MAX_AMOUNT = Decimal("99999999999999")  # fits numeric(18, 4)


@lru_cache(maxsize=512)
def is_currency(code: str) -> bool:
    return len(code) == 3 and code.isalpha() and pycountry.currencies.get(alpha_3=code) is not None


def normalise_currency(code: str, *, field: str = "currency") -> str:
    code = (code or "").strip().upper()
    if not is_currency(code):
        raise InvalidInput(f"{code or 'empty'} is not an ISO 4217 currency code", field=field)
    return code


@lru_cache(maxsize=512)
def minor_units(currency: str) -> int:
    return int(get_currency_precision(currency))


@lru_cache(maxsize=512)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's minor unit (the pricing rule of API.md)."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def parse(
        cls,
        amount: Decimal | str,
        currency: str,
        *,
        field: str = "amount",
        allow_negative: bool = False,
    ) -> Money:
        """Validated money from user input: a known currency, a finite amount within range
        with no more decimals than the currency has, and not negative unless allowed."""
        code = normalise_currency(currency, field=f"{field}.currency")
        try:
            value = Decimal(amount)
        except (InvalidOperation, ValueError, TypeError) as error:
            raise InvalidInput("is not a decimal number", field=f"{field}.amount") from error
        if not value.is_finite():
            raise InvalidInput("must be a finite number", field=f"{field}.amount")
        if value < 0 and not allow_negative:
            raise InvalidInput("must not be negative", field=f"{field}.amount")
        if abs(value) > MAX_AMOUNT:
            raise InvalidInput("is too large", field=f"{field}.amount")
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > minor_units(code):
            raise InvalidInput(
                f"{code} amounts have at most {minor_units(code)} decimal places",
                field=f"{field}.amount",
            )
        return cls(value, code)
