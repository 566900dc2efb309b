"""Quotes and their frozen lines as the API shows them.

A quote's lines come through one DataLoader keyed by quote id, so a page of quotes with
their lines is one statement for all the lines; partner, account, opportunity, product
and creator resolve through their domains' batched loaders, visibility included.
Amounts show rounded to the quote currency's minor unit.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from sqlalchemy import select
from strawberry.dataloader import DataLoader

from prm.catalog.models import Quote, QuoteLine, QuoteStatus
from prm.catalog.quotes import StockWarning
from prm.catalog.visibility import readable_quotes
from prm.graphql.context import Context, Info
from prm.graphql.crm.types import AccountType, OpportunityType, load_account, load_opportunity
from prm.graphql.partners.types import PartnerType, load_partner
from prm.graphql.pricing.types import ChosenOptionType, PriceAdjustmentType
from prm.graphql.products.types import ProductType, load_product
from prm.graphql.relay import Node, register_node
from prm.graphql.scalars import MoneyType
from prm.money import Money, round_money

if TYPE_CHECKING:
    from prm.graphql.tenants.types import UserType

QuoteStatusEnum = strawberry.enum(
    QuoteStatus,
    name="QuoteStatus",
    description="DRAFT (changeable) → SENT → ACCEPTED; DRAFT or SENT → EXPIRED.",
)
QuoteLineWarningEnum = strawberry.enum(
    StockWarning,
    name="QuoteLineWarning",
    description="INSUFFICIENT_STOCK: the quote needs more than the buyer can count on.",
)


@strawberry.type(
    name="QuoteLine",
    description="A product line with its price breakdown as it was when the quote was priced.",
)
class QuoteLineType(Node):
    position: int = strawberry.field(description="1 for the first line.")
    sku: str
    product_name: str
    quantity: int
    options: list[ChosenOptionType]
    list_unit_price: Decimal = strawberry.field(description="Before any adjustment.")
    unit_price: Decimal
    total: Decimal = strawberry.field(description="unitPrice times quantity.")
    adjustments: list[PriceAdjustmentType] = strawberry.field(
        description="In the order applied: VOLUME, TIER, PARTNER, PROMOTION, BUNDLE."
    )
    stock_warning: QuoteLineWarningEnum | None  # type: ignore[valid-type]
    product_pk: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The product; null if the caller may no longer see it.")
    async def product(self, info: Info) -> ProductType | None:
        return await load_product(info.context, self.product_pk)

    @classmethod
    def from_model(cls, line: QuoteLine, currency: str) -> QuoteLineType:
        return cls.from_row(
            line,
            options=[ChosenOptionType.from_json(option) for option in line.options or ()],
            list_unit_price=round_money(line.list_unit_price, currency),
            unit_price=round_money(line.unit_price, currency),
            total=round_money(line.total, currency),
            adjustments=[PriceAdjustmentType.from_json(a) for a in line.adjustments or ()],
            stock_warning=StockWarning(line.stock_warning) if line.stock_warning else None,
            product_pk=line.product_id,
        )


@strawberry.type(name="Quote", description="A priced offer to a customer, numbered per tenant.")
class QuoteType(Node):
    number: int = strawberry.field(description="1, 2, 3… per tenant, without gaps.")
    status: QuoteStatusEnum  # type: ignore[valid-type]
    currency: str
    valid_until: date | None = strawberry.field(description="The last day the offer stands.")
    location: str | None = strawberry.field(description="Where stock is checked from.")
    promotion_code: str | None
    notes: str | None
    subtotal: MoneyType = strawberry.field(description="List unit prices times quantities.")
    discount_total: MoneyType = strawberry.field(description="subtotal minus total.")
    total: MoneyType = strawberry.field(description="The sum of the lines' totals.")
    line_count: int
    warning_count: int = strawberry.field(description="Lines with a stock warning.")
    priced_at: datetime = strawberry.field(description="The moment the lines were priced at.")
    sent_at: datetime | None
    accepted_at: datetime | None
    expired_at: datetime | None
    created_at: datetime
    updated_at: datetime
    partner_pk: strawberry.Private[uuid.UUID | None]
    account_pk: strawberry.Private[uuid.UUID | None]
    opportunity_pk: strawberry.Private[uuid.UUID | None]
    created_by_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The partner the quote is for (null: a direct customer).")
    async def partner(self, info: Info) -> PartnerType | None:
        return await load_partner(info.context, self.partner_pk) if self.partner_pk else None

    @strawberry.field(description="The customer's account, if the caller may see it.")
    async def account(self, info: Info) -> AccountType | None:
        return await load_account(info.context, self.account_pk) if self.account_pk else None

    @strawberry.field(description="The deal the quote is for, if the caller may see it.")
    async def opportunity(self, info: Info) -> OpportunityType | None:
        if self.opportunity_pk is None:
            return None
        return await load_opportunity(info.context, self.opportunity_pk)

    @strawberry.field(description="The lines, in position order.")
    async def lines(self, info: Info) -> list[QuoteLineType]:
        rows = await quote_lines_loader(info.context).load(self.pk)
        return [QuoteLineType.from_model(row, self.currency) for row in rows]

    @strawberry.field(description="The user who created the quote, if the caller may see it.")
    async def created_by(
        self, info: Info
    ) -> Annotated[UserType, strawberry.lazy("prm.graphql.tenants.types")] | None:
        from prm.graphql.tenants.types import load_user

        return await load_user(info.context, self.created_by_pk) if self.created_by_pk else None

    @classmethod
    def from_model(cls, quote: Quote) -> QuoteType:
        return cls.from_row(
            quote,
            subtotal=MoneyType.of(Money(quote.subtotal, quote.currency)),
            discount_total=MoneyType.of(Money(quote.discount_total, quote.currency)),
            total=MoneyType.of(Money(quote.total, quote.currency)),
            partner_pk=quote.partner_id,
            account_pk=quote.account_id,
            opportunity_pk=quote.opportunity_id,
            created_by_pk=quote.created_by,
        )


def quote_lines_loader(context: Context) -> DataLoader[uuid.UUID, list[QuoteLine]]:
    """The request's loader of quotes' lines by quote id: one statement per batch. Only
    reached through a quote the caller could already see."""

    def factory() -> DataLoader[uuid.UUID, list[QuoteLine]]:
        async def load(ids: Sequence[uuid.UUID]) -> list[list[QuoteLine]]:
            found: dict[uuid.UUID, list[QuoteLine]] = defaultdict(list)
            principal = context.principal
            if principal is not None:
                rows = await context.session.scalars(
                    select(QuoteLine)
                    .where(
                        QuoteLine.tenant_id == principal.tenant_id,
                        QuoteLine.quote_id.in_(set(ids)),
                    )
                    .order_by(QuoteLine.quote_id, QuoteLine.position)
                )
                for row in rows:
                    found[row.quote_id].append(row)
            return [found.get(pk, []) for pk in ids]

        return DataLoader(load_fn=load)

    return cast(
        "DataLoader[uuid.UUID, list[QuoteLine]]", context.loaders.custom("quotes.lines", factory)
    )


async def load_quote(context: Context, pk: uuid.UUID) -> QuoteType | None:
    """The quote if the caller may see it (staff: any; partner users: their partner's)."""
    row = await _visible_quote(context, pk)
    return QuoteType.from_model(row) if row else None


async def _visible_quote(context: Context, pk: uuid.UUID) -> Quote | None:
    principal = context.principal
    if principal is None:
        return None

    def factory() -> DataLoader[uuid.UUID, Quote | None]:
        async def load(ids: Sequence[uuid.UUID]) -> list[Quote | None]:
            statement = readable_quotes(principal).where(Quote.id.in_(set(ids)))
            found = {row.id: row for row in await context.session.scalars(statement)}
            return [found.get(key) for key in ids]

        return DataLoader(load_fn=load)

    loader = context.loaders.custom("quotes.visible", factory)
    return cast("Quote | None", await loader.load(pk))


async def load_quote_line(context: Context, pk: uuid.UUID) -> QuoteLineType | None:
    """A line of a quote the caller may see."""
    if context.principal is None:
        return None
    line = await context.loaders.by_id(QuoteLine).load(pk)
    if line is None:
        return None
    quote = await _visible_quote(context, line.quote_id)
    return QuoteLineType.from_model(line, quote.currency) if quote else None


register_node(QuoteType)(load_quote)
register_node(QuoteLineType)(load_quote_line)
