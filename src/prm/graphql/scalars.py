"""Value types every domain shares: `Money` and `MoneyInput` (API.md's conventions).

`Decimal`, `Date` and `DateTime` are Strawberry's built-in scalars: annotate a field with
`decimal.Decimal`, `datetime.date` or `datetime.datetime` and it is a string on the wire
(`"1234.50"`, `"2026-11-24"`, ISO-8601). Money is never a float.
"""

from __future__ import annotations

from decimal import Decimal

import strawberry

from prm.money import Money, round_money


@strawberry.type(name="Money", description="An amount in a currency (ISO 4217).")
class MoneyType:
    amount: Decimal = strawberry.field(description="Rounded to the currency's minor unit.")
    currency: str

    @classmethod
    def of(cls, money: Money) -> MoneyType:
        return cls(amount=round_money(money.amount, money.currency), currency=money.currency)

    @classmethod
    def maybe(cls, amount: Decimal | None, currency: str | None) -> MoneyType | None:
        """From a row's amount and currency columns; None when either is missing."""
        if amount is None or currency is None:
            return None
        return cls.of(Money(amount, currency))


@strawberry.input(name="MoneyInput", description="An amount (`Decimal`) and an ISO 4217 code.")
class MoneyInput:
    amount: Decimal
    currency: str

    def parse(self, *, field: str = "amount", allow_negative: bool = False) -> Money:
        """Validated money (`Money.parse`); a bad amount or currency is an `INVALID` user
        error on `field.amount` / `field.currency`."""
        return Money.parse(self.amount, self.currency, field=field, allow_negative=allow_negative)
