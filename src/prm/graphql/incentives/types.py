"""Incentive objects as the API shows them: `IncentiveRule`, `EarnedIncentive` and
`IncentiveStatement`. Rules, partners and opportunities under an incentive load through
the request's DataLoaders (one query per kind, whatever the page size)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from prm.graphql.context import Context, Info
from prm.graphql.relay import Node, encode_global_id, register_node
from prm.graphql.scalars import MoneyType
from prm.incentives.lifecycle import readable_incentives
from prm.incentives.models import (
    DealScope,
    EarnedIncentive,
    IncentiveKind,
    IncentiveRule,
    IncentiveStatus,
    RebatePeriodKind,
)
from prm.incentives.rules import readable_rules, tiers_of
from prm.incentives.statements import Statement
from prm.money import Money

if TYPE_CHECKING:
    from prm.graphql.crm.types import OpportunityType
    from prm.graphql.partners.types import PartnerType


def plain(value: Decimal) -> Decimal:
    """Without the column's trailing zeros, never in exponent form."""
    return Decimal(format(value.normalize(), "f"))


IncentiveKindEnum = strawberry.enum(IncentiveKind, name="IncentiveKind")
DealScopeEnum = strawberry.enum(DealScope, name="IncentiveDealScope")
IncentiveStatusEnum = strawberry.enum(IncentiveStatus, name="IncentiveStatus")
RebatePeriodKindEnum = strawberry.enum(RebatePeriodKind, name="RebatePeriodKind")

PartnerRef = Annotated["PartnerType", strawberry.lazy("prm.graphql.partners.types")]
OpportunityRef = Annotated["OpportunityType", strawberry.lazy("prm.graphql.crm.types")]


@strawberry.type(description="A volume rebate step: revenue ≥ threshold earns percent of all.")
class IncentiveTier:
    threshold: Decimal
    percent: Decimal


@strawberry.type(
    name="IncentiveRule",
    description="What partners at a program level (or every level: null `levelId`) earn.",
)
class IncentiveRuleType(Node):
    name: str
    kind: IncentiveKindEnum  # type: ignore[valid-type]
    deal_scope: DealScopeEnum  # type: ignore[valid-type]
    percent: Decimal | None
    amount: MoneyType | None
    currency: str | None
    tiers: list[IncentiveTier]
    period_kind: RebatePeriodKindEnum | None  # type: ignore[valid-type]
    starts_at: datetime | None
    ends_at: datetime | None
    dispute_days: int
    created_at: datetime
    program_pk: strawberry.Private[uuid.UUID]
    level_pk: strawberry.Private[uuid.UUID | None]
    product_pks: strawberry.Private[list[uuid.UUID]]

    @strawberry.field(description="The program's global id.")
    def program_id(self) -> strawberry.ID:
        return strawberry.ID(encode_global_id("ChannelProgram", self.program_pk))

    @strawberry.field(description="The level's global id; null: every level of the program.")
    def level_id(self) -> strawberry.ID | None:
        if self.level_pk is None:
            return None
        return strawberry.ID(encode_global_id("ProgramLevel", self.level_pk))

    @strawberry.field(description="SPIFF products' global ids.")
    def product_ids(self) -> list[strawberry.ID]:
        return [strawberry.ID(encode_global_id("Product", pk)) for pk in self.product_pks]

    @classmethod
    def from_model(cls, row: IncentiveRule) -> IncentiveRuleType:
        return cls.from_row(
            row,
            kind=IncentiveKind(row.kind),
            deal_scope=DealScope(row.deal_scope),
            percent=plain(row.percent) if row.percent is not None else None,
            amount=MoneyType.maybe(row.amount, row.currency),
            tiers=[
                IncentiveTier(threshold=plain(t.threshold), percent=plain(t.percent))
                for t in tiers_of(row)
            ],
            period_kind=RebatePeriodKind(row.period_kind) if row.period_kind else None,
            program_pk=row.program_id,
            level_pk=row.level_id,
            product_pks=list(row.product_ids or []),
        )


@strawberry.type(
    name="EarnedIncentive",
    description="An incentive earned from a won deal or, for a volume rebate, a period.",
)
class EarnedIncentiveType(Node):
    amount: MoneyType
    basis: Decimal = strawberry.field(
        description="Revenue for percentages, units for SPIFFs, 1 for a deal bonus."
    )
    status: IncentiveStatusEnum  # type: ignore[valid-type]
    rebate_period: str | None
    earned_at: datetime
    dispute_until: datetime
    dispute_reason: str | None
    resolution_comment: str | None
    payment_reference: str | None
    approved_at: datetime | None
    paid_at: datetime | None
    rule_pk: strawberry.Private[uuid.UUID]
    partner_pk: strawberry.Private[uuid.UUID]
    opportunity_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def rule(self, info: Info) -> IncentiveRuleType | None:
        row = await info.context.loaders.by_id(IncentiveRule).load(self.rule_pk)
        return IncentiveRuleType.from_model(row) if row else None

    @strawberry.field
    async def partner(self, info: Info) -> PartnerRef | None:
        from prm.graphql.partners.types import load_partner

        return await load_partner(info.context, self.partner_pk)

    @strawberry.field(description="The won deal (null for a rebate, or if not visible).")
    async def opportunity(self, info: Info) -> OpportunityRef | None:
        if self.opportunity_pk is None:
            return None
        from prm.graphql.crm.types import load_opportunity

        return await load_opportunity(info.context, self.opportunity_pk)

    @classmethod
    def from_model(cls, row: EarnedIncentive) -> EarnedIncentiveType:
        return cls.from_row(
            row,
            amount=MoneyType.of(Money(row.amount, row.currency)),
            basis=plain(row.basis),
            status=IncentiveStatus(row.status),
            rule_pk=row.rule_id,
            partner_pk=row.partner_id,
            opportunity_pk=row.opportunity_id,
        )


@strawberry.type(description="The sum of a statement's lines of one status and currency.")
class IncentiveTotal:
    status: IncentiveStatusEnum  # type: ignore[valid-type]
    amount: MoneyType
    count: int


@strawberry.type(description="What a partner earned in a period, with totals.")
class IncentiveStatement:
    period: str
    lines: list[EarnedIncentiveType]
    totals: list[IncentiveTotal]
    truncated: bool = strawberry.field(description="More than 1000 lines: the first 1000.")
    partner_pk: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def partner(self, info: Info) -> PartnerRef | None:
        from prm.graphql.partners.types import load_partner

        return await load_partner(info.context, self.partner_pk)

    @classmethod
    def of(cls, statement: Statement) -> IncentiveStatement:
        return cls(
            period=statement.period,
            lines=[EarnedIncentiveType.from_model(line) for line in statement.lines],
            totals=[
                IncentiveTotal(
                    status=total.status,
                    amount=MoneyType.of(Money(total.amount, total.currency)),
                    count=total.count,
                )
                for total in statement.totals
            ],
            truncated=statement.truncated,
            partner_pk=statement.partner_id,
        )


@register_node(IncentiveRuleType)
async def load_rule(context: Context, pk: uuid.UUID) -> IncentiveRuleType | None:
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable_rules(context.principal).where(IncentiveRule.id == pk)
    )
    return IncentiveRuleType.from_model(row) if row else None


@register_node(EarnedIncentiveType)
async def load_incentive(context: Context, pk: uuid.UUID) -> EarnedIncentiveType | None:
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable_incentives(context.principal).where(EarnedIncentive.id == pk)
    )
    return EarnedIncentiveType.from_model(row) if row else None
