"""Queries of the lead-SLA policy."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.graphql.context import Info
from prm.graphql.lead_sla.types import LeadSlaPolicyType
from prm.graphql.permissions import require_roles
from prm.leads import sla_policy

READERS = (Role.ADMIN, Role.MANAGER, Role.EMPLOYEE, Role.PARTNER_ADMIN, Role.PARTNER_REP)


@strawberry.type
class Query:
    @strawberry.field(
        description="The tenant's lead-SLA policy (null until an admin sets one). Staff and "
        "partner users may read it: partners must know the rule."
    )
    async def lead_sla_policy(self, info: Info) -> LeadSlaPolicyType | None:
        principal = require_roles(info, *READERS)
        policy = await info.context.session.scalar(sla_policy.policy_statement(principal.tenant_id))
        return LeadSlaPolicyType.from_model(policy) if policy is not None else None
