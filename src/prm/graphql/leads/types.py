"""Leads, their offers and history, distribution and scoring rules as the API shows them.
References resolve through batched loaders; what the caller may not see is null."""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Select

from prm.graphql.context import Context, Info
from prm.graphql.crm.loaders import READABLE, Relation, nested_page
from prm.graphql.crm.types import OpportunityType
from prm.graphql.leads.inputs import (
    DistributionModeEnum,
    DistributionStrategyEnum,
    LeadFilter,
    LeadStatusEnum,
    OfferStatusEnum,
    ScoringCriterionEnum,
)
from prm.graphql.leads.loaders import events_of_leads, offers_of_leads, opportunities_of_leads
from prm.graphql.pagination import BY_ID, Connection
from prm.graphql.partners.types import PartnerType, load_partner
from prm.graphql.relay import Node, register_node
from prm.graphql.scalars import MoneyType
from prm.leads.models import DistributionRule, Lead, LeadEvent, LeadOffer, LeadScoringRule
from prm.leads.rules import readable_rules
from prm.leads.visibility import can_read_offer, is_lead_manager, readable_leads

if TYPE_CHECKING:
    from prm.graphql.tenants.types import UserType

UserRef = Annotated["UserType", strawberry.lazy("prm.graphql.tenants.types")]


async def _user(context: Context, pk: uuid.UUID | None) -> UserType | None:
    from prm.graphql.tenants.types import load_user

    return await load_user(context, pk) if pk else None


@strawberry.type(name="LeadEvent", description="One change of a lead: who, when, what, why.")
class LeadEventType:
    at: datetime
    kind: str = strawberry.field(
        description="CREATED OFFERED POOLED UNROUTABLE ACCEPTED CLAIMED REJECTED EXPIRED "
        "OFFER_WITHDRAWN STATUS_CHANGED ASSIGNED CONVERTED"
    )
    from_status: LeadStatusEnum | None  # type: ignore[valid-type]
    to_status: LeadStatusEnum | None  # type: ignore[valid-type]
    note: str | None
    actor_pk: strawberry.Private[uuid.UUID | None]
    partner_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The user who made the change (null for the system).")
    async def actor(self, info: Info) -> UserRef | None:
        return await _user(info.context, self.actor_pk)

    @strawberry.field(description="The partner the change concerns.")
    async def partner(self, info: Info) -> PartnerType | None:
        return await load_partner(info.context, self.partner_pk) if self.partner_pk else None

    @classmethod
    def from_model(cls, event: LeadEvent) -> LeadEventType:
        return cls(
            at=event.at,
            kind=event.kind,
            from_status=event.from_status,
            to_status=event.to_status,
            note=event.note,
            actor_pk=event.actor_id,
            partner_pk=event.partner_id,
        )


@strawberry.type(name="Lead", description="A prospective customer, distributed to partners.")
class LeadType(Node):
    status: LeadStatusEnum  # type: ignore[valid-type]
    source: str | None
    company_name: str
    contact_name: str | None
    email: str | None
    phone: str | None = strawberry.field(description="E.164.")
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2.")
    region: str | None
    postal_code: str | None
    industry: str | None
    product_interest: list[str]
    estimated_value: MoneyType | None
    score: int = strawberry.field(description="0-100: fit and engagement (leadScoringRules).")
    created_at: datetime
    updated_at: datetime
    partner_pk: strawberry.Private[uuid.UUID | None]
    owner_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The partner holding the lead (after accept or claim).")
    async def partner(self, info: Info) -> PartnerType | None:
        return await load_partner(info.context, self.partner_pk) if self.partner_pk else None

    @strawberry.field(description="The partner user working the lead (assignLead).")
    async def owner(self, info: Info) -> UserRef | None:
        return await _user(info.context, self.owner_pk)

    @strawberry.field(description="Offers of this lead, oldest first (a partner: its own).")
    async def offers(self, info: Info) -> list[LeadOfferType]:
        rows = await offers_of_leads(info.context).load(self.pk)
        return [LeadOfferType.from_model(row) for row in rows]

    @strawberry.field(description="Every change, oldest first.")
    async def history(self, info: Info) -> list[LeadEventType]:
        rows = await events_of_leads(info.context).load(self.pk)
        return [LeadEventType.from_model(row) for row in rows]

    @strawberry.field(description="The opportunity it was converted into.")
    async def opportunity(self, info: Info) -> OpportunityType | None:
        row = await opportunities_of_leads(info.context).load(self.pk)
        return OpportunityType.from_model(row) if row else None

    @classmethod
    def from_model(cls, lead: Lead) -> LeadType:
        return cls.from_row(
            lead,
            product_interest=list(lead.product_interest or []),
            estimated_value=MoneyType.maybe(lead.estimated_value, lead.currency),
            partner_pk=lead.partner_id,
            owner_pk=lead.owner_id,
        )


@strawberry.type(name="LeadOffer", description="A lead offered to one partner until expiresAt.")
class LeadOfferType(Node):
    status: OfferStatusEnum  # type: ignore[valid-type]
    offered_at: datetime
    expires_at: datetime
    responded_at: datetime | None
    reject_reason: str | None
    lead_pk: strawberry.Private[uuid.UUID]
    partner_pk: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def lead(self, info: Info) -> LeadType:
        # Whoever sees an offer sees its lead (a partner sees the leads offered to it).
        row = await info.context.loaders.by_id(Lead).load(self.lead_pk)
        assert row is not None  # an offer is deleted with its lead
        return LeadType.from_model(row)

    @strawberry.field
    async def partner(self, info: Info) -> PartnerType:
        partner = await load_partner(info.context, self.partner_pk)
        assert partner is not None  # staff see every partner, a partner user its own
        return partner

    @classmethod
    def from_model(cls, offer: LeadOffer) -> LeadOfferType:
        return cls.from_row(offer, lead_pk=offer.lead_id, partner_pk=offer.partner_id)


@strawberry.type(name="DistributionRule", description="Where matching leads go.")
class DistributionRuleType(Node):
    name: str
    priority: int
    mode: DistributionModeEnum  # type: ignore[valid-type]
    strategy: DistributionStrategyEnum  # type: ignore[valid-type]
    countries: list[str]
    regions: list[str]
    postal_prefixes: list[str]
    capabilities: list[str]
    min_tier_rank: int | None
    min_lead_score: int | None
    offer_sla_hours: int | None
    active: bool
    created_at: datetime

    @classmethod
    def from_model(cls, rule: DistributionRule) -> DistributionRuleType:
        return cls.from_row(
            rule,
            countries=list(rule.countries or []),
            regions=list(rule.regions or []),
            postal_prefixes=list(rule.postal_prefixes or []),
            capabilities=list(rule.capabilities or []),
        )


@strawberry.type(name="LeadScoringRule", description="Points a lead earns for fit or engagement.")
class LeadScoringRuleType:
    criterion: ScoringCriterionEnum  # type: ignore[valid-type]
    points: int
    values: list[str]
    min_value: MoneyType | None
    max_points: int | None

    @classmethod
    def from_model(cls, rule: LeadScoringRule) -> LeadScoringRuleType:
        return cls(
            criterion=rule.criterion,
            points=rule.points,
            values=list(rule.values or []),
            min_value=MoneyType.maybe(rule.min_amount, rule.currency),
            max_points=rule.max_points,
        )


async def load_lead(context: Context, pk: uuid.UUID) -> LeadType | None:
    """The lead if the caller may see it, else None."""
    if context.principal is None:
        return None
    row = await context.session.scalar(readable_leads(context.principal).where(Lead.id == pk))
    return LeadType.from_model(row) if row else None


async def load_offer(context: Context, pk: uuid.UUID) -> LeadOfferType | None:
    """The offer if the caller may see it (staff, or the offered partner), else None."""
    if context.principal is None:
        return None
    row = await context.loaders.by_id(LeadOffer).load(pk)
    if row is None or not can_read_offer(context.principal, row):
        return None
    return LeadOfferType.from_model(row)


async def load_rule(context: Context, pk: uuid.UUID) -> DistributionRuleType | None:
    principal = context.principal
    if principal is None or not is_lead_manager(principal):
        return None
    row = await context.session.scalar(readable_rules(principal).where(DistributionRule.id == pk))
    return DistributionRuleType.from_model(row) if row else None


register_node(LeadType)(load_lead)
register_node(LeadOfferType)(load_offer)
register_node(DistributionRuleType)(load_rule)


def _lead_criteria(filter: LeadFilter | None) -> Hashable:
    """The filter as a hashable key (sibling partners asking the same share one query)."""
    if filter is None:
        return None
    return tuple(
        (name, tuple(value) if isinstance(value, list) else value)
        for name, value in sorted(vars(filter).items())
    )


def _narrow(statement: Select[Lead], criteria: Any) -> Select[Lead]:
    values: dict[str, Any] = {
        name: list(value) if isinstance(value, tuple) else value for name, value in criteria
    }
    return LeadFilter(**values).apply(statement)


READABLE.setdefault(Lead, readable_leads)
PARTNER_LEADS = Relation("partner.leads", Lead, Lead.partner_id, LeadType.from_model, _narrow)


async def partner_leads(
    info: Info,
    partner_id: uuid.UUID,
    *,
    first: int | None,
    after: str | None,
    filter: LeadFilter | None,
) -> Connection[LeadType]:
    """`Partner.leads`: batched across every partner on the page (one statement)."""
    return await nested_page(
        info,
        PARTNER_LEADS,
        partner_id,
        first=first,
        after=after,
        order=BY_ID,
        criteria=_lead_criteria(filter),
    )
