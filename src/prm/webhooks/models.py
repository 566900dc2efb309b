"""Tables of webhooks: the endpoints tenant admins register for event types, and one
delivery row per (event, endpoint) that workers send, retry and log."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import Base, TenantOwned, tenant_fk


class WebhookEndpoint(TenantOwned, Base):
    """Where events of `event_types` are POSTed, signed with HMAC-SHA256 under `secret`.
    The secret must be readable to sign with, so it is stored encrypted (see
    `prm.webhooks.secrets`), never in clear, and shown to the admin once. After
    `failure_count` consecutive failed deliveries reaches the limit, the endpoint is
    disabled (`active` false, `disabled_reason`)."""

    __tablename__ = "webhook_endpoints"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        Index("ix_webhook_endpoints_tenant_active", "tenant_id", "active"),
        Index("ix_webhook_endpoints_event_types", "event_types", postgresql_using="gin"),
        CheckConstraint("failure_count >= 0", name="failure_count_nonneg"),
    )

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    disabled_at: Mapped[datetime | None] = mapped_column()
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[uuid.UUID | None] = mapped_column()


class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"
    """Waiting for its first attempt or its next retry (`next_attempt_at`)."""
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    """Given up: the retries are spent or the endpoint was disabled."""


class WebhookDelivery(TenantOwned, Base):
    """One event for one endpoint: the payload as signed, every attempt's outcome in
    `attempts`/`last_*`, and when to try next."""

    __tablename__ = "webhook_deliveries"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("endpoint_id", "webhook_endpoints", "CASCADE"),
        Index("ix_webhook_deliveries_endpoint", "tenant_id", "endpoint_id", "created_at", "id"),
        Index("ix_webhook_deliveries_event", "tenant_id", "event_id"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column()
    event_id: Mapped[uuid.UUID] = mapped_column()
    """The event's id (sent as `X-Prm-Event-Id`): the same for every endpoint, so
    receivers can de-duplicate retries."""
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, name="delivery_status", native_enum=False, length=16),
        default=DeliveryStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    delivered_at: Mapped[datetime | None] = mapped_column()


class DeliveryDue(Base):
    """When a PENDING delivery should be tried: ids and a time only.

    A platform table without RLS (like `lead_offer_deadlines`): the scheduler has no
    tenant, so it could not see `webhook_deliveries`; one indexed scan here finds the
    deliveries due across tenants. Written and deleted in the tenant transaction that
    schedules or finishes the delivery; the composite foreign key removes a row with its
    delivery.
    """

    __tablename__ = "webhook_delivery_due"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "delivery_id"),
        ForeignKeyConstraint(
            ["tenant_id", "delivery_id"],
            ["webhook_deliveries.tenant_id", "webhook_deliveries.id"],
            ondelete="CASCADE",
        ),
        Index("ix_webhook_delivery_due_at", "due_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column()
    delivery_id: Mapped[uuid.UUID] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()
