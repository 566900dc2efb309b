"""Tables of partner incentives: rules attached to a program (one level or all of its
levels), and the incentives partners earn from them, one row per (rule, deal) or, for
volume rebates, per (rule, partner, period). The unique keys are what makes a retried or
concurrent evaluation count a deal once."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, CheckConstraint, Enum, Index, Integer, Numeric, String, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import MONEY, Base, TenantOwned, tenant_fk


def _enum(kind: type[enum.StrEnum], name: str, length: int = 16) -> Enum:
    return Enum(kind, name=name, native_enum=False, length=length)


class IncentiveKind(enum.StrEnum):
    REVENUE_PERCENT = "REVENUE_PERCENT"
    DEAL_BONUS = "DEAL_BONUS"
    VOLUME_REBATE = "VOLUME_REBATE"
    SPIFF = "SPIFF"


PER_DEAL_KINDS = (IncentiveKind.REVENUE_PERCENT, IncentiveKind.DEAL_BONUS, IncentiveKind.SPIFF)


class DealScope(enum.StrEnum):
    ANY = "ANY"
    PARTNER_SOURCED = "PARTNER_SOURCED"
    """The opportunity came from a lead the partner held (`source_lead_id`)."""
    REGISTERED = "REGISTERED"
    """The partner held an approved deal registration for the company at the close."""


class RebatePeriodKind(enum.StrEnum):
    MONTH = "MONTH"
    QUARTER = "QUARTER"
    YEAR = "YEAR"


class IncentiveRule(TenantOwned, Base):
    """What a partner earns at a program level (`level_id` null: every level of the
    program). Amounts: `percent` of won revenue (REVENUE_PERCENT), `amount` per won deal
    (DEAL_BONUS) or per unit of `product_ids` on the deal's last accepted quote (SPIFF), or
    the highest reached of `tiers` (`[{"threshold", "percent"}]`, ascending) applied to
    the whole revenue of a `period_kind` period (VOLUME_REBATE). A rule applies to deals
    closed in [`starts_at`, `ends_at`)."""

    __tablename__ = "incentive_rules"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("program_id", "channel_programs", "CASCADE"),
        tenant_fk("level_id", "program_levels", "CASCADE"),
        Index("ix_incentive_rules_program", "tenant_id", "program_id", "level_id"),
        CheckConstraint("percent IS NULL OR (percent > 0 AND percent <= 100)", name="percent"),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        CheckConstraint("dispute_days >= 0 AND dispute_days <= 365", name="dispute_days_range"),
        CheckConstraint(
            "ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at", name="window"
        ),
    )

    program_id: Mapped[uuid.UUID] = mapped_column()
    level_id: Mapped[uuid.UUID | None] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[IncentiveKind] = mapped_column(_enum(IncentiveKind, "incentive_kind"))
    deal_scope: Mapped[DealScope] = mapped_column(
        _enum(DealScope, "incentive_deal_scope"), default=DealScope.ANY
    )
    percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    """The currency of `amount` and of rebate revenue; for REVENUE_PERCENT, when set, only
    deals in it count (else any deal, paid in the deal's currency)."""
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb"), default=list
    )
    period_kind: Mapped[RebatePeriodKind | None] = mapped_column(
        _enum(RebatePeriodKind, "rebate_period_kind", 8)
    )
    product_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), default=list)
    starts_at: Mapped[datetime | None] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    dispute_days: Mapped[int] = mapped_column(Integer, default=14)
    created_by: Mapped[uuid.UUID | None] = mapped_column()


class IncentiveStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    PAID = "PAID"
    DISPUTED = "DISPUTED"
    REJECTED = "REJECTED"
    VOID = "VOID"
    """The deal was reopened (or a rebate's partner fell below every tier)."""


class EarnedIncentive(TenantOwned, Base):
    """An incentive a partner earned: from one won deal (`opportunity_id`) or, for a
    volume rebate, from a period (`rebate_period`). `basis` is what the amount was
    computed from: revenue for percentages, units for SPIFFs, 1 for a deal bonus."""

    __tablename__ = "earned_incentives"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("rule_id", "incentive_rules", "CASCADE"),
        tenant_fk("partner_id", "partners", "CASCADE"),
        tenant_fk("opportunity_id", "opportunities", "SET NULL (opportunity_id)"),
        Index("uq_earned_incentives_deal", "tenant_id", "rule_id", "opportunity_id", unique=True),
        Index(
            "uq_earned_incentives_rebate",
            "tenant_id",
            "rule_id",
            "partner_id",
            "rebate_period",
            unique=True,
        ),
        Index("ix_earned_incentives_partner", "tenant_id", "partner_id", "earned_at"),
        Index("ix_earned_incentives_status", "tenant_id", "status", "id"),
        Index("ix_earned_incentives_opportunity", "tenant_id", "opportunity_id"),
        CheckConstraint("amount >= 0", name="amount_nonneg"),
    )

    rule_id: Mapped[uuid.UUID] = mapped_column()
    partner_id: Mapped[uuid.UUID] = mapped_column()
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column()
    rebate_period: Mapped[str | None] = mapped_column(String(7))
    period_start: Mapped[datetime | None] = mapped_column()
    period_end: Mapped[datetime | None] = mapped_column()
    level_id: Mapped[uuid.UUID | None] = mapped_column()
    """The level the partner held when it earned it (no foreign key: history)."""
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    basis: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[IncentiveStatus] = mapped_column(
        _enum(IncentiveStatus, "incentive_status"), default=IncentiveStatus.PENDING
    )
    earned_at: Mapped[datetime] = mapped_column()
    dispute_until: Mapped[datetime] = mapped_column()
    approved_at: Mapped[datetime | None] = mapped_column()
    approved_by: Mapped[uuid.UUID | None] = mapped_column()
    paid_at: Mapped[datetime | None] = mapped_column()
    paid_by: Mapped[uuid.UUID | None] = mapped_column()
    payment_reference: Mapped[str | None] = mapped_column(String(200))
    disputed_at: Mapped[datetime | None] = mapped_column()
    disputed_by: Mapped[uuid.UUID | None] = mapped_column()
    dispute_reason: Mapped[str | None] = mapped_column(String(2000))
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[uuid.UUID | None] = mapped_column()
    resolution_comment: Mapped[str | None] = mapped_column(String(2000))
    voided_at: Mapped[datetime | None] = mapped_column()
