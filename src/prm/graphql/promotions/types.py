"""Promotions as the API shows them. Their tiers, partners and products resolve through
the request's loaders, so a page of promotions costs one statement per kind of target,
not one per promotion; `partners` lists only those the caller may see."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import strawberry

from prm.catalog.models import Promotion
from prm.catalog.visibility import readable_promotions
from prm.graphql.context import Context, Info
from prm.graphql.errors import BadUserInput
from prm.graphql.partners.types import PartnerTierType, PartnerType, load_partner, load_tier
from prm.graphql.products.types import ProductType, load_product
from prm.graphql.relay import Node, register_node
from prm.graphql.scalars import MoneyType


@strawberry.type(
    name="Promotion",
    description="A time-boxed discount, a percentage or an amount off the unit price. "
    "Empty target lists mean no restriction.",
)
class PromotionType(Node):
    name: str
    description: str | None
    code: str | None = strawberry.field(description="Needed to get the discount, if set.")
    discount_percent: Decimal | None
    discount_amount: MoneyType | None
    stackable: bool
    starts_at: datetime
    ends_at: datetime = strawberry.field(description="Exclusive.")
    ended_at: datetime | None = strawberry.field(description="When it was ended early.")
    usage_cap: int | None
    usage_count: int = strawberry.field(description="Quotes that used it.")
    regions: list[str] = strawberry.field(description="Upper-cased country or region codes.")
    created_at: datetime
    updated_at: datetime
    tier_pks: strawberry.Private[list[uuid.UUID]]
    partner_pks: strawberry.Private[list[uuid.UUID]]
    product_pks: strawberry.Private[list[uuid.UUID]]

    @strawberry.field
    async def tiers(self, info: Info) -> list[PartnerTierType]:
        found = await asyncio.gather(*(load_tier(info.context, pk) for pk in self.tier_pks))
        return [tier for tier in found if tier is not None]

    @strawberry.field(description="The partners aimed at that the caller may see.")
    async def partners(self, info: Info) -> list[PartnerType]:
        found = await asyncio.gather(*(load_partner(info.context, pk) for pk in self.partner_pks))
        return [partner for partner in found if partner is not None]

    @strawberry.field(description="The products it applies to that the caller may see.")
    async def products(self, info: Info) -> list[ProductType]:
        found = await asyncio.gather(*(load_product(info.context, pk) for pk in self.product_pks))
        return [product for product in found if product is not None]

    @strawberry.field(description="Whether it runs at `at` (default now).")
    def is_running(self, at: datetime | None = None) -> bool:
        if at is None:
            at = datetime.now(UTC)
        elif at.tzinfo is None:
            raise BadUserInput("`at` must include a time zone")
        return self.starts_at <= at < self.ends_at

    @classmethod
    def from_model(cls, row: Promotion) -> PromotionType:
        return cls.from_row(
            row,
            discount_amount=MoneyType.maybe(row.discount_amount, row.currency),
            regions=list(row.regions or []),
            tier_pks=list(row.tier_ids or []),
            partner_pks=list(row.partner_ids or []),
            product_pks=list(row.product_ids or []),
        )


@register_node(PromotionType)
async def load_promotion(context: Context, pk: uuid.UUID) -> PromotionType | None:
    """The promotion if the caller may see it now (staff: any; partner users: running
    ones aimed at them)."""
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable_promotions(context.principal, datetime.now(UTC)).where(Promotion.id == pk)
    )
    return PromotionType.from_model(row) if row else None
