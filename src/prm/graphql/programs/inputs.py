"""Inputs and filters of the channel-programs API."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from prm.graphql.programs.types import CriterionMetricEnum
from prm.graphql.scalars import MoneyInput


@strawberry.input(description="A new channel program (it has no levels yet).")
class CreateChannelProgramInput:
    name: str
    description: str | None = None
    active: bool = True
    auto_enrol: bool = False
    auto_enrol_countries: list[str] = strawberry.field(default_factory=list)
    auto_enrol_capabilities: list[str] = strawberry.field(default_factory=list)
    grace_days: int = 30


@strawberry.input(description="Only the fields given change.")
class UpdateChannelProgramInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET
    auto_enrol: bool | None = strawberry.UNSET
    auto_enrol_countries: list[str] | None = strawberry.UNSET
    auto_enrol_capabilities: list[str] | None = strawberry.UNSET
    grace_days: int | None = strawberry.UNSET


@strawberry.input(description="An entry condition of a level; each metric at most once.")
class LevelCriterionInput:
    metric: CriterionMetricEnum  # type: ignore[valid-type]
    minimum: Decimal = strawberry.field(
        description="Not negative; rates 0..1, SCORE 0..100, REVENUE_WON in the tenant's currency."
    )
    quarters: int = strawberry.field(default=4, description="Trailing quarters, 1 to 8.")


@strawberry.input
class CreateProgramLevelInput:
    program_id: strawberry.ID
    name: str
    rank: int = strawberry.field(description="Unique in the program; a higher rank is higher.")
    description: str | None = None
    tier_id: strawberry.ID | None = None
    mdf_eligible: bool = False
    mdf_allocation: MoneyInput | None = strawberry.field(
        default=None, description="In the tenant's default currency."
    )
    deal_protection_days: int | None = None
    required_certification: str | None = None
    criteria: list[LevelCriterionInput] = strawberry.field(default_factory=list)


@strawberry.input(
    description="Only the fields given change; `criteria`, when given, replaces them all."
)
class UpdateProgramLevelInput:
    name: str | None = strawberry.UNSET
    rank: int | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    tier_id: strawberry.ID | None = strawberry.UNSET
    mdf_eligible: bool | None = strawberry.UNSET
    mdf_allocation: MoneyInput | None = strawberry.UNSET
    deal_protection_days: int | None = strawberry.UNSET
    required_certification: str | None = strawberry.UNSET
    criteria: list[LevelCriterionInput] | None = strawberry.UNSET


@strawberry.input(description="Narrows `programEnrolments`; the fields combine.")
class ProgramEnrolmentFilter:
    program_id: strawberry.ID | None = None
    partner_id: strawberry.ID | None = None
