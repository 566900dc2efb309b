"""Inputs and filters of the incentives API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from prm.graphql.incentives.types import (
    DealScopeEnum,
    IncentiveKindEnum,
    IncentiveStatusEnum,
    RebatePeriodKindEnum,
)
from prm.graphql.scalars import MoneyInput


@strawberry.input(name="IncentiveTierInput")
class IncentiveTierInput:
    threshold: Decimal = strawberry.field(description="Revenue in the rule's currency, ≥ 0.")
    percent: Decimal = strawberry.field(description="More than 0, at most 100.")


@strawberry.input(
    description="REVENUE_PERCENT needs `percent`; DEAL_BONUS `amount`; SPIFF `amount` per "
    "unit, `productIds`, `startsAt` and `endsAt`; VOLUME_REBATE `tiers`, `currency` and "
    "`periodKind` (default QUARTER)."
)
class CreateIncentiveRuleInput:
    program_id: strawberry.ID
    level_id: strawberry.ID | None = strawberry.field(
        default=None, description="Null: every level of the program."
    )
    name: str
    kind: IncentiveKindEnum  # type: ignore[valid-type]
    deal_scope: DealScopeEnum = DealScopeEnum.ANY  # type: ignore[valid-type]
    percent: Decimal | None = None
    amount: MoneyInput | None = None
    currency: str | None = None
    tiers: list[IncentiveTierInput] | None = None
    period_kind: RebatePeriodKindEnum | None = None  # type: ignore[valid-type]
    product_ids: list[strawberry.ID] | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    dispute_days: int | None = strawberry.field(default=None, description="Default 14.")


@strawberry.input(description="Only the fields given change; kind, program and level never do.")
class UpdateIncentiveRuleInput:
    name: str | None = None
    deal_scope: DealScopeEnum | None = None  # type: ignore[valid-type]
    percent: Decimal | None = None
    amount: MoneyInput | None = None
    tiers: list[IncentiveTierInput] | None = None
    period_kind: RebatePeriodKindEnum | None = None  # type: ignore[valid-type]
    product_ids: list[strawberry.ID] | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    dispute_days: int | None = None


@strawberry.input
class EarnedIncentiveFilter:
    partner_id: strawberry.ID | None = None
    status: IncentiveStatusEnum | None = None  # type: ignore[valid-type]
    period: str | None = strawberry.field(
        default=None, description="2026-11, 2026-Q4 or 2026 (see `incentiveStatement`)."
    )


@strawberry.input
class IncentiveRuleFilter:
    program_id: strawberry.ID | None = None
    level_id: strawberry.ID | None = None
    active_at: datetime | None = strawberry.field(
        default=None, description="Only rules whose window contains this instant."
    )
