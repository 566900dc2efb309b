"""Mutations of incentives: rules (admins), the lifecycle of earned incentives (admins
approve, pay and resolve; partner users dispute) and `computeRebates` (a job)."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from prm.auth.principal import Role
from prm.graphql.context import Info
from prm.graphql.incentives.inputs import (
    CreateIncentiveRuleInput,
    IncentiveTierInput,
    UpdateIncentiveRuleInput,
)
from prm.graphql.incentives.types import (
    EarnedIncentiveType,
    IncentiveRuleType,
    IncentiveStatusEnum,
)
from prm.graphql.jobs.types import JobPayload, JobType
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk
from prm.incentives import lifecycle, rules
from prm.incentives.evaluate import REBATES
from prm.incentives.models import DealScope, IncentiveKind, IncentiveStatus, RebatePeriodKind
from prm.incentives.rules import RuleChanges, Tier
from prm.metrics.periods import parse_period
from prm.workers.jobs import enqueue_job

ADMIN = (Role.ADMIN,)
PARTNER_USERS = (Role.PARTNER_ADMIN, Role.PARTNER_REP)


@strawberry.type
class IncentiveRulePayload(Payload):
    incentive_rule: IncentiveRuleType | None = None


@strawberry.type
class EarnedIncentivePayload(Payload):
    earned_incentive: EarnedIncentiveType | None = None


def _tiers(values: list[IncentiveTierInput] | None) -> list[Tier] | None:
    if values is None:
        return None
    return [Tier(threshold=value.threshold, percent=value.percent) for value in values]


def _products(values: list[strawberry.ID] | None) -> list[uuid.UUID] | None:
    if values is None:
        return None
    return [require_pk(value, "Product", field="productIds") for value in values]


def _changes(input: CreateIncentiveRuleInput | UpdateIncentiveRuleInput) -> RuleChanges:
    return RuleChanges(
        name=input.name,
        deal_scope=DealScope(input.deal_scope) if input.deal_scope is not None else None,
        percent=input.percent,
        amount=input.amount.parse(field="amount") if input.amount is not None else None,
        currency=getattr(input, "currency", None),
        tiers=_tiers(input.tiers),
        period_kind=RebatePeriodKind(input.period_kind) if input.period_kind else None,
        product_ids=_products(input.product_ids),
        starts_at=input.starts_at,
        ends_at=input.ends_at,
        dispute_days=input.dispute_days,
    )


@strawberry.type
class Mutation:
    @mutation(IncentiveRulePayload, roles=ADMIN, description="Create an incentive rule (admins).")
    async def create_incentive_rule(
        self, info: Info, input: CreateIncentiveRuleInput
    ) -> IncentiveRulePayload:
        rule = await rules.create_rule(
            info.context.session,
            require_principal(info),
            program_id=require_pk(input.program_id, "ChannelProgram", field="programId"),
            level_id=(
                require_pk(input.level_id, "ProgramLevel", field="levelId")
                if input.level_id is not None
                else None
            ),
            kind=IncentiveKind(input.kind),
            changes=_changes(input),
        )
        return IncentiveRulePayload(incentive_rule=IncentiveRuleType.from_model(rule))

    @mutation(IncentiveRulePayload, roles=ADMIN, description="Change a rule (admins).")
    async def update_incentive_rule(
        self, info: Info, id: strawberry.ID, input: UpdateIncentiveRuleInput
    ) -> IncentiveRulePayload:
        rule = await rules.update_rule(
            info.context.session,
            require_principal(info),
            require_pk(id, "IncentiveRule", field="id"),
            _changes(input),
        )
        return IncentiveRulePayload(incentive_rule=IncentiveRuleType.from_model(rule))

    @mutation(
        IncentiveRulePayload,
        roles=ADMIN,
        description="End a rule at `endsAt` (default now): later deals no longer earn.",
    )
    async def end_incentive_rule(
        self, info: Info, id: strawberry.ID, ends_at: datetime | None = None
    ) -> IncentiveRulePayload:
        rule = await rules.end_rule(
            info.context.session,
            require_principal(info),
            require_pk(id, "IncentiveRule", field="id"),
            at=ends_at,
        )
        return IncentiveRulePayload(incentive_rule=IncentiveRuleType.from_model(rule))

    @mutation(EarnedIncentivePayload, roles=ADMIN, description="PENDING → APPROVED (admins).")
    async def approve_incentive(self, info: Info, id: strawberry.ID) -> EarnedIncentivePayload:
        row = await lifecycle.approve_incentive(
            info.context.session,
            require_principal(info),
            require_pk(id, "EarnedIncentive", field="id"),
        )
        return EarnedIncentivePayload(earned_incentive=EarnedIncentiveType.from_model(row))

    @mutation(EarnedIncentivePayload, roles=ADMIN, description="APPROVED → PAID with a reference.")
    async def pay_incentive(
        self, info: Info, id: strawberry.ID, reference: str
    ) -> EarnedIncentivePayload:
        row = await lifecycle.pay_incentive(
            info.context.session,
            require_principal(info),
            require_pk(id, "EarnedIncentive", field="id"),
            reference=reference,
        )
        return EarnedIncentivePayload(earned_incentive=EarnedIncentiveType.from_model(row))

    @mutation(
        EarnedIncentivePayload,
        roles=PARTNER_USERS,
        description="A partner user contests its incentive before `disputeUntil`.",
    )
    async def dispute_incentive(
        self, info: Info, id: strawberry.ID, reason: str
    ) -> EarnedIncentivePayload:
        row = await lifecycle.dispute_incentive(
            info.context.session,
            require_principal(info),
            require_pk(id, "EarnedIncentive", field="id"),
            reason=reason,
        )
        return EarnedIncentivePayload(earned_incentive=EarnedIncentiveType.from_model(row))

    @mutation(
        EarnedIncentivePayload,
        roles=ADMIN,
        description="Settle a dispute: `outcome` APPROVED or REJECTED (admins).",
    )
    async def resolve_incentive_dispute(
        self,
        info: Info,
        id: strawberry.ID,
        outcome: IncentiveStatusEnum,  # type: ignore[valid-type]
        comment: str | None = None,
    ) -> EarnedIncentivePayload:
        row = await lifecycle.resolve_dispute(
            info.context.session,
            require_principal(info),
            require_pk(id, "EarnedIncentive", field="id"),
            outcome=IncentiveStatus(outcome),
            comment=comment,
        )
        return EarnedIncentivePayload(earned_incentive=EarnedIncentiveType.from_model(row))

    @mutation(
        JobPayload,
        roles=ADMIN,
        description="Compute the volume rebates of `period` now (the `incentives.rebates` job).",
    )
    async def compute_rebates(self, info: Info, period: str) -> JobPayload:
        key = parse_period(period).key
        job = await enqueue_job(
            info.context.session, require_principal(info), REBATES, {"period": key}
        )
        return JobPayload(job=JobType.from_model(job))
