"""Channel programs as the API shows them: `ChannelProgram`, `ProgramLevel` (benefits and
criteria), `ProgramEnrolment` (a partner's level, the next level's criteria and its
progress toward them, its history). Node loaders apply the domain's readable statements,
so `node(id:)` answers null for what the caller may not see."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from prm.graphql.context import Context, Info
from prm.graphql.pagination import NEWEST_FIRST, Connection, connection_of, decode_cursor, page_size
from prm.graphql.programs.loaders import (
    criteria_by_level,
    history_counts,
    history_page,
    level_since,
    levels_by_program,
    standings,
    tenant_currency,
)
from prm.graphql.relay import Node, register_node
from prm.graphql.scalars import MoneyType
from prm.partners.program_models import (
    ChannelProgram,
    CriterionMetric,
    EnrolmentSource,
    LevelChange,
    LevelChangeKind,
    LevelCriterion,
    ProgramEnrolment,
    ProgramLevel,
)
from prm.partners.programs import readable_enrolments, readable_programs

if TYPE_CHECKING:
    from prm.graphql.partners.types import PartnerTierType, PartnerType

CriterionMetricEnum = strawberry.enum(
    CriterionMetric,
    name="CriterionMetric",
    description="A scorecard figure over trailing quarters: REVENUE_WON, DEALS_WON and "
    "LEADS_CONVERTED are summed; WIN_RATE, ACCEPTANCE_RATE, CONVERSION_RATE, "
    "SLA_COMPLIANCE (0..1) and SCORE (0..100) are averaged over the quarters that have "
    "a value.",
)
EnrolmentSourceEnum = strawberry.enum(EnrolmentSource, name="EnrolmentSource")
LevelChangeKindEnum = strawberry.enum(LevelChangeKind, name="LevelChangeKind")


def _plain(value: Decimal) -> Decimal:
    return Decimal(format(value.normalize(), "f"))


@strawberry.type(
    name="LevelCriterion",
    description="An entry condition: `metric` over the trailing `quarters` quarters (the "
    "current one included) is at least `minimum`.",
)
class LevelCriterionType:
    metric: CriterionMetricEnum  # type: ignore[valid-type]
    minimum: Decimal
    quarters: int

    @classmethod
    def from_model(cls, row: LevelCriterion) -> LevelCriterionType:
        return cls(
            metric=CriterionMetric(row.metric), minimum=_plain(row.minimum), quarters=row.quarters
        )


@strawberry.type(name="ProgramLevel", description="A ranked level of a channel program.")
class ProgramLevelType(Node):
    name: str
    rank: int = strawberry.field(description="A higher rank is a higher level.")
    description: str | None
    mdf_eligible: bool
    deal_protection_days: int | None = strawberry.field(
        description="Approved deal registrations of its partners are protected this long "
        "(at least the tenant's days)."
    )
    required_certification: str | None = strawberry.field(
        description="A current certification one of the partner's users must hold."
    )
    created_at: datetime
    updated_at: datetime
    program_pk: strawberry.Private[uuid.UUID]
    tier_pk: strawberry.Private[uuid.UUID | None]
    allocation: strawberry.Private[Decimal | None]
    tenant_pk: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The partner tier it grants (discount, lead weight).")
    async def tier(
        self, info: Info
    ) -> Annotated[PartnerTierType, strawberry.lazy("prm.graphql.partners.types")] | None:
        from prm.graphql.partners.types import PartnerTierType
        from prm.partners.models import PartnerTier

        if self.tier_pk is None:
            return None
        tier = await info.context.loaders.by_id(PartnerTier).load(self.tier_pk)
        return PartnerTierType.from_model(tier) if tier else None

    @strawberry.field(description="Default MDF allocation per budget, in the tenant's currency.")
    async def mdf_allocation(self, info: Info) -> MoneyType | None:
        if self.allocation is None:
            return None
        currency = await tenant_currency(info.context).load(self.tenant_pk)
        return MoneyType.maybe(self.allocation, currency)

    @strawberry.field(description="Entry criteria over scorecard metrics.")
    async def criteria(self, info: Info) -> list[LevelCriterionType]:
        rows = await criteria_by_level(info.context).load(self.pk)
        return [LevelCriterionType.from_model(row) for row in rows]

    @strawberry.field
    async def program(self, info: Info) -> ChannelProgramType | None:
        row = await info.context.loaders.by_id(ChannelProgram).load(self.program_pk)
        return ChannelProgramType.from_model(row) if row else None

    @classmethod
    def from_model(cls, row: ProgramLevel) -> ProgramLevelType:
        return cls.from_row(
            row,
            program_pk=row.program_id,
            tier_pk=row.tier_id,
            allocation=row.mdf_allocation,
            tenant_pk=row.tenant_id,
        )


@strawberry.type(name="ChannelProgram", description="A partner program with ranked levels.")
class ChannelProgramType(Node):
    name: str
    description: str | None
    active: bool
    auto_enrol: bool = strawberry.field(
        description="Partners matching the countries and capabilities join at the entry level."
    )
    auto_enrol_countries: list[str] = strawberry.field(description="Empty: any country.")
    auto_enrol_capabilities: list[str] = strawberry.field(
        description="A partner must have all of them; empty: any."
    )
    grace_days: int = strawberry.field(
        description="How long a partner may miss its level's criteria before it is demoted."
    )
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="Its levels by rank, lowest (the entry level) first.")
    async def levels(self, info: Info) -> list[ProgramLevelType]:
        rows = await levels_by_program(info.context).load(self.pk)
        return [ProgramLevelType.from_model(row) for row in rows]

    @classmethod
    def from_model(cls, row: ChannelProgram) -> ChannelProgramType:
        return cls.from_row(
            row,
            auto_enrol_countries=list(row.auto_enrol_countries or []),
            auto_enrol_capabilities=list(row.auto_enrol_capabilities or []),
        )


@strawberry.type(
    name="CriterionProgress",
    description="A partner's figure for one criterion of the next level.",
)
class CriterionProgressType:
    metric: CriterionMetricEnum  # type: ignore[valid-type]
    required: Decimal = strawberry.field(description="The criterion's minimum.")
    actual: Decimal | None = strawberry.field(
        description="The partner's figure; null for a rate with no data in the quarters."
    )
    met: bool
    quarters: int


@strawberry.type(name="LevelChange", description="A line of a partner's level history.")
class LevelChangeType:
    kind: LevelChangeKindEnum  # type: ignore[valid-type]
    from_level_name: str | None
    to_level_name: str | None
    reason: str | None
    created_at: datetime
    row_pk: strawberry.Private[uuid.UUID]

    @classmethod
    def from_model(cls, row: LevelChange) -> LevelChangeType:
        return cls(
            kind=LevelChangeKind(row.kind),
            from_level_name=row.from_level_name,
            to_level_name=row.to_level_name,
            reason=row.reason,
            created_at=row.created_at,
            row_pk=row.id,
        )


@strawberry.type(name="ProgramEnrolment", description="A partner's membership of a program.")
class ProgramEnrolmentType(Node):
    source: EnrolmentSourceEnum  # type: ignore[valid-type]
    enrolled_at: datetime
    below_criteria_since: datetime | None = strawberry.field(
        description="Since when the partner misses its level's criteria (null: it meets them)."
    )
    evaluated_at: datetime | None
    program_pk: strawberry.Private[uuid.UUID]
    partner_pk: strawberry.Private[uuid.UUID]
    level_pk: strawberry.Private[uuid.UUID]

    async def _levels(self, info: Info) -> list[ProgramLevel]:
        return await levels_by_program(info.context).load(self.program_pk)

    async def _next(self, info: Info) -> ProgramLevel | None:
        levels = await self._levels(info)
        current = next((level for level in levels if level.id == self.level_pk), None)
        if current is None:
            return None
        return next((level for level in levels if level.rank > current.rank), None)

    @strawberry.field
    async def program(self, info: Info) -> ChannelProgramType | None:
        row = await info.context.loaders.by_id(ChannelProgram).load(self.program_pk)
        return ChannelProgramType.from_model(row) if row else None

    @strawberry.field
    async def partner(
        self, info: Info
    ) -> Annotated[PartnerType, strawberry.lazy("prm.graphql.partners.types")] | None:
        from prm.graphql.partners.types import load_partner

        return await load_partner(info.context, self.partner_pk)

    @strawberry.field(description="The level the partner is on.")
    async def level(self, info: Info) -> ProgramLevelType | None:
        row = await info.context.loaders.by_id(ProgramLevel).load(self.level_pk)
        return ProgramLevelType.from_model(row) if row else None

    @strawberry.field(description="When the partner was put on its current level.")
    async def level_since(self, info: Info) -> datetime | None:
        return await level_since(info.context).load((self.program_pk, self.partner_pk))

    @strawberry.field(
        description="When the partner is demoted unless it meets its level's criteria again."
    )
    async def demotion_due_at(self, info: Info) -> datetime | None:
        if self.below_criteria_since is None:
            return None
        program = await info.context.loaders.by_id(ChannelProgram).load(self.program_pk)
        if program is None:
            return None
        return self.below_criteria_since + timedelta(days=program.grace_days)

    @strawberry.field(description="The level above (null at the top).")
    async def next_level(self, info: Info) -> ProgramLevelType | None:
        row = await self._next(info)
        return ProgramLevelType.from_model(row) if row else None

    @strawberry.field(description="The partner's figures against the next level's criteria.")
    async def progress(self, info: Info) -> list[CriterionProgressType]:
        row = await self._next(info)
        if row is None:
            return []
        standing = await standings(info.context).load(self.pk)
        return [
            CriterionProgressType(
                metric=value.metric,
                required=_plain(value.minimum),
                actual=None if value.actual is None else value.actual.quantize(Decimal("0.0001")),
                met=value.met,
                quarters=value.quarters,
            )
            for value in sorted(standing.values.get(row.id, []), key=lambda v: v.metric.value)
        ]

    @strawberry.field(
        description="Whether the partner holds the next level's required certification "
        "(null when it requires none, or at the top)."
    )
    async def certification_met(self, info: Info) -> bool | None:
        row = await self._next(info)
        if row is None or not row.required_certification:
            return None
        standing = await standings(info.context).load(self.pk)
        return standing.certified.get(row.id, False)

    @strawberry.field(description="Its level history, newest first.")
    async def history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[LevelChangeType]:
        limit = page_size(info.context, first)
        cursor = decode_cursor(after, NEWEST_FIRST)
        after_id = cursor[0] if cursor else None
        rows = await history_page(info.context).load(
            (self.program_pk, self.partner_pk, limit + 1, after_id)
        )
        counts = history_counts(info.context)
        key = (self.program_pk, self.partner_pk)

        async def count() -> int:
            return await counts.load(key)

        return connection_of(
            rows,
            limit=limit,
            after=after,
            order=NEWEST_FIRST,
            to_node=LevelChangeType.from_model,
            count=count,
        )

    @classmethod
    def from_model(cls, row: ProgramEnrolment) -> ProgramEnrolmentType:
        return cls.from_row(
            row,
            source=EnrolmentSource(row.source),
            enrolled_at=row.created_at,
            program_pk=row.program_id,
            partner_pk=row.partner_id,
            level_pk=row.level_id,
        )


@register_node(ChannelProgramType)
async def load_program(context: Context, pk: uuid.UUID) -> ChannelProgramType | None:
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable_programs(context.principal).where(ChannelProgram.id == pk)
    )
    return ChannelProgramType.from_model(row) if row else None


@register_node(ProgramLevelType)
async def load_level(context: Context, pk: uuid.UUID) -> ProgramLevelType | None:
    if context.principal is None:
        return None
    row = await context.loaders.by_id(ProgramLevel).load(pk)
    if row is None or await load_program(context, row.program_id) is None:
        return None
    return ProgramLevelType.from_model(row)


@register_node(ProgramEnrolmentType)
async def load_enrolment(context: Context, pk: uuid.UUID) -> ProgramEnrolmentType | None:
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable_enrolments(context.principal).where(ProgramEnrolment.id == pk)
    )
    return ProgramEnrolmentType.from_model(row) if row else None
