"""Tables of the CRM domain.

Activities carry the `account_id` of whatever they touch (set from the contact or the
opportunity when not given), so an account's timeline across every touch point is one
index range scan on `(tenant_id, account_id, occurred_at)`.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    Index,
    Integer,
    String,
    Text,
    func,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column

from prm.db.base import MONEY, Base, TenantOwned, tenant_fk

NO_CLOSE_DATE = "'infinity'::date"
"""Where opportunities without a close date sort: after every real one."""
NO_AMOUNT = "-1::numeric"
"""Where opportunities without an amount sort: before every real one (amounts are >= 0)."""


class OpportunityStage(enum.StrEnum):
    PROSPECTING = "PROSPECTING"
    QUALIFICATION = "QUALIFICATION"
    PROPOSAL = "PROPOSAL"
    NEGOTIATION = "NEGOTIATION"
    CLOSED_WON = "CLOSED_WON"
    CLOSED_LOST = "CLOSED_LOST"


class Channel(enum.StrEnum):
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    WEB = "WEB"
    STORE = "STORE"
    SOCIAL = "SOCIAL"
    CHAT = "CHAT"
    MAIL = "MAIL"
    MEETING = "MEETING"


class Direction(enum.StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class Account(TenantOwned, Base):
    __tablename__ = "accounts"
    __table_args__ = (
        tenant_fk("owner_id", "employees", "SET NULL (owner_id)"),
        tenant_fk("partner_id", "partners", "SET NULL (partner_id)"),
        Index("ix_accounts_tenant_owner", "tenant_id", "owner_id"),
        Index("ix_accounts_tenant_partner", "tenant_id", "partner_id"),
        Index("ix_accounts_tenant_country", "tenant_id", "country", "region"),
        Index("ix_accounts_tenant_region", "tenant_id", "region"),
        Index("ix_accounts_tenant_industry", "tenant_id", "industry"),
        Index("ix_accounts_tenant_normalized_name", "tenant_id", "normalized_name"),
        Index("ix_accounts_tenant_domain", "tenant_id", "domain"),
        Index("ix_accounts_tenant_name", "tenant_id", "name", "id"),
        Index(
            "ix_accounts_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    normalized_name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(253))
    industry: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(100))
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    partner_id: Mapped[uuid.UUID | None] = mapped_column()


class Contact(TenantOwned, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        tenant_fk("account_id", "accounts", "SET NULL (account_id)"),
        Index("ix_contacts_tenant_account", "tenant_id", "account_id"),
        Index("ix_contacts_tenant_email", "tenant_id", func.lower(text("email"))),
        Index("ix_contacts_tenant_last_name", "tenant_id", "last_name", "id"),
        Index(
            "ix_contacts_tenant_opted_out",
            "tenant_id",
            "id",
            postgresql_where=text("marketing_opt_out"),
        ),
        Index(
            "ix_contacts_names_trgm",
            text("(first_name || ' ' || last_name) gin_trgm_ops"),
            postgresql_using="gin",
        ),
        Index(
            "ix_contacts_email_trgm",
            "email",
            postgresql_using="gin",
            postgresql_ops={"email": "gin_trgm_ops"},
        ),
    )

    account_id: Mapped[uuid.UUID | None] = mapped_column()
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    marketing_opt_out: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    opted_out_at: Mapped[datetime | None] = mapped_column()


class Opportunity(TenantOwned, Base):
    __tablename__ = "opportunities"
    __table_args__ = (
        tenant_fk("account_id", "accounts"),
        tenant_fk("owner_id", "employees", "SET NULL (owner_id)"),
        tenant_fk("partner_id", "partners", "SET NULL (partner_id)"),
        tenant_fk(
            "source_lead_id", "leads", "SET NULL (source_lead_id)"
        ),  # added by the leads migration
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount_nonneg"),
        CheckConstraint("(amount IS NULL) = (currency IS NULL)", name="amount_has_currency"),
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability_range"),
        Index("ix_opportunities_tenant_account", "tenant_id", "account_id"),
        Index("ix_opportunities_tenant_owner", "tenant_id", "owner_id"),
        Index("ix_opportunities_tenant_partner", "tenant_id", "partner_id"),
        Index("ix_opportunities_tenant_stage", "tenant_id", "stage"),
        Index("ix_opportunities_tenant_close_date", "tenant_id", "close_date", "id"),
        Index("ix_opportunities_tenant_amount", "tenant_id", "amount", "id"),
        Index("ix_opportunities_tenant_currency", "tenant_id", "currency", "amount"),
        Index("ix_opportunities_tenant_name", "tenant_id", "name", "id"),
        Index(
            "ix_opportunities_tenant_close_date_key",
            "tenant_id",
            text(f"coalesce(close_date, {NO_CLOSE_DATE})"),
            "id",
        ),
        Index(
            "ix_opportunities_tenant_amount_key",
            "tenant_id",
            text(f"coalesce(amount, {NO_AMOUNT})"),
            "id",
        ),
        Index("ix_opportunities_tenant_closed_at", "tenant_id", "closed_at"),
        # An account's won deals (lifetime value, last purchase, loyalty) without the heap.
        Index(
            "ix_opportunities_tenant_account_won",
            "tenant_id",
            "account_id",
            "closed_at",
            postgresql_include=["amount", "currency"],
            postgresql_where=text("stage = 'CLOSED_WON'"),
        ),
        Index("ix_opportunities_tenant_source_lead", "tenant_id", "source_lead_id"),
        tenant_fk("campaign_id", "campaigns", "SET NULL (campaign_id)"),
        Index("ix_opportunities_tenant_campaign", "tenant_id", "campaign_id"),
        Index(
            "ix_opportunities_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )

    account_id: Mapped[uuid.UUID] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    stage: Mapped[OpportunityStage] = mapped_column(
        Enum(OpportunityStage, name="opportunity_stage", native_enum=False, length=16),
        default=OpportunityStage.PROSPECTING,
    )
    probability: Mapped[int] = mapped_column(Integer)
    close_date: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column()
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    partner_id: Mapped[uuid.UUID | None] = mapped_column()
    source_lead_id: Mapped[uuid.UUID | None] = mapped_column()
    """The lead it was converted from (the leads migration adds the foreign key)."""
    campaign_id: Mapped[uuid.UUID | None] = mapped_column()
    """The marketing campaign the deal is attributed to (its lead's, when converted)."""
    close_date_key: Mapped[date] = column_property(
        func.coalesce(close_date, literal_column(NO_CLOSE_DATE, Date))
    )
    """The close date as a NOT NULL sort key (keyset pages need one); indexed."""
    amount_key: Mapped[Decimal] = column_property(
        func.coalesce(amount, literal_column(NO_AMOUNT, MONEY))
    )
    """The amount as a NOT NULL sort key; indexed."""


class Activity(TenantOwned, Base):
    """A touch point: any interaction on any channel, with whatever it concerns."""

    __tablename__ = "activities"
    __table_args__ = (
        tenant_fk("account_id", "accounts", "CASCADE"),
        tenant_fk("contact_id", "contacts", "CASCADE"),
        tenant_fk("opportunity_id", "opportunities", "CASCADE"),
        tenant_fk("actor_user_id", "users", "SET NULL (actor_user_id)"),
        tenant_fk("lead_id", "leads", "SET NULL (lead_id)"),  # added by the leads migration
        Index(
            "ix_activities_tenant_account_at",
            "tenant_id",
            "account_id",
            text("occurred_at DESC"),
            text("id DESC"),
        ),
        Index(
            "ix_activities_tenant_contact_at",
            "tenant_id",
            "contact_id",
            text("occurred_at DESC"),
            text("id DESC"),
        ),
        Index(
            "ix_activities_tenant_opportunity_at",
            "tenant_id",
            "opportunity_id",
            text("occurred_at DESC"),
            text("id DESC"),
        ),
        Index(
            "ix_activities_tenant_lead_at",
            "tenant_id",
            "lead_id",
            text("occurred_at DESC"),
            text("id DESC"),
        ),
        Index("ix_activities_tenant_at", "tenant_id", text("occurred_at DESC"), text("id DESC")),
        Index(
            "ix_activities_tenant_channel_at",
            "tenant_id",
            "channel",
            text("occurred_at DESC"),
            text("id DESC"),
        ),
        Index(
            "ix_activities_tenant_direction_at",
            "tenant_id",
            "direction",
            text("occurred_at DESC"),
            text("id DESC"),
        ),
    )

    channel: Mapped[Channel] = mapped_column(
        Enum(Channel, name="channel", native_enum=False, length=16)
    )
    direction: Mapped[Direction] = mapped_column(
        Enum(Direction, name="direction", native_enum=False, length=16)
    )
    summary: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column()
    account_id: Mapped[uuid.UUID | None] = mapped_column()
    contact_id: Mapped[uuid.UUID | None] = mapped_column()
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column()
    lead_id: Mapped[uuid.UUID | None] = mapped_column()
    """The lead it concerns (the leads migration adds the foreign key)."""
