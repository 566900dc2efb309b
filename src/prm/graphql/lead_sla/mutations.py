"""Mutations of the lead-SLA policy and of paused lead delivery (admins only). The leads
services are synchronous: they run on the request's session through `run_sync`."""

from __future__ import annotations

from datetime import datetime

import strawberry

from prm.auth.principal import Role
from prm.graphql.context import Info
from prm.graphql.lead_sla.inputs import SetLeadSlaPolicyInput
from prm.graphql.lead_sla.types import LeadSlaPolicyType
from prm.graphql.mutations import Payload, mutation
from prm.graphql.partners.types import PartnerType
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk
from prm.leads import sla_policy
from prm.partners.models import Partner

ADMINS = (Role.ADMIN,)


@strawberry.type
class LeadSlaPolicyPayload(Payload):
    lead_sla_policy: LeadSlaPolicyType | None = None


@strawberry.type
class LeadDeliveryPayload(Payload):
    partner: PartnerType | None = strawberry.field(
        default=None, description="The partner, after: see its `leadDelivery`."
    )


def _partner_payload(info: Info, partner: Partner) -> LeadDeliveryPayload:
    info.context.loaders.prime(Partner, partner)
    return LeadDeliveryPayload(partner=PartnerType.from_model(partner))


@strawberry.type
class Mutation:
    @mutation(
        LeadSlaPolicyPayload,
        roles=ADMINS,
        description="Create or replace the tenant's lead-SLA policy; it applies from the "
        "next violation.",
    )
    async def set_lead_sla_policy(
        self, info: Info, input: SetLeadSlaPolicyInput
    ) -> LeadSlaPolicyPayload:
        policy = await info.context.session.run_sync(
            sla_policy.set_policy, require_principal(info), input.to_domain()
        )
        info.context.audit_object_ids.append(f"LeadSlaPolicy:{policy.id}")
        return LeadSlaPolicyPayload(lead_sla_policy=LeadSlaPolicyType.from_model(policy))

    @mutation(
        LeadDeliveryPayload,
        roles=ADMINS,
        description="Pause lead delivery to a partner until `until` (a reason is required); "
        "the partner is notified.",
    )
    async def pause_lead_delivery(
        self, info: Info, partner_id: strawberry.ID, until: datetime, reason: str
    ) -> LeadDeliveryPayload:
        principal = require_principal(info)
        pk = require_pk(partner_id, "Partner", field="partnerId")
        partner = await info.context.session.run_sync(
            lambda session: sla_policy.pause_delivery(
                session, principal, pk, until=until, reason=reason
            )
        )
        return _partner_payload(info, partner)

    @mutation(
        LeadDeliveryPayload,
        roles=ADMINS,
        description="End a partner's pause now (a reason is required); the partner is "
        "notified. A partner that is not paused is INVALID_TRANSITION.",
    )
    async def resume_lead_delivery(
        self, info: Info, partner_id: strawberry.ID, reason: str
    ) -> LeadDeliveryPayload:
        principal = require_principal(info)
        pk = require_pk(partner_id, "Partner", field="partnerId")
        partner = await info.context.session.run_sync(
            lambda session: sla_policy.resume_delivery(session, principal, pk, reason=reason)
        )
        return _partner_payload(info, partner)
