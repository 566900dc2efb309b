"""Tables of the tenants domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import Base, TenantOwned, Timestamped
from prm.db.ids import new_id


class Tenant(Timestamped, Base):
    """A company using prm. A platform row: the app role may read the directory (to resolve
    a slug at login) but may write only the row of the tenant its transaction is scoped to."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    default_currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    offer_sla_hours: Mapped[int] = mapped_column(Integer, server_default="48")
    deal_protection_days: Mapped[int] = mapped_column(Integer, server_default="90")


class User(TenantOwned, Base):
    """A person who signs in: a tenant user, or a partner user when `partner_id` is set."""

    __tablename__ = "users"
    __table_args__ = (
        Index("uq_users_tenant_email", "tenant_id", func.lower(text("email")), unique=True),
        Index("ix_users_tenant_partner", "tenant_id", "partner_id"),
        ForeignKeyConstraint(
            ["tenant_id", "partner_id"], ["partners.tenant_id", "partners.id"], ondelete="RESTRICT"
        ),
    )

    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    partner_id: Mapped[uuid.UUID | None] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    deactivated_at: Mapped[datetime | None] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column()


class ApiClient(TenantOwned, Base):
    """Machine access by client credentials. The secret is stored only as a hash; the
    `client_id` embeds the tenant id so the token endpoint never searches across tenants."""

    __tablename__ = "api_clients"
    __table_args__ = (Index("uq_api_clients_client_id", "client_id", unique=True),)

    name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()


class AuditEntry(TenantOwned, Base):
    """One mutation: who did what to which objects, when. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_at", "tenant_id", "created_at"),)

    principal_kind: Mapped[str] = mapped_column(String(16))
    principal_id: Mapped[uuid.UUID | None] = mapped_column()
    operation: Mapped[str] = mapped_column(String(100))
    object_ids: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
