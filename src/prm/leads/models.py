"""Tables of the leads domain: leads, their offers and history, distribution and scoring
rules, and the platform table of pending offer deadlines the scheduler scans."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import MONEY, Base, TenantOwned, tenant_fk


class LeadStatus(enum.StrEnum):
    NEW = "NEW"
    OFFERED = "OFFERED"
    POOLED = "POOLED"
    ACCEPTED = "ACCEPTED"
    WORKING = "WORKING"
    QUALIFIED = "QUALIFIED"
    CONVERTED = "CONVERTED"
    LOST = "LOST"
    DISQUALIFIED = "DISQUALIFIED"
    UNROUTABLE = "UNROUTABLE"


OPEN_STATUSES = frozenset(
    {
        LeadStatus.NEW,
        LeadStatus.OFFERED,
        LeadStatus.POOLED,
        LeadStatus.ACCEPTED,
        LeadStatus.WORKING,
        LeadStatus.QUALIFIED,
        LeadStatus.UNROUTABLE,
    }
)
"""Not yet converted, lost or disqualified: what duplicate detection compares against."""

HELD_STATUSES = frozenset({LeadStatus.ACCEPTED, LeadStatus.WORKING, LeadStatus.QUALIFIED})
"""A partner holds the lead and works it: these count against the partner's capacity."""


class OfferStatus(enum.StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    WITHDRAWN = "WITHDRAWN"


class DistributionMode(enum.StrEnum):
    OFFER = "OFFER"
    POOL = "POOL"


class DistributionStrategy(enum.StrEnum):
    ROUND_ROBIN = "ROUND_ROBIN"
    WEIGHTED = "WEIGHTED"
    PERFORMANCE = "PERFORMANCE"


class ScoringCriterion(enum.StrEnum):
    """What a fit rule looks at; `ENGAGEMENT` awards points per activity on the lead."""

    COUNTRY = "COUNTRY"
    REGION = "REGION"
    INDUSTRY = "INDUSTRY"
    PRODUCT_INTEREST = "PRODUCT_INTEREST"
    MIN_ESTIMATED_VALUE = "MIN_ESTIMATED_VALUE"
    ENGAGEMENT = "ENGAGEMENT"


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    return Enum(kind, name=name, native_enum=False, length=16)


class DistributionRule(TenantOwned, Base):
    """Decides where a matching lead goes: offered to one partner, or pooled.

    `rr_cursor` is the round-robin position, advanced by one atomic UPDATE per routing
    decision, so rotation is fair across concurrent requests and processes."""

    __tablename__ = "distribution_rules"
    __table_args__ = (
        Index("uq_distribution_rules_tenant_name", "tenant_id", "name", unique=True),
        Index("ix_distribution_rules_tenant_priority", "tenant_id", "priority", "id"),
        CheckConstraint("offer_sla_hours IS NULL OR offer_sla_hours > 0", name="sla_positive"),
        CheckConstraint(
            "min_lead_score IS NULL OR min_lead_score BETWEEN 0 AND 100", name="score_range"
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer)
    mode: Mapped[DistributionMode] = mapped_column(_enum(DistributionMode, "distribution_mode"))
    strategy: Mapped[DistributionStrategy] = mapped_column(
        _enum(DistributionStrategy, "distribution_strategy"),
        default=DistributionStrategy.ROUND_ROBIN,
    )
    countries: Mapped[list[str]] = mapped_column(ARRAY(String(2)), default=list)
    regions: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    postal_prefixes: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list)
    capabilities: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    min_tier_rank: Mapped[int | None] = mapped_column(Integer)
    min_lead_score: Mapped[int | None] = mapped_column(Integer)
    offer_sla_hours: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"), default=True)
    rr_cursor: Mapped[int] = mapped_column(BigInteger, server_default="0", default=0)


class Lead(TenantOwned, Base):
    __tablename__ = "leads"
    __table_args__ = (
        tenant_fk("partner_id", "partners"),
        tenant_fk("owner_id", "users", "SET NULL (owner_id)"),
        tenant_fk("rule_id", "distribution_rules", "SET NULL (rule_id)"),
        tenant_fk("created_by", "users", "SET NULL (created_by)"),
        tenant_fk("campaign_id", "campaigns", "SET NULL (campaign_id)"),
        Index("ix_leads_tenant_campaign", "tenant_id", "campaign_id"),
        CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
        CheckConstraint(
            "estimated_value IS NULL OR estimated_value >= 0", name="estimated_value_nonneg"
        ),
        CheckConstraint(
            "(estimated_value IS NULL) = (currency IS NULL)", name="estimated_value_currency"
        ),
        Index("ix_leads_tenant_status", "tenant_id", "status", "id"),
        Index("ix_leads_tenant_partner_status", "tenant_id", "partner_id", "status"),
        Index("ix_leads_tenant_owner", "tenant_id", "owner_id"),
        Index("ix_leads_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_leads_tenant_updated", "tenant_id", "updated_at", "id"),
        Index("ix_leads_tenant_score", "tenant_id", "score", "id"),
        Index("ix_leads_tenant_company", "tenant_id", "company_name", "id"),
        Index("ix_leads_tenant_country", "tenant_id", "country", "region"),
        Index("ix_leads_tenant_rule", "tenant_id", "rule_id"),
        Index("ix_leads_tenant_region", "tenant_id", "region"),
        Index("ix_leads_tenant_source", "tenant_id", "source"),
        # Duplicate detection compares against open leads only.
        Index(
            "ix_leads_open_email",
            "tenant_id",
            "email",
            postgresql_where=text(
                "status NOT IN ('CONVERTED', 'LOST', 'DISQUALIFIED') AND email IS NOT NULL"
            ),
        ),
        # Segments' lead-score filter: a contact's leads by email, any status.
        Index(
            "ix_leads_tenant_email_score",
            "tenant_id",
            "email",
            "score",
            postgresql_where=text("email IS NOT NULL"),
        ),
        Index(
            "ix_leads_open_company_domain",
            "tenant_id",
            "normalized_company",
            "email_domain",
            postgresql_where=text("status NOT IN ('CONVERTED', 'LOST', 'DISQUALIFIED')"),
        ),
        Index(
            "ix_leads_pooled",
            "tenant_id",
            "id",
            postgresql_where=text("status = 'POOLED'"),
        ),
        Index(
            "ix_leads_company_trgm",
            "company_name",
            postgresql_using="gin",
            postgresql_ops={"company_name": "gin_trgm_ops"},
        ),
    )

    status: Mapped[LeadStatus] = mapped_column(
        _enum(LeadStatus, "lead_status"), default=LeadStatus.NEW
    )
    source: Mapped[str | None] = mapped_column(String(100))
    company_name: Mapped[str] = mapped_column(String(200))
    normalized_company: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    email_domain: Mapped[str | None] = mapped_column(String(253))
    phone: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    industry: Mapped[str | None] = mapped_column(String(100))
    product_interest: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    estimated_value: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    score: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    partner_id: Mapped[uuid.UUID | None] = mapped_column()
    """The partner holding the lead (set on accept or claim)."""
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    """The partner rep working it (`assignLead`)."""
    rule_id: Mapped[uuid.UUID | None] = mapped_column()
    """The distribution rule that routed it last; a pooled lead's eligibility reads it."""
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    campaign_id: Mapped[uuid.UUID | None] = mapped_column()
    """The marketing campaign that generated the lead, if any."""
    routed_at: Mapped[datetime | None] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()


class LeadOffer(TenantOwned, Base):
    """A lead offered to one partner, to accept before `expires_at`. At most one PENDING
    offer per lead (a partial unique index)."""

    __tablename__ = "lead_offers"
    __table_args__ = (
        tenant_fk("lead_id", "leads", "CASCADE"),
        tenant_fk("partner_id", "partners", "CASCADE"),
        tenant_fk("rule_id", "distribution_rules", "SET NULL (rule_id)"),
        tenant_fk("responded_by", "users", "SET NULL (responded_by)"),
        Index(
            "uq_lead_offers_one_pending",
            "tenant_id",
            "lead_id",
            unique=True,
            postgresql_where=text("status = 'PENDING'"),
        ),
        Index("ix_lead_offers_tenant_lead", "tenant_id", "lead_id", "partner_id"),
        Index("ix_lead_offers_tenant_partner_status", "tenant_id", "partner_id", "status", "id"),
        Index("ix_lead_offers_tenant_status", "tenant_id", "status", "id"),
    )

    lead_id: Mapped[uuid.UUID] = mapped_column()
    partner_id: Mapped[uuid.UUID] = mapped_column()
    rule_id: Mapped[uuid.UUID | None] = mapped_column()
    status: Mapped[OfferStatus] = mapped_column(
        _enum(OfferStatus, "offer_status"), default=OfferStatus.PENDING
    )
    offered_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column()
    responded_at: Mapped[datetime | None] = mapped_column()
    responded_by: Mapped[uuid.UUID | None] = mapped_column()
    reject_reason: Mapped[str | None] = mapped_column(Text)


class LeadEvent(TenantOwned, Base):
    """One change of a lead: append-only; a lead's events in order are its history."""

    __tablename__ = "lead_events"
    __table_args__ = (
        tenant_fk("lead_id", "leads", "CASCADE"),
        tenant_fk("actor_id", "users", "SET NULL (actor_id)"),
        tenant_fk("partner_id", "partners", "SET NULL (partner_id)"),
        Index("ix_lead_events_tenant_lead", "tenant_id", "lead_id", "at", "id"),
    )

    lead_id: Mapped[uuid.UUID] = mapped_column()
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[LeadStatus | None] = mapped_column(_enum(LeadStatus, "lead_status"))
    to_status: Mapped[LeadStatus | None] = mapped_column(_enum(LeadStatus, "lead_status"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    partner_id: Mapped[uuid.UUID | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)


class LeadScoringRule(TenantOwned, Base):
    """One fit or engagement rule of the tenant's lead scoring (see `prm.leads.scoring`)."""

    __tablename__ = "lead_scoring_rules"
    __table_args__ = (
        Index("ix_lead_scoring_rules_tenant_position", "tenant_id", "position"),
        CheckConstraint("points BETWEEN -100 AND 100", name="points_range"),
        CheckConstraint("max_points IS NULL OR max_points BETWEEN 0 AND 100", name="max_range"),
    )

    position: Mapped[int] = mapped_column(Integer)
    criterion: Mapped[ScoringCriterion] = mapped_column(
        Enum(ScoringCriterion, name="scoring_criterion", native_enum=False, length=24)
    )
    values: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    min_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    points: Mapped[int] = mapped_column(Integer)
    max_points: Mapped[int | None] = mapped_column(Integer)


class SlaPeriodKind(enum.StrEnum):
    MONTH = "MONTH"
    QUARTER = "QUARTER"


class LeadSlaPolicy(TenantOwned, Base):
    """The tenant's lead-SLA policy (at most one row): a partner that lets
    `max_violations` offers expire or rejects them within one period (month or quarter)
    has lead delivery paused until the period ends, unless the policy is inactive."""

    __tablename__ = "lead_sla_policies"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        Index("uq_lead_sla_policies_tenant", "tenant_id", unique=True),
        CheckConstraint("max_violations >= 1", name="max_violations_positive"),
    )

    max_violations: Mapped[int] = mapped_column(Integer)
    period_kind: Mapped[SlaPeriodKind] = mapped_column(
        Enum(SlaPeriodKind, name="sla_period_kind", native_enum=False, length=8),
        default=SlaPeriodKind.MONTH,
    )
    count_rejections: Mapped[bool] = mapped_column(Boolean, default=True)
    """Whether rejected offers count as violations (expired ones always do)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OfferDeadline(Base):
    """When a pending offer expires: ids and a time only, one row per PENDING offer.

    A platform table without RLS (like `job_outbox`): the scheduler has no tenant, so it
    could not see `lead_offers`; one indexed scan of this table finds the tenants with
    offers due. Rows are written and deleted in the tenant transaction that creates or
    answers the offer, so they never outlive it; the composite foreign key removes them
    with their offer.
    """

    __tablename__ = "lead_offer_deadlines"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "offer_id"),
        ForeignKeyConstraint(
            ["tenant_id", "offer_id"],
            ["lead_offers.tenant_id", "lead_offers.id"],
            ondelete="CASCADE",
        ),
        Index("ix_lead_offer_deadlines_expires", "expires_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column()
    offer_id: Mapped[uuid.UUID] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
