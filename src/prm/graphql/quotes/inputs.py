"""Inputs and the filter of quotes: global ids become primary keys here (a malformed or
foreign id is `NOT_FOUND` on its field), everything else is judged by the service."""

from __future__ import annotations

from datetime import date

import strawberry
from sqlalchemy import Select

from prm.catalog.models import Quote
from prm.catalog.quotes import QuoteChanges, QuoteLineSpec
from prm.errors import InvalidInput
from prm.graphql.quotes.types import QuoteStatusEnum
from prm.graphql.relay import pk_of, require_pk


@strawberry.input(name="QuoteLineInput")
class QuoteLineInput:
    product_id: strawberry.ID
    quantity: int
    option_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="ProductOptionChoice ids, each counted once per unit."
    )

    def spec(self, n: int) -> QuoteLineSpec:
        return QuoteLineSpec(
            product_id=require_pk(self.product_id, "Product", field=f"lines.{n}.productId"),
            quantity=self.quantity,
            option_ids=tuple(
                require_pk(choice, "ProductOptionChoice", field=f"lines.{n}.optionIds.{m}")
                for m, choice in enumerate(self.option_ids or ())
            ),
        )


def line_specs(lines: list[QuoteLineInput]) -> list[QuoteLineSpec]:
    return [line.spec(n) for n, line in enumerate(lines)]


@strawberry.input(name="CreateQuoteInput")
class CreateQuoteInput:
    lines: list[QuoteLineInput]
    partner_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The buyer: a partner user always quotes for its own partner; staff may "
        "leave it out to quote a direct customer.",
    )
    account_id: strawberry.ID | None = None
    opportunity_id: strawberry.ID | None = strawberry.field(
        default=None, description="A deal of the account (its account when none is given)."
    )
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217; the tenant's default currency when left out."
    )
    valid_until: date | None = strawberry.field(
        default=None, description="The last day the offer stands; not in the past."
    )
    promotion_code: str | None = None
    location: str | None = strawberry.field(
        default=None, description="Where stock is checked from (all locations when left out)."
    )
    notes: str | None = None


@strawberry.input(
    name="UpdateQuoteInput",
    description="Only the fields given change; null clears one. New lines, a promotion "
    "code or a location re-price the whole quote now.",
)
class UpdateQuoteInput:
    account_id: strawberry.ID | None = strawberry.UNSET
    opportunity_id: strawberry.ID | None = strawberry.UNSET
    lines: list[QuoteLineInput] | None = strawberry.UNSET
    valid_until: date | None = strawberry.UNSET
    promotion_code: str | None = strawberry.UNSET
    location: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET

    def changes(self) -> QuoteChanges:
        changes = QuoteChanges()
        if self.account_id is not strawberry.UNSET:
            changes["account_id"] = (
                require_pk(self.account_id, "Account", field="accountId")
                if self.account_id is not None
                else None
            )
        if self.opportunity_id is not strawberry.UNSET:
            changes["opportunity_id"] = (
                require_pk(self.opportunity_id, "Opportunity", field="opportunityId")
                if self.opportunity_id is not None
                else None
            )
        if self.lines is not strawberry.UNSET:
            if self.lines is None:
                raise InvalidInput("must not be null", field="lines")
            changes["lines"] = line_specs(self.lines)
        if self.valid_until is not strawberry.UNSET:
            changes["valid_until"] = self.valid_until
        if self.promotion_code is not strawberry.UNSET:
            changes["promotion_code"] = self.promotion_code
        if self.location is not strawberry.UNSET:
            changes["location"] = self.location
        if self.notes is not strawberry.UNSET:
            changes["notes"] = self.notes
        return changes


@strawberry.input(name="QuoteFilter", description="Every field given must match.")
class QuoteFilter:
    status: QuoteStatusEnum | None = None  # type: ignore[valid-type]
    partner_id: strawberry.ID | None = None
    account_id: strawberry.ID | None = None
    opportunity_id: strawberry.ID | None = None
    number: int | None = None

    def apply(self, statement: Select[Quote]) -> Select[Quote]:
        if self.status is not None:
            statement = statement.where(Quote.status == self.status)
        for value, type_name, column in (
            (self.partner_id, "Partner", Quote.partner_id),
            (self.account_id, "Account", Quote.account_id),
            (self.opportunity_id, "Opportunity", Quote.opportunity_id),
        ):
            if value is not None:
                pk = pk_of(value, type_name)
                statement = statement.where(column == pk if pk else Quote.id.is_(None))
        if self.number is not None:
            statement = statement.where(Quote.number == self.number)
        return statement
