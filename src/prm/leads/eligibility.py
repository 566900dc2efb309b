"""Which partners may receive a lead: one SQL predicate, used set-wise everywhere.

A partner is eligible for a lead under a rule when it is ACTIVE, not paused
(`leads_paused_until` in the future: `prm.leads.sla_policy`), covers the lead's
territory, has every capability the rule asks for, and its tier ranks at least the rule's
`minTierRank`. A capability the tenant ties to a certification (`capability_certifications`)
counts only while one of the partner's users holds that certification unexpired.
Territory: a partner with a country takes leads of that country only; with a region,
leads of that region only (case-insensitive); with postal prefixes, leads whose postal
code starts with one of them (spaces ignored). A partner without a country, region or
prefixes is not restricted on that dimension.

For an offer two more conditions apply (`offer_conditions`): its open leads (leads it
holds in ACCEPTED/WORKING/QUALIFIED plus offers PENDING with it) are below its capacity,
and it has not been offered this lead before.

The same builder serves routing (lead and rule values as bound parameters) and the pool
(`leadPool`, `claimLead`: the lead's and its rule's columns), so the rule is written once.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.orm import QueryableAttribute, aliased
from sqlalchemy.types import Integer, String

from prm.employees.training import partner_has_current_certification
from prm.leads.models import (
    HELD_STATUSES,
    DistributionRule,
    Lead,
    LeadOffer,
    OfferStatus,
)
from prm.partners.models import CapabilityCertification, Partner, PartnerStatus, PartnerTier

Value = ColumnElement[Any] | Any


def _expr(value: Value, type_: Any = String()) -> ColumnElement[Any]:
    if isinstance(value, ColumnElement | QueryableAttribute):
        return value  # type: ignore[return-value]
    if value is None:
        return null()
    return cast(literal(value, type_), type_)


# Aliases are built once: constructing one per call costs more than the query it serves
# (each builds an adapter); every use sits in its own subquery scope, so sharing is safe.
_TIER = aliased(PartnerTier, name="eligible_tier")
_OFFERED = aliased(LeadOffer, name="earlier_offer")
_RULE = aliased(DistributionRule, name="lead_rule")
_CLAIMER = aliased(Partner, name="claimer")
_REQUIREMENT = aliased(CapabilityCertification, name="required_certification")


def certified_for(partner: Any, capabilities: ColumnElement[Any]) -> ColumnElement[bool]:
    """No capability in `capabilities` requires a certification that none of the
    partner's users holds unexpired now (one index probe per required certification)."""
    requirement = _REQUIREMENT
    return ~exists().where(
        requirement.tenant_id == partner.tenant_id,
        capabilities.op("@>")(array([requirement.capability], type_=String(100))),
        ~partner_has_current_certification(
            partner.id, requirement.certification, func.now(), tenant_id=partner.tenant_id
        ),
    )


def covers_lead(
    *,
    country: Value,
    region: Value,
    postal_code: Value,
    capabilities: Value,
    min_tier_rank: Value,
    partner: Any = Partner,
) -> ColumnElement[bool]:
    """`partner` (a Partner entity or alias) is ACTIVE, its lead delivery is not paused
    (the lead-SLA policy or an admin), covers the territory and meets the
    rule's capabilities and tier. Values are SQL expressions or plain Python values."""
    country_sql = _expr(country)
    region_sql = _expr(region)
    postal_sql = func.replace(_expr(postal_code), " ", "")
    capabilities_sql = _expr(capabilities, ARRAY(String(100)))
    prefix = (
        func.unnest(partner.postal_prefixes).table_valued("value").render_derived(name="prefix")
    )
    tier = _TIER
    tier_rank = (
        select(tier.rank)
        .where(tier.tenant_id == partner.tenant_id, tier.id == partner.tier_id)
        .correlate_except(tier)
        .scalar_subquery()
    )
    min_rank_sql = _expr(min_tier_rank, Integer())
    return and_(
        partner.status == PartnerStatus.ACTIVE,
        or_(partner.leads_paused_until.is_(None), partner.leads_paused_until <= func.now()),
        or_(partner.country.is_(None), partner.country == country_sql),
        or_(partner.region.is_(None), func.upper(partner.region) == func.upper(region_sql)),
        or_(
            func.cardinality(partner.postal_prefixes) == 0,
            select(prefix.c.value)
            .where(func.starts_with(postal_sql, func.replace(prefix.c.value, " ", "")))
            .correlate_except(prefix)
            .exists(),
        ),
        or_(
            capabilities_sql.is_(None),
            and_(
                partner.capabilities.op("@>")(capabilities_sql),
                certified_for(partner, capabilities_sql),
            ),
        )
        if capabilities is not None
        else true(),
        or_(min_rank_sql.is_(None), tier_rank >= min_rank_sql)
        if min_tier_rank is not None
        else true(),
    )


def open_lead_count(partner: Any = Partner) -> ColumnElement[int]:
    """Leads the partner holds open plus offers pending with it: what capacity limits."""
    held = (
        select(func.count())
        .select_from(Lead)
        .where(
            Lead.tenant_id == partner.tenant_id,
            Lead.partner_id == partner.id,
            Lead.status.in_(HELD_STATUSES),
        )
        .correlate_except(Lead)
        .scalar_subquery()
    )
    pending = (
        select(func.count())
        .select_from(LeadOffer)
        .where(
            LeadOffer.tenant_id == partner.tenant_id,
            LeadOffer.partner_id == partner.id,
            LeadOffer.status == OfferStatus.PENDING,
        )
        .correlate_except(LeadOffer)
        .scalar_subquery()
    )
    return held + pending


def below_capacity(partner: Any = Partner) -> ColumnElement[bool]:
    return or_(partner.capacity.is_(None), open_lead_count(partner) < partner.capacity)


def offer_conditions(lead_id: uuid.UUID, partner: Any = Partner) -> ColumnElement[bool]:
    """Below capacity, and never offered this lead (so re-routing moves on)."""
    offered = _OFFERED
    return and_(
        below_capacity(partner),
        ~exists().where(
            offered.tenant_id == partner.tenant_id,
            offered.lead_id == lead_id,
            offered.partner_id == partner.id,
        ),
    )


def partner_may_claim(partner_id: uuid.UUID) -> ColumnElement[bool]:
    """For a pooled `Lead` row: the partner is eligible under the lead's rule (a lead whose
    rule was deleted keeps the territory condition only)."""
    rule, me = _RULE, _CLAIMER
    rule_capabilities = (
        select(rule.capabilities)
        .where(rule.tenant_id == Lead.tenant_id, rule.id == Lead.rule_id)
        .correlate(Lead)
        .scalar_subquery()
    )
    rule_min_rank = (
        select(rule.min_tier_rank)
        .where(rule.tenant_id == Lead.tenant_id, rule.id == Lead.rule_id)
        .correlate(Lead)
        .scalar_subquery()
    )
    return (
        select(me.id)
        .where(
            me.tenant_id == Lead.tenant_id,
            me.id == partner_id,
            covers_lead(
                country=Lead.country,
                region=Lead.region,
                postal_code=Lead.postal_code,
                capabilities=rule_capabilities,
                min_tier_rank=rule_min_rank,
                partner=me,
            ),
        )
        .correlate(Lead)
        .exists()
    )
