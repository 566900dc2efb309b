"""`price`: what a product costs a buyer, with its breakdown, without writing anything.

A query has no payload to carry `UserError`s, so a `DomainError` (bad quantity, unknown
currency or product, another partner's prices…) leaves as a GraphQL error whose
`extensions` hold the `UserErrorCode` and the input field: `{"code": "NOT_FOUND",
"field": "productId"}`. Anything else stays an unexpected (masked) error.
"""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from prm.catalog.price_context import LineRequest, price_lines
from prm.catalog.visibility import pricing_partner
from prm.errors import DomainError, InvalidInput
from prm.graphql.context import Info
from prm.graphql.errors import QueryUserError
from prm.graphql.permissions import require_principal
from prm.graphql.pricing.types import PriceResultType
from prm.graphql.relay import require_pk


@strawberry.input(name="PriceInput")
class PriceInput:
    product_id: strawberry.ID
    quantity: int
    partner_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The buyer; a partner user always prices for its own partner. "
        "Staff may leave it out to price for a direct customer.",
    )
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217; the tenant's default currency when left out."
    )
    at: datetime | None = strawberry.field(
        default=None, description="The moment to price at (books, promotions); now if left out."
    )
    promotion_code: str | None = None
    option_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="ProductOptionChoice ids; each adds its delta in the currency to the "
        "unit list price.",
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="The net price of a product for a buyer: price book, volume break, tier, "
        "partner, promotions and bundle saving, in that order (API.md)."
    )
    async def price(self, info: Info, input: PriceInput) -> PriceResultType:
        principal = require_principal(info)
        try:
            at = _moment(input.at)
            partner_pk = (
                require_pk(input.partner_id, "Partner", field="partnerId")
                if input.partner_id is not None
                else None
            )
            partner_id = pricing_partner(principal, partner_pk)
            line = LineRequest(
                product_id=require_pk(input.product_id, "Product", field="productId"),
                quantity=input.quantity,
                option_ids=tuple(
                    require_pk(choice, "ProductOptionChoice", field=f"optionIds.{n}")
                    for n, choice in enumerate(input.option_ids or ())
                ),
            )
            result = await price_lines(
                info.context.session,
                principal,
                [line],
                partner_id=partner_id,
                at=at,
                currency=input.currency,
                promotion_code=(input.promotion_code or "").strip() or None,
            )
        except DomainError as error:
            raise QueryUserError(error) from error
        return PriceResultType.of(result.lines[0])


def _moment(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None:
        raise InvalidInput("must include a time zone", field="at")
    return at.astimezone(UTC)
