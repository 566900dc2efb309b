"""Types of the lead-SLA policy and of a partner's lead delivery.

`lead_delivery` serves `Partner.leadDelivery`: a per-request DataLoader answers a page of
partners with two queries (the policy, then pauses and violation counts of every partner
in the batch)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import strawberry
from strawberry.dataloader import DataLoader

from prm.graphql.context import Context, Info
from prm.graphql.errors import Forbidden
from prm.graphql.lead_sla.inputs import LeadSlaPeriodKindEnum
from prm.graphql.permissions import require_principal
from prm.leads import sla_policy
from prm.leads.models import LeadSlaPolicy
from prm.partners.service import can_read_partner


@strawberry.type(
    name="LeadSlaPolicy",
    description="A partner that lets `maxViolations` lead offers expire (or rejects them, "
    "when `countRejections`) within one period has lead delivery paused until the period "
    "ends, while the policy is `active`.",
)
class LeadSlaPolicyType:
    max_violations: int
    period_kind: LeadSlaPeriodKindEnum  # type: ignore[valid-type]
    count_rejections: bool
    active: bool
    updated_at: datetime

    @classmethod
    def from_model(cls, policy: LeadSlaPolicy) -> LeadSlaPolicyType:
        return cls(
            max_violations=policy.max_violations,
            period_kind=policy.period_kind,
            count_rejections=policy.count_rejections,
            active=policy.active,
            updated_at=policy.updated_at,
        )


@strawberry.type(
    name="LeadDelivery",
    description="Whether leads reach the partner, and where it stands against the lead-SLA "
    "policy in the current period.",
)
class LeadDeliveryType:
    paused: bool
    paused_until: datetime | None = strawberry.field(
        description="When delivery resumes by itself; null when not paused."
    )
    reason: str | None = strawberry.field(description="Why it is paused; null when not.")
    violations: int = strawberry.field(
        description="Offers expired (and rejected, if the policy counts them) this period."
    )
    max_violations: int | None = strawberry.field(
        description="The policy's limit; null while the tenant has no active policy."
    )
    period: str = strawberry.field(description="The current period: `2026-11`, `2026-Q4`.")

    @classmethod
    def from_domain(cls, delivery: sla_policy.LeadDelivery) -> LeadDeliveryType:
        return cls(
            paused=delivery.paused,
            paused_until=delivery.paused_until,
            reason=delivery.reason,
            violations=delivery.violations,
            max_violations=delivery.max_violations,
            period=delivery.period,
        )


def _delivery_loader(context: Context) -> DataLoader[uuid.UUID, LeadDeliveryType]:
    async def load(keys: Sequence[uuid.UUID]) -> list[LeadDeliveryType]:
        principal = context.principal
        assert principal is not None  # the resolver required one
        now = datetime.now(UTC)
        session = context.session
        policy = await session.scalar(sla_policy.policy_statement(principal.tenant_id))
        rows = await session.execute(
            sla_policy.delivery_statement(principal.tenant_id, set(keys), policy, now)
        )
        found = {row[0]: sla_policy.delivery_of(row, policy, now) for row in rows}
        empty = sla_policy.empty_delivery(policy, now)
        return [LeadDeliveryType.from_domain(found.get(key, empty)) for key in keys]

    return context.loaders.custom("lead_sla.delivery", lambda: DataLoader(load_fn=load))


async def lead_delivery(info: Info, partner_pk: uuid.UUID) -> LeadDeliveryType:
    """`Partner.leadDelivery`, for whoever may read the partner."""
    principal = require_principal(info)
    if not can_read_partner(principal, partner_pk):
        raise Forbidden("you may not read this partner's lead delivery")
    return await _delivery_loader(info.context).load(partner_pk)
