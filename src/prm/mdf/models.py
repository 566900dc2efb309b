"""Tables of market development funds: budgets per period, allocations of a budget to
partners, partners' fund requests against an allocation, claims with proof of performance
(and their files), and the append-only audit trail of every state change.

Two running totals keep the money invariants in one row each, so a single conditional
UPDATE can enforce them under any concurrency (and CHECK constraints back them up):
`mdf_budgets.allocated` (Σ allocations ≤ budget amount) and `mdf_allocations.requested`
(Σ requests not REJECTED/CANCELLED ≤ allocation amount).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Enum, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import MONEY, Base, TenantOwned, tenant_fk


def _enum(kind: type[enum.StrEnum], name: str, length: int = 16) -> Enum:
    return Enum(kind, name=name, native_enum=False, length=length)


class MdfBudget(TenantOwned, Base):
    """Money set aside for partner marketing in one period (`2026-Q4`, `2026-11`, `2026`)."""

    __tablename__ = "mdf_budgets"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        Index("uq_mdf_budgets_name", "tenant_id", "period", "name", unique=True),
        CheckConstraint("amount >= 0", name="amount_nonneg"),
        CheckConstraint("allocated >= 0 AND allocated <= amount", name="allocated_within"),
    )

    name: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    allocated: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    """Σ of the budget's allocations, kept by the statement that inserts each one."""
    created_by: Mapped[uuid.UUID | None] = mapped_column()


class AllocationSource(enum.StrEnum):
    MANUAL = "MANUAL"
    LEVEL = "LEVEL"


class MdfAllocation(TenantOwned, Base):
    """Part of a budget given to one partner (at most one per budget and partner)."""

    __tablename__ = "mdf_allocations"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("budget_id", "mdf_budgets", "CASCADE"),
        tenant_fk("partner_id", "partners", "CASCADE"),
        Index("uq_mdf_allocations_partner", "tenant_id", "budget_id", "partner_id", unique=True),
        Index("ix_mdf_allocations_partner", "tenant_id", "partner_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("requested >= 0 AND requested <= amount", name="requested_within"),
    )

    budget_id: Mapped[uuid.UUID] = mapped_column()
    partner_id: Mapped[uuid.UUID] = mapped_column()
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    requested: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    """Σ of the allocation's requests that are not REJECTED or CANCELLED."""
    source: Mapped[AllocationSource] = mapped_column(_enum(AllocationSource, "mdf_alloc_source"))
    level_id: Mapped[uuid.UUID | None] = mapped_column()
    """The program level whose benefit gave it (source LEVEL); informational, no foreign
    key, so levels stay deletable."""
    created_by: Mapped[uuid.UUID | None] = mapped_column()


class RequestStatus(enum.StrEnum):
    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    CLAIMED = "CLAIMED"


class FundRequest(TenantOwned, Base):
    """A partner's request to spend part of its allocation on a marketing activity."""

    __tablename__ = "mdf_fund_requests"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("allocation_id", "mdf_allocations", "CASCADE"),
        tenant_fk("partner_id", "partners", "CASCADE"),
        Index("ix_mdf_fund_requests_allocation", "tenant_id", "allocation_id"),
        Index("ix_mdf_fund_requests_partner", "tenant_id", "partner_id", "status", "id"),
        Index("ix_mdf_fund_requests_status", "tenant_id", "status", "id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    allocation_id: Mapped[uuid.UUID] = mapped_column()
    partner_id: Mapped[uuid.UUID] = mapped_column()
    activity: Mapped[str] = mapped_column(String(500))
    campaign: Mapped[str | None] = mapped_column(String(200))
    expected_outcome: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[RequestStatus] = mapped_column(_enum(RequestStatus, "mdf_request_status"))
    requested_by: Mapped[uuid.UUID | None] = mapped_column()
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column()
    reviewed_at: Mapped[datetime | None] = mapped_column()
    review_comment: Mapped[str | None] = mapped_column(String(2000))


class ClaimStatus(enum.StrEnum):
    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    PAID = "PAID"


class FundClaim(TenantOwned, Base):
    """Proof that an approved request's activity happened, and what to reimburse. A request
    has at most one claim that is not REJECTED (a rejected claim may be resubmitted)."""

    __tablename__ = "mdf_fund_claims"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("request_id", "mdf_fund_requests", "CASCADE"),
        tenant_fk("partner_id", "partners", "CASCADE"),
        Index(
            "uq_mdf_fund_claims_live",
            "tenant_id",
            "request_id",
            unique=True,
            postgresql_where=text("status <> 'REJECTED'"),
        ),
        Index("ix_mdf_fund_claims_request", "tenant_id", "request_id"),
        Index("ix_mdf_fund_claims_partner", "tenant_id", "partner_id", "status", "id"),
        Index("ix_mdf_fund_claims_status", "tenant_id", "status", "id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    request_id: Mapped[uuid.UUID] = mapped_column()
    partner_id: Mapped[uuid.UUID] = mapped_column()
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[ClaimStatus] = mapped_column(_enum(ClaimStatus, "mdf_claim_status"))
    submitted_by: Mapped[uuid.UUID | None] = mapped_column()
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column()
    reviewed_at: Mapped[datetime | None] = mapped_column()
    review_comment: Mapped[str | None] = mapped_column(String(2000))
    paid_at: Mapped[datetime | None] = mapped_column()
    payment_reference: Mapped[str | None] = mapped_column(String(200))


class ClaimFile(TenantOwned, Base):
    """One proof-of-performance file of a claim; the bytes live in `prm.storage` under
    `storage_key` (content-addressed: `mdf/<tenant>/<sha256>`)."""

    __tablename__ = "mdf_claim_files"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("claim_id", "mdf_fund_claims", "CASCADE"),
        Index("ix_mdf_claim_files_claim", "tenant_id", "claim_id"),
    )

    claim_id: Mapped[uuid.UUID] = mapped_column()
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))


class MdfEntity(enum.StrEnum):
    BUDGET = "BUDGET"
    ALLOCATION = "ALLOCATION"
    REQUEST = "REQUEST"
    CLAIM = "CLAIM"


class MdfEvent(TenantOwned, Base):
    """One state change of an MDF object: append-only (the app role may not update or
    delete it); `created_at` is when it happened."""

    __tablename__ = "mdf_events"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (Index("ix_mdf_events_entity", "tenant_id", "entity_id", "created_at", "id"),)

    entity: Mapped[MdfEntity] = mapped_column(_enum(MdfEntity, "mdf_entity"))
    entity_id: Mapped[uuid.UUID] = mapped_column()
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    comment: Mapped[str | None] = mapped_column(String(2000))
