"""Tables of marketing: segments (saved, validated filters over accounts and contacts),
campaigns with their channel, budget and period, and the contacts a campaign reaches
with their responses. Leads and opportunities name the campaign they came from
(`campaign_id`), which is what attribution counts."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Date, Enum, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from prm.crm.models import Channel
from prm.db.base import MONEY, Base, TenantOwned, tenant_fk


def _enum(kind: type[enum.StrEnum], name: str, length: int = 16) -> Enum:
    return Enum(kind, name=name, native_enum=False, length=length)


class Segment(TenantOwned, Base):
    """A saved filter. `filters` is validated on write (see the marketing service): its
    keys and value types are fixed, so it always compiles to the same kind of SQL."""

    __tablename__ = "segments"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (Index("uq_segments_tenant_name", "tenant_id", "name", unique=True),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    filters: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )


class CampaignStatus(enum.StrEnum):
    PLANNED = "PLANNED"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class Campaign(TenantOwned, Base):
    __tablename__ = "campaigns"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("segment_id", "segments", "SET NULL (segment_id)"),
        Index("uq_campaigns_tenant_name", "tenant_id", "name", unique=True),
        Index("ix_campaigns_tenant_status", "tenant_id", "status", "starts_on"),
        CheckConstraint("budget IS NULL OR budget >= 0", name="budget_nonneg"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="period_order"),
    )

    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "campaign_channel"))
    status: Mapped[CampaignStatus] = mapped_column(
        _enum(CampaignStatus, "campaign_status"), default=CampaignStatus.PLANNED
    )
    budget: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    segment_id: Mapped[uuid.UUID | None] = mapped_column()
    description: Mapped[str | None] = mapped_column(Text)


class MemberResponse(enum.StrEnum):
    OPENED = "OPENED"
    CLICKED = "CLICKED"
    REPLIED = "REPLIED"
    REGISTERED = "REGISTERED"
    PURCHASED = "PURCHASED"
    UNSUBSCRIBED = "UNSUBSCRIBED"


class CampaignMember(TenantOwned, Base):
    """A contact a campaign reaches (never an opted-out one: the service excludes them
    when members are drawn and refuses them when added). `response` is the strongest
    response recorded, `responded_at` its time."""

    __tablename__ = "campaign_members"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("campaign_id", "campaigns", "CASCADE"),
        tenant_fk("contact_id", "contacts", "CASCADE"),
        tenant_fk("account_id", "accounts", "SET NULL (account_id)"),
        Index("uq_campaign_members_contact", "tenant_id", "campaign_id", "contact_id", unique=True),
        Index("ix_campaign_members_contact", "tenant_id", "contact_id"),
        Index("ix_campaign_members_response", "tenant_id", "campaign_id", "response"),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column()
    contact_id: Mapped[uuid.UUID] = mapped_column()
    account_id: Mapped[uuid.UUID | None] = mapped_column()
    response: Mapped[MemberResponse | None] = mapped_column(
        _enum(MemberResponse, "member_response")
    )
    responded_at: Mapped[datetime | None] = mapped_column()
