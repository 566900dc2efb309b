"""Snapshot tables the metrics workers write (one row per subject and period, replaced
whole by each recompute), the costs admins record for cost per lead and per sale, and the
marks that ask for a debounced recompute."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import MONEY, Base, TenantOwned, tenant_fk
from prm.leads.models import Lead, LeadEvent, LeadOffer

PERIOD = String(7)


def _tenant() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))


class PartnerScorecardRow(Base):
    """A partner's scorecard for a period (API.md `PartnerScorecard`). Money is in the
    tenant's default currency (`currency`)."""

    __tablename__ = "partner_scorecards"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "period", "partner_id"),
        ForeignKeyConstraint(
            ["tenant_id", "partner_id"], ["partners.tenant_id", "partners.id"], ondelete="CASCADE"
        ),
        Index("ix_partner_scorecards_rank", "tenant_id", "period", "rank"),
        Index("ix_partner_scorecards_partner", "tenant_id", "partner_id", "period"),
    )

    tenant_id: Mapped[uuid.UUID] = _tenant()
    period: Mapped[str] = mapped_column(PERIOD)
    partner_id: Mapped[uuid.UUID] = mapped_column()
    leads_offered: Mapped[int] = mapped_column(Integer)
    leads_accepted: Mapped[int] = mapped_column(Integer)
    leads_rejected: Mapped[int] = mapped_column(Integer)
    leads_expired: Mapped[int] = mapped_column(Integer)
    acceptance_rate: Mapped[float | None] = mapped_column(Float)
    median_hours_to_accept: Mapped[float | None] = mapped_column(Float)
    leads_converted: Mapped[int] = mapped_column(Integer)
    conversion_rate: Mapped[float | None] = mapped_column(Float)
    deals_won: Mapped[int] = mapped_column(Integer)
    deals_lost: Mapped[int] = mapped_column(Integer)
    win_rate: Mapped[float | None] = mapped_column(Float)
    revenue_won: Mapped[Decimal] = mapped_column(MONEY)
    average_deal_size: Mapped[Decimal | None] = mapped_column(MONEY)
    pipeline_value: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    sla_compliance: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    rank: Mapped[int | None] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(server_default=func.now())


class EmployeeScorecardRow(Base):
    """An employee's scorecard for a period (API.md `EmployeeScorecard`)."""

    __tablename__ = "employee_scorecards"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "period", "employee_id"),
        ForeignKeyConstraint(
            ["tenant_id", "employee_id"],
            ["employees.tenant_id", "employees.id"],
            ondelete="CASCADE",
        ),
        Index("ix_employee_scorecards_rank", "tenant_id", "period", "rank"),
        Index("ix_employee_scorecards_employee", "tenant_id", "employee_id", "period"),
    )

    tenant_id: Mapped[uuid.UUID] = _tenant()
    period: Mapped[str] = mapped_column(PERIOD)
    employee_id: Mapped[uuid.UUID] = mapped_column()
    revenue_won: Mapped[Decimal] = mapped_column(MONEY)
    deals_won: Mapped[int] = mapped_column(Integer)
    deals_lost: Mapped[int] = mapped_column(Integer)
    win_rate: Mapped[float | None] = mapped_column(Float)
    activities: Mapped[int] = mapped_column(Integer)
    leads_converted: Mapped[int] = mapped_column(Integer)
    pipeline_value: Mapped[Decimal] = mapped_column(MONEY)
    quota_attainment: Mapped[float | None] = mapped_column(Float)
    commission_earned: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    score: Mapped[float] = mapped_column(Float)
    rank: Mapped[int | None] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CustomerMetricsRow(Base):
    """The tenant's analytical-CRM figures for a period (API.md `CustomerMetrics`)."""

    __tablename__ = "customer_metrics"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "period"),)

    tenant_id: Mapped[uuid.UUID] = _tenant()
    period: Mapped[str] = mapped_column(PERIOD)
    customers: Mapped[int] = mapped_column(Integer)
    new_customers: Mapped[int] = mapped_column(Integer)
    churned_customers: Mapped[int] = mapped_column(Integer)
    churn_rate: Mapped[float | None] = mapped_column(Float)
    repeat_customers: Mapped[int] = mapped_column(Integer)
    average_lifetime_value: Mapped[Decimal | None] = mapped_column(MONEY)
    cost_per_lead: Mapped[Decimal | None] = mapped_column(MONEY)
    cost_per_sale: Mapped[Decimal | None] = mapped_column(MONEY)
    closing_rate: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    computed_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CostKind(enum.StrEnum):
    CAMPAIGN = "CAMPAIGN"
    CHANNEL = "CHANNEL"


class CostEntry(TenantOwned, Base):
    """Money spent on a campaign or a channel on a day: what cost per lead and cost per
    sale divide."""

    __tablename__ = "cost_entries"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        Index("ix_cost_entries_tenant_day", "tenant_id", "incurred_on"),
        Index("ix_cost_entries_tenant_kind_day", "tenant_id", "kind", "incurred_on"),
        tenant_fk("campaign_id", "campaigns", "SET NULL (campaign_id)"),
        Index("ix_cost_entries_tenant_campaign", "tenant_id", "campaign_id"),
        CheckConstraint("amount >= 0", name="amount_nonneg"),
    )

    kind: Mapped[CostKind] = mapped_column(
        Enum(CostKind, name="cost_kind", native_enum=False, length=16)
    )
    name: Mapped[str] = mapped_column(String(200))
    incurred_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    notes: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column()
    """The campaign a CAMPAIGN cost was spent on (campaign metrics read it)."""


class MetricsDirty(Base):
    """A period of a tenant whose scorecards an event made stale (an offer answered, a
    lead converted, an opportunity closed): the scheduler recomputes marked periods a
    few seconds after the last mark (debounced), then clears them. A platform table (no
    row-level security, ids and times only), so the scheduler can scan every tenant."""

    __tablename__ = "metrics_dirty"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "period"),
        Index("ix_metrics_dirty_marked", "marked_at"),
    )

    tenant_id: Mapped[uuid.UUID] = _tenant()
    period: Mapped[str] = mapped_column(PERIOD)
    marked_at: Mapped[datetime] = mapped_column(server_default=func.now())


# The scorecard SQL reads a period's offers, acceptances, conversions and closes by time;
# declared here, beside the queries they serve.
Index("ix_lead_offers_tenant_offered", LeadOffer.tenant_id, LeadOffer.offered_at)
Index("ix_lead_offers_tenant_responded", LeadOffer.tenant_id, LeadOffer.responded_at)
Index("ix_leads_tenant_accepted", Lead.tenant_id, Lead.accepted_at)
Index("ix_lead_events_tenant_status_at", LeadEvent.tenant_id, LeadEvent.to_status, LeadEvent.at)
# Offers that expired in a period (without it every expired offer ever is read), and
# "was this claimed lead also an accepted offer" as one probe per lead.
Index(
    "ix_lead_offers_tenant_expired",
    LeadOffer.tenant_id,
    LeadOffer.expires_at,
    postgresql_where=LeadOffer.status == "EXPIRED",
)
Index(
    "ix_lead_offers_tenant_lead_accepted",
    LeadOffer.tenant_id,
    LeadOffer.lead_id,
    postgresql_where=LeadOffer.status == "ACCEPTED",
)
