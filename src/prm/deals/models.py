"""Tables of deal registration: registrations, and the platform table of protection
deadlines the scheduler scans."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Enum,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import Base, TenantOwned, tenant_fk
from prm.leads.models import Lead


class RegistrationStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


LIVE_STATUSES = (RegistrationStatus.PENDING, RegistrationStatus.APPROVED)
"""Registrations that still claim their company: what conflict detection compares against."""


class DealRegistration(TenantOwned, Base):
    """A deal a partner found and registered. `match_domain` is the contact email's domain
    unless it is a free-mail domain (gmail.com names no company), so it can be compared
    as is. `conflicts` is what detection found at registration: a list of
    `{"kind", "id", "matchedOn"}` for managers to judge."""

    __tablename__ = "deal_registrations"
    __table_args__ = (
        tenant_fk("partner_id", "partners", "CASCADE"),
        tenant_fk("registered_by", "users", "SET NULL (registered_by)"),
        tenant_fk("decided_by", "users", "SET NULL (decided_by)"),
        CheckConstraint(
            "estimated_value IS NULL OR estimated_value >= 0", name="estimated_value_nonneg"
        ),
        CheckConstraint(
            "(estimated_value IS NULL) = (currency IS NULL)", name="estimated_value_currency"
        ),
        Index("ix_deal_registrations_tenant_status", "tenant_id", "status", "id"),
        Index(
            "ix_deal_registrations_tenant_partner_status", "tenant_id", "partner_id", "status", "id"
        ),
        Index("ix_deal_registrations_tenant_conflicts", "tenant_id", "conflict_count", "id"),
        Index(
            "ix_deal_registrations_live_company",
            "tenant_id",
            "normalized_company",
            postgresql_where=text("status IN ('PENDING', 'APPROVED')"),
        ),
        Index(
            "ix_deal_registrations_live_domain",
            "tenant_id",
            "match_domain",
            postgresql_where=text("status IN ('PENDING', 'APPROVED') AND match_domain IS NOT NULL"),
        ),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column()
    registered_by: Mapped[uuid.UUID | None] = mapped_column()
    status: Mapped[RegistrationStatus] = mapped_column(
        Enum(RegistrationStatus, name="registration_status", native_enum=False, length=16),
        default=RegistrationStatus.PENDING,
    )
    company_name: Mapped[str] = mapped_column(String(200))
    normalized_company: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    match_domain: Mapped[str | None] = mapped_column(String(253))
    estimated_value: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    currency: Mapped[str | None] = mapped_column(String(3))
    product_interest: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    conflicts: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb"), default=list
    )
    conflict_count: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    decided_by: Mapped[uuid.UUID | None] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()
    reject_reason: Mapped[str | None] = mapped_column(Text)
    protected_until: Mapped[datetime | None] = mapped_column()
    expired_at: Mapped[datetime | None] = mapped_column()


class ProtectionDeadline(Base):
    """When an approved registration's protection ends: ids and a time only.

    A platform table without RLS (like `lead_offer_deadlines`): the scheduler has no
    tenant, so one indexed scan here finds the tenants with protections due. Written and
    deleted in the tenant transaction that approves or expires the registration.
    """

    __tablename__ = "deal_protection_deadlines"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "registration_id"),
        ForeignKeyConstraint(
            ["tenant_id", "registration_id"],
            ["deal_registrations.tenant_id", "deal_registrations.id"],
            ondelete="CASCADE",
        ),
        Index("ix_deal_protection_deadlines_expires", "expires_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column()
    registration_id: Mapped[uuid.UUID] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


# Conflict detection looks open leads up by email domain alone (the leads' own index
# starts with the company name); declared here, beside the query it serves.
Index(
    "ix_leads_open_email_domain",
    Lead.tenant_id,
    Lead.email_domain,
    postgresql_where=text(
        "status NOT IN ('CONVERTED', 'LOST', 'DISQUALIFIED') AND email_domain IS NOT NULL"
    ),
)
