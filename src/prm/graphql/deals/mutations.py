"""`registerDeal` (partner users), `approveDealRegistration` and `rejectDealRegistration`
(admins and managers). The deals services are synchronous: they run through `run_sync`."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.deals import service
from prm.graphql.context import Info
from prm.graphql.deals.inputs import RegisterDealInput
from prm.graphql.deals.types import DealRegistrationType
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk

MANAGERS = (Role.ADMIN, Role.MANAGER)
PARTNER_USERS = (Role.PARTNER_ADMIN, Role.PARTNER_REP)


@strawberry.type
class DealRegistrationPayload(Payload):
    deal_registration: DealRegistrationType | None = None


@strawberry.type
class Mutation:
    @mutation(
        DealRegistrationPayload,
        roles=PARTNER_USERS,
        description="Register a deal your partner found; it is checked for conflicts and "
        "waits for a manager (CONFLICT if another partner's registration protects it).",
    )
    async def register_deal(self, info: Info, input: RegisterDealInput) -> DealRegistrationPayload:
        fields = input.fields()
        row = await info.context.session.run_sync(
            service.register_deal, require_principal(info), fields
        )
        return DealRegistrationPayload(deal_registration=DealRegistrationType.from_model(row))

    @mutation(
        DealRegistrationPayload,
        roles=MANAGERS,
        description="Approve a PENDING registration: its partner is protected for the "
        "tenant's deal protection days.",
    )
    async def approve_deal_registration(
        self, info: Info, id: strawberry.ID
    ) -> DealRegistrationPayload:
        row = await info.context.session.run_sync(
            service.approve_registration,
            require_principal(info),
            require_pk(id, "DealRegistration", field="id"),
        )
        return DealRegistrationPayload(deal_registration=DealRegistrationType.from_model(row))

    @mutation(
        DealRegistrationPayload,
        roles=MANAGERS,
        description="Reject a PENDING registration; a reason is required.",
    )
    async def reject_deal_registration(
        self, info: Info, id: strawberry.ID, reason: str
    ) -> DealRegistrationPayload:
        row = await info.context.session.run_sync(
            service.reject_registration,
            require_principal(info),
            require_pk(id, "DealRegistration", field="id"),
            reason,
        )
        return DealRegistrationPayload(deal_registration=DealRegistrationType.from_model(row))
