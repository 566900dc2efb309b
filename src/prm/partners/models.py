"""Tables of the partners domain."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Enum,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import Base, TenantOwned, tenant_fk


class PartnerStatus(enum.StrEnum):
    ONBOARDING = "ONBOARDING"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


SCORE_SORT_KEY = text("COALESCE(performance_score, '-Infinity'::double precision)")
"""Unscored partners sort as the lowest score; the index carries the same expression."""
TIER_SORT_KEY = text("COALESCE(tier_rank, 2147483647)")
"""Partners without a tier sort after every tier."""


class PartnerTier(TenantOwned, Base):
    __tablename__ = "partner_tiers"
    __mapper_args__ = {"eager_defaults": True}  # updated_at comes back with the UPDATE
    __table_args__ = (
        Index("uq_partner_tiers_tenant_name", "tenant_id", "name", unique=True),
        CheckConstraint("discount_percent >= 0 AND discount_percent <= 100", name="discount_range"),
        CheckConstraint("lead_weight >= 0", name="lead_weight_nonneg"),
    )

    name: Mapped[str] = mapped_column(String(100))
    rank: Mapped[int] = mapped_column(Integer)
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    lead_weight: Mapped[Decimal] = mapped_column(Numeric(10, 3))


class Partner(TenantOwned, Base):
    __tablename__ = "partners"
    __mapper_args__ = {"eager_defaults": True}  # updated_at comes back with the UPDATE
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "tier_id"],
            ["partner_tiers.tenant_id", "partner_tiers.id"],
            ondelete="RESTRICT",
        ),
        Index("ix_partners_tenant_status", "tenant_id", "status"),
        Index("ix_partners_tenant_tier", "tenant_id", "tier_id"),
        Index("ix_partners_tenant_country", "tenant_id", "country", "region"),
        Index("ix_partners_tenant_name", "tenant_id", "name", "id"),
        Index("ix_partners_tenant_region", "tenant_id", "region"),
        Index("ix_partners_tenant_score", "tenant_id", SCORE_SORT_KEY, "id"),
        Index("ix_partners_tenant_tier_rank", "tenant_id", TIER_SORT_KEY, "id"),
        Index("ix_partners_capabilities", "capabilities", postgresql_using="gin"),
        Index(
            "ix_partners_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_nonneg"),
        CheckConstraint(
            "discount_percent IS NULL OR (discount_percent >= 0 AND discount_percent <= 100)",
            name="discount_range",
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[PartnerStatus] = mapped_column(
        Enum(PartnerStatus, name="partner_status", native_enum=False, length=16),
        default=PartnerStatus.ONBOARDING,
    )
    tier_id: Mapped[uuid.UUID | None] = mapped_column()
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_prefixes: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list)
    capabilities: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    capacity: Mapped[int | None] = mapped_column(Integer)
    performance_score: Mapped[float | None] = mapped_column(Float)
    discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    """The partner's own discount on every price (the PARTNER pricing step), on top of its
    tier's."""
    notes: Mapped[str | None] = mapped_column(Text)
    tier_rank: Mapped[int | None] = mapped_column(Integer)
    """A copy of the tier's rank so tier order is an index scan. Database triggers keep it
    (migration c25ec0f047da): it follows `tier_id` and the tier's rank, whoever writes."""
    status_reason: Mapped[str | None] = mapped_column(String(500))
    status_changed_at: Mapped[datetime | None] = mapped_column()
    leads_paused_until: Mapped[datetime | None] = mapped_column()
    """Lead delivery is paused until then (the lead-SLA policy, or an admin): routing and
    the pool pass the partner over meanwhile."""
    leads_paused_reason: Mapped[str | None] = mapped_column(String(500))


class CapabilityCertification(TenantOwned, Base):
    """A capability the tenant will route on only to certified partners: a partner counts
    as having `capability` for a distribution rule that asks for it only while one of its
    users holds a current `certification` (a training record, `prm.employees.training`).
    A partner may still list the capability; the requirement gates eligibility, not the
    profile."""

    __tablename__ = "capability_certifications"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        Index("uq_capability_certifications_capability", "tenant_id", "capability", unique=True),
    )

    capability: Mapped[str] = mapped_column(String(100))
    certification: Mapped[str] = mapped_column(String(100))


class PartnerNotification(TenantOwned, Base):
    """A message to a partner organisation's users (a level change, a pause of lead
    delivery, a fund decision …): its portal lists them, newest first, and marks them
    read. `kind` is a dotted event name (`program.level_changed`); `data` holds the ids
    a portal links to."""

    __tablename__ = "partner_notifications"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("partner_id", "partners", "CASCADE"),
        Index("ix_partner_notifications_partner", "tenant_id", "partner_id", "created_at", "id"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column()
    kind: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(1000))
    data: Mapped[dict[str, object]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    read_at: Mapped[datetime | None] = mapped_column()
