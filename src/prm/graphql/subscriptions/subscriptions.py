"""The `Subscription` root: live events for partner portals and agents.

Each resolver checks the caller up front (errors reach the client before the stream
starts), then streams: the hub decides whom a notice may concern (tenant, partner, pool
eligibility), and the object is loaded through the normal visibility-checked loaders in a
fresh, re-authenticated scope, so nothing reaches a caller who may not see it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator

import strawberry
from sqlalchemy import select

from prm.employees.models import Employee
from prm.graphql.cases.types import CaseType, load_case
from prm.graphql.context import Info
from prm.graphql.errors import Forbidden
from prm.graphql.leads.types import LeadOfferType, LeadType, load_lead, load_offer
from prm.graphql.relay import encode_global_id, node_type_name
from prm.graphql.subscriptions.stream import audience_of, connection_of, events
from prm.graphql.subscriptions.types import LeadPoolChange, LeadPoolChangeKind
from prm.realtime.notices import Notice

OFFERED = frozenset({"lead.offered"})
EXPIRING = frozenset({"offer.expiring"})
POOL = {"lead.pooled": LeadPoolChangeKind.POOLED, "lead.claimed": LeadPoolChangeKind.CLAIMED}
CASE_ASSIGNED = frozenset({"case.assigned"})


async def _offers(
    info: Info, types: frozenset[str], partner_id: uuid.UUID | None
) -> AsyncGenerator[LeadOfferType, None]:
    async for scope, notice in events(info, types, partner_id=partner_id):
        offer_id = notice.pk("offerId")
        offer = await load_offer(scope, offer_id) if offer_id else None
        if offer is not None:
            yield offer


async def _pool(info: Info, partner_id: uuid.UUID | None) -> AsyncGenerator[LeadPoolChange, None]:
    async for scope, notice in events(info, frozenset(POOL), partner_id=partner_id):
        lead_id = notice.pk("leadId")
        if lead_id is None:
            continue
        yield LeadPoolChange(
            kind=POOL[notice.type],
            lead_id=strawberry.ID(encode_global_id(node_type_name(LeadType), lead_id)),
            lead=await load_lead(scope, lead_id),
        )


async def _cases(info: Info, employee_id: uuid.UUID) -> AsyncGenerator[CaseType, None]:
    def mine(notice: Notice) -> bool:
        return notice.pk("employeeId") == employee_id

    async for scope, notice in events(info, CASE_ASSIGNED, partner_id=None, match=mine):
        case_id = notice.pk("caseId")
        case = await load_case(scope, case_id) if case_id else None
        if isinstance(case, CaseType):  # visible to the caller
            yield case


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Offers made to the caller's partner (staff: every offer of the tenant)."
    )
    async def lead_offered(self, info: Info) -> AsyncGenerator[LeadOfferType, None]:
        partner_id = audience_of(connection_of(info).principal)  # type: ignore[arg-type]
        return _offers(info, OFFERED, partner_id)

    @strawberry.subscription(
        description="The caller's partner's pending offers 15 minutes before they expire."
    )
    async def offer_expiring(self, info: Info) -> AsyncGenerator[LeadOfferType, None]:
        partner_id = audience_of(connection_of(info).principal)  # type: ignore[arg-type]
        return _offers(info, EXPIRING, partner_id)

    @strawberry.subscription(
        description="Leads entering or leaving the claim pool, for partners eligible to "
        "claim them (staff: all)."
    )
    async def lead_pool_changed(self, info: Info) -> AsyncGenerator[LeadPoolChange, None]:
        partner_id = audience_of(connection_of(info).principal)  # type: ignore[arg-type]
        return _pool(info, partner_id)

    @strawberry.subscription(
        description="Cases assigned to the caller (an agent with an employee record)."
    )
    async def case_assigned(self, info: Info) -> AsyncGenerator[CaseType, None]:
        connection = connection_of(info)
        principal = connection.principal
        assert principal is not None
        async with connection.event_scope() as scope:
            employee_id = (
                await scope.session.scalar(
                    select(Employee.id).where(
                        Employee.tenant_id == principal.tenant_id,
                        Employee.user_id == principal.subject_id,
                    )
                )
                if scope is not None and principal.kind == "user"
                else None
            )
        if employee_id is None:
            raise Forbidden("caseAssigned is for agents: users with an employee record")
        return _cases(info, employee_id)
