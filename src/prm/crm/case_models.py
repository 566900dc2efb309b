"""Tables of customer service: cases (service requests, complaints, returns, information
requests) with their history, the queues that hold them, and the tenant's SLA timers per
priority. Agents are employees; their skills and case capacity live on `employees`."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ARRAY, BigInteger, CheckConstraint, Enum, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from prm.crm.models import Channel
from prm.db.base import MONEY, Base, TenantOwned, tenant_fk


def _enum(kind: type[enum.StrEnum], name: str, length: int = 24) -> Enum:
    return Enum(kind, name=name, native_enum=False, length=length)


class CaseKind(enum.StrEnum):
    SERVICE_REQUEST = "SERVICE_REQUEST"
    COMPLAINT = "COMPLAINT"
    RETURN = "RETURN"
    INFORMATION_REQUEST = "INFORMATION_REQUEST"


class CasePriority(enum.StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


class CaseStatus(enum.StrEnum):
    NEW = "NEW"
    ASSIGNED = "ASSIGNED"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING_ON_CUSTOMER = "WAITING_ON_CUSTOMER"
    ESCALATED = "ESCALATED"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


class CaseQueue(TenantOwned, Base):
    """Where cases wait for an agent; `skills` are what an agent must have to take the
    queue's cases (all of them)."""

    __tablename__ = "case_queues"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (Index("uq_case_queues_tenant_name", "tenant_id", "name", unique=True),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    skills: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    kinds: Mapped[list[str]] = mapped_column(ARRAY(String(24)), default=list)
    """Case kinds routed here by default (empty: none by default)."""


class CaseSlaPolicy(TenantOwned, Base):
    """The tenant's SLA timers for one priority (minutes from opening)."""

    __tablename__ = "case_sla_policies"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        Index("uq_case_sla_policies_priority", "tenant_id", "priority", unique=True),
        CheckConstraint("first_response_minutes > 0", name="first_response_positive"),
        CheckConstraint("resolution_minutes > 0", name="resolution_positive"),
    )

    priority: Mapped[CasePriority] = mapped_column(_enum(CasePriority, "case_priority", 8))
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)


class Case(TenantOwned, Base):
    """A customer's request, numbered per tenant. `customer_value` and `loyalty_score`
    are the account's at opening (and refreshed on reassignment): what assignment ranks
    cases and agents by."""

    __tablename__ = "cases"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("account_id", "accounts", "CASCADE"),
        tenant_fk("contact_id", "contacts", "SET NULL (contact_id)"),
        tenant_fk("queue_id", "case_queues", "SET NULL (queue_id)"),
        tenant_fk("assignee_id", "employees", "SET NULL (assignee_id)"),
        tenant_fk("partner_id", "partners", "SET NULL (partner_id)"),
        Index("uq_cases_tenant_number", "tenant_id", "number", unique=True),
        Index("ix_cases_tenant_status", "tenant_id", "status", "id"),
        Index("ix_cases_tenant_assignee", "tenant_id", "assignee_id", "status"),
        Index("ix_cases_tenant_queue", "tenant_id", "queue_id", "status"),
        Index("ix_cases_tenant_account", "tenant_id", "account_id", "created_at"),
        Index("ix_cases_tenant_priority", "tenant_id", "priority", "id"),
        Index("ix_cases_tenant_resolution_due", "tenant_id", "resolution_due_at"),
        Index("ix_cases_tenant_response_due", "tenant_id", "first_response_due_at"),
        CheckConstraint("loyalty_score >= 0 AND loyalty_score <= 100", name="loyalty_range"),
    )

    number: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[uuid.UUID] = mapped_column()
    contact_id: Mapped[uuid.UUID | None] = mapped_column()
    partner_id: Mapped[uuid.UUID | None] = mapped_column()
    """The partner whose customer it is, when a partner user opened it."""
    kind: Mapped[CaseKind] = mapped_column(_enum(CaseKind, "case_kind"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "case_channel", 16))
    priority: Mapped[CasePriority] = mapped_column(_enum(CasePriority, "case_priority", 8))
    status: Mapped[CaseStatus] = mapped_column(
        _enum(CaseStatus, "case_status"), default=CaseStatus.NEW
    )
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    queue_id: Mapped[uuid.UUID | None] = mapped_column()
    assignee_id: Mapped[uuid.UUID | None] = mapped_column()
    opened_by: Mapped[uuid.UUID | None] = mapped_column()
    customer_value: Mapped[Decimal | None] = mapped_column(MONEY)
    loyalty_score: Mapped[float | None] = mapped_column(Float)
    first_response_due_at: Mapped[datetime | None] = mapped_column()
    resolution_due_at: Mapped[datetime | None] = mapped_column()
    first_responded_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)


class CaseEvent(TenantOwned, Base):
    """One line of a case's history: opened, assigned, responded (with the response),
    escalated, resolved, reopened, closed (append-only)."""

    __tablename__ = "case_events"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("case_id", "cases", "CASCADE"),
        Index("ix_case_events_case", "tenant_id", "case_id", "created_at", "id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column()
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[CaseStatus | None] = mapped_column(_enum(CaseStatus, "case_status"))
    to_status: Mapped[CaseStatus | None] = mapped_column(_enum(CaseStatus, "case_status"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    assignee_id: Mapped[uuid.UUID | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
