"""Inputs, filters and orderings of the leads API, and their translation into the
domain's terms. An id in a filter that names nothing matches nothing."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

import strawberry
from sqlalchemy import Select

from prm.crm.fields import like_pattern
from prm.graphql.pagination import BY_ID, OrderDirection, Ordering
from prm.graphql.relay import pk_of
from prm.graphql.scalars import MoneyInput
from prm.leads.fields import LeadFields, country_code, normalise_lead
from prm.leads.models import (
    DistributionMode,
    DistributionStrategy,
    Lead,
    LeadOffer,
    LeadStatus,
    OfferStatus,
    ScoringCriterion,
)
from prm.leads.rules import RuleChanges
from prm.leads.scoring import ScoringRuleSpec

LeadStatusEnum = strawberry.enum(LeadStatus, name="LeadStatus")
OfferStatusEnum = strawberry.enum(OfferStatus, name="OfferStatus")
DistributionModeEnum = strawberry.enum(DistributionMode, name="DistributionMode")
DistributionStrategyEnum = strawberry.enum(DistributionStrategy, name="DistributionStrategy")
ScoringCriterionEnum = strawberry.enum(
    ScoringCriterion, name="ScoringCriterion", description="What a lead scoring rule looks at."
)


@strawberry.input
class CreateLeadInput:
    company_name: str
    contact_name: str | None = None
    email: str | None = None
    phone: str | None = strawberry.field(
        default=None, description="Any common format; stored as E.164."
    )
    country: str | None = strawberry.field(
        default=None, description="ISO 3166: alpha-2, alpha-3 or the English name."
    )
    region: str | None = strawberry.field(
        default=None, description="A subdivision (code or name) of the country, or free text."
    )
    postal_code: str | None = None
    product_interest: list[str] | None = None
    estimated_value: MoneyInput | None = None
    source: str | None = None
    industry: str | None = None
    allow_duplicate: bool = strawberry.field(
        default=False,
        description="Capture even if it duplicates an open lead, a contact or an account.",
    )
    campaign_id: strawberry.ID | None = strawberry.field(
        default=None, description="The marketing campaign the lead came from (attribution)."
    )

    def fields(self) -> LeadFields:
        return normalise_lead(
            company_name=self.company_name,
            contact_name=self.contact_name,
            email=self.email,
            phone=self.phone,
            country=self.country,
            region=self.region,
            postal_code_value=self.postal_code,
            industry=self.industry,
            product_interest=self.product_interest,
            estimated_value=(
                (self.estimated_value.amount, self.estimated_value.currency)
                if self.estimated_value
                else None
            ),
            source=self.source,
        )


@strawberry.input(description="Only the fields given change; an empty string clears one.")
class UpdateLeadInput:
    company_name: str | None = None
    contact_name: str | None = None
    email: str | None = None
    phone: str | None = None
    country: str | None = None
    region: str | None = None
    postal_code: str | None = None
    product_interest: list[str] | None = None
    estimated_value: MoneyInput | None = None
    source: str | None = None
    industry: str | None = None
    allow_duplicate: bool = False

    def changes(self) -> dict[str, Any]:
        """The given fields by their domain names (`capture.EDITABLE`)."""
        given: dict[str, Any] = {
            "company_name": self.company_name,
            "contact_name": self.contact_name,
            "email": self.email,
            "phone": self.phone,
            "country": self.country,
            "region": self.region,
            "postal_code": self.postal_code,
            "product_interest": self.product_interest,
            "industry": self.industry,
            "source": self.source,
            "estimated_value": (
                (self.estimated_value.amount, self.estimated_value.currency)
                if self.estimated_value
                else None
            ),
        }
        return {name: value for name, value in given.items() if value is not None}


@strawberry.input
class ConvertLeadInput:
    opportunity_name: str
    amount: MoneyInput | None = None
    account_name: str | None = strawberry.field(
        default=None, description="Defaults to the lead's company name."
    )
    close_date: date | None = None


@strawberry.input
class CreateDistributionRuleInput:
    name: str
    priority: int = strawberry.field(description="Lowest first.")
    mode: DistributionModeEnum  # type: ignore[valid-type]
    strategy: DistributionStrategyEnum | None = None  # type: ignore[valid-type]
    countries: list[str] | None = None
    regions: list[str] | None = None
    postal_prefixes: list[str] | None = None
    capabilities: list[str] | None = None
    min_tier_rank: int | None = None
    min_lead_score: int | None = None
    offer_sla_hours: int | None = strawberry.field(
        default=None, description="Defaults to the tenant's offerSlaHours."
    )
    active: bool | None = None

    def changes(self) -> RuleChanges:
        return _rule_changes(self)


@strawberry.input(description="Only the fields given change.")
class UpdateDistributionRuleInput:
    name: str | None = None
    priority: int | None = None
    mode: DistributionModeEnum | None = None  # type: ignore[valid-type]
    strategy: DistributionStrategyEnum | None = None  # type: ignore[valid-type]
    countries: list[str] | None = None
    regions: list[str] | None = None
    postal_prefixes: list[str] | None = None
    capabilities: list[str] | None = None
    min_tier_rank: int | None = None
    min_lead_score: int | None = None
    offer_sla_hours: int | None = None
    active: bool | None = None

    def changes(self) -> RuleChanges:
        return _rule_changes(self)


def _rule_changes(given: CreateDistributionRuleInput | UpdateDistributionRuleInput) -> RuleChanges:
    return RuleChanges(
        name=given.name,
        priority=given.priority,
        mode=DistributionMode(given.mode) if given.mode else None,
        strategy=DistributionStrategy(given.strategy) if given.strategy else None,
        countries=given.countries,
        regions=given.regions,
        postal_prefixes=given.postal_prefixes,
        capabilities=given.capabilities,
        min_tier_rank=given.min_tier_rank,
        min_lead_score=given.min_lead_score,
        offer_sla_hours=given.offer_sla_hours,
        active=given.active,
    )


@strawberry.input(description="One lead scoring rule; see leadScoringRules.")
class LeadScoringRuleInput:
    criterion: ScoringCriterionEnum  # type: ignore[valid-type]
    points: int = strawberry.field(
        description="-100..100; for ENGAGEMENT, points per activity on the lead."
    )
    values: list[str] | None = strawberry.field(
        default=None, description="COUNTRY, REGION, INDUSTRY, PRODUCT_INTEREST: what matches."
    )
    min_value: MoneyInput | None = strawberry.field(
        default=None, description="MIN_ESTIMATED_VALUE: the threshold, in its currency."
    )
    max_points: int | None = strawberry.field(
        default=None, description="ENGAGEMENT: the most it adds (default 100)."
    )

    def spec(self) -> ScoringRuleSpec:
        return ScoringRuleSpec(
            criterion=ScoringCriterion(self.criterion),
            points=self.points,
            values=tuple(self.values or ()),
            min_amount=self.min_value.amount if self.min_value else None,
            currency=self.min_value.currency if self.min_value else None,
            max_points=self.max_points,
        )


NOTHING = uuid.UUID(int=0)


def filter_pk(value: strawberry.ID | None, type_name: str) -> uuid.UUID | None:
    if value is None:
        return None
    return pk_of(value, type_name) or NOTHING


@strawberry.input(description="All given conditions must hold.")
class LeadFilter:
    status: LeadStatusEnum | None = None  # type: ignore[valid-type]
    statuses: list[LeadStatusEnum] | None = None  # type: ignore[valid-type]
    partner_id: strawberry.ID | None = None
    owner_id: strawberry.ID | None = strawberry.field(default=None, description="A User.")
    country: str | None = None
    region: str | None = None
    min_score: int | None = None
    source: str | None = None
    search: str | None = strawberry.field(default=None, description="Part of the company name.")
    created_after: datetime | None = None
    created_before: datetime | None = None

    def apply(self, statement: Select[Lead]) -> Select[Lead]:
        if self.status is not None:
            statement = statement.where(Lead.status == LeadStatus(self.status))
        if self.statuses is not None:
            statement = statement.where(Lead.status.in_([LeadStatus(s) for s in self.statuses]))
        if self.partner_id is not None:
            statement = statement.where(Lead.partner_id == filter_pk(self.partner_id, "Partner"))
        if self.owner_id is not None:
            statement = statement.where(Lead.owner_id == filter_pk(self.owner_id, "User"))
        if self.country is not None:
            statement = statement.where(Lead.country == country_code(self.country))
        if self.region is not None:
            statement = statement.where(Lead.region == self.region.strip())
        if self.min_score is not None:
            statement = statement.where(Lead.score >= self.min_score)
        if self.source is not None:
            statement = statement.where(Lead.source == self.source.strip())
        if self.search and self.search.strip():
            statement = statement.where(
                Lead.company_name.ilike(like_pattern(self.search), escape="\\")
            )
        if self.created_after is not None:
            statement = statement.where(Lead.created_at >= self.created_after)
        if self.created_before is not None:
            statement = statement.where(Lead.created_at < self.created_before)
        return statement


@strawberry.enum(name="LeadOrderField")
class LeadOrderField(enum.Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    SCORE = "score"
    COMPANY_NAME = "company_name"


@strawberry.input
class LeadOrder:
    field: LeadOrderField
    direction: OrderDirection = OrderDirection.ASC


def lead_ordering(order: LeadOrder | None) -> Ordering:
    if order is None:
        return BY_ID
    return Ordering.by(getattr(Lead, order.field.value), order.direction)


@strawberry.input
class LeadOfferFilter:
    status: OfferStatusEnum | None = None  # type: ignore[valid-type]
    lead_id: strawberry.ID | None = None
    partner_id: strawberry.ID | None = None

    def apply(self, statement: Select[LeadOffer]) -> Select[LeadOffer]:
        if self.status is not None:
            statement = statement.where(LeadOffer.status == OfferStatus(self.status))
        if self.lead_id is not None:
            statement = statement.where(LeadOffer.lead_id == filter_pk(self.lead_id, "Lead"))
        if self.partner_id is not None:
            statement = statement.where(
                LeadOffer.partner_id == filter_pk(self.partner_id, "Partner")
            )
        return statement
