"""Inputs of the lead-SLA policy."""

from __future__ import annotations

import strawberry

from prm.leads.models import SlaPeriodKind
from prm.leads.sla_policy import PolicyInput

LeadSlaPeriodKindEnum = strawberry.enum(
    SlaPeriodKind, name="LeadSlaPeriodKind", description="The period violations are counted in."
)


@strawberry.input(description="The tenant's lead-SLA policy, replaced as a whole.")
class SetLeadSlaPolicyInput:
    max_violations: int = strawberry.field(
        description="Violations in one period that pause delivery (1 to 1000)."
    )
    period_kind: LeadSlaPeriodKindEnum = strawberry.field(  # type: ignore[valid-type]
        default=SlaPeriodKind.MONTH
    )
    count_rejections: bool = strawberry.field(
        default=True, description="Whether rejected offers count (expired ones always do)."
    )
    active: bool = True

    def to_domain(self) -> PolicyInput:
        return PolicyInput(
            max_violations=self.max_violations,
            period_kind=SlaPeriodKind(self.period_kind),
            count_rejections=self.count_rejections,
            active=self.active,
        )
