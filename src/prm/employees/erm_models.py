"""Tables of employee relationship management: objectives (quotas) per period,
compensation plans and who is on which plan when, performance reviews, and training and
certification records (for employees and partner users)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Enum,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import MONEY, Base, TenantOwned, tenant_fk

PERCENT = Numeric(6, 2)
PERIOD = String(7)
"""`2026-11` (month), `2026-Q4` (quarter) or `2026` (year): see `prm.metrics.periods`."""


class ObjectiveMetric(enum.StrEnum):
    REVENUE_WON = "REVENUE_WON"
    DEALS_WON = "DEALS_WON"
    ACTIVITIES = "ACTIVITIES"
    LEADS_CONVERTED = "LEADS_CONVERTED"


class Objective(TenantOwned, Base):
    """What an employee is expected to reach in a period; REVENUE_WON's target is the
    quota (in the tenant's default currency) that `quotaAttainment` divides by."""

    __tablename__ = "objectives"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("employee_id", "employees", "CASCADE"),
        Index(
            "uq_objectives_employee_period_metric",
            "tenant_id",
            "employee_id",
            "period",
            "metric",
            unique=True,
        ),
        Index("ix_objectives_tenant_period", "tenant_id", "period", "metric"),
        CheckConstraint("target >= 0", name="target_nonneg"),
    )

    employee_id: Mapped[uuid.UUID] = mapped_column()
    period: Mapped[str] = mapped_column(PERIOD)
    metric: Mapped[ObjectiveMetric] = mapped_column(
        Enum(ObjectiveMetric, name="objective_metric", native_enum=False, length=24)
    )
    target: Mapped[Decimal] = mapped_column(MONEY)
    set_by: Mapped[uuid.UUID | None] = mapped_column()


class CompensationPlan(TenantOwned, Base):
    """Commission on won revenue: `base_percent` up to 100 % of quota, `base_percent +
    accelerator_percent` on revenue above it, never more than `cap_amount` per period."""

    __tablename__ = "compensation_plans"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        Index("uq_compensation_plans_tenant_name", "tenant_id", "name", unique=True),
        CheckConstraint("base_percent >= 0 AND base_percent <= 100", name="base_range"),
        CheckConstraint(
            "accelerator_percent >= 0 AND accelerator_percent <= 100", name="accelerator_range"
        ),
        CheckConstraint("cap_amount IS NULL OR cap_amount > 0", name="cap_positive"),
    )

    name: Mapped[str] = mapped_column(String(200))
    base_percent: Mapped[Decimal] = mapped_column(PERCENT)
    accelerator_percent: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal(0))
    cap_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CompensationAssignment(TenantOwned, Base):
    """An employee is paid by `plan_id` in `period` (one plan per employee and period)."""

    __tablename__ = "compensation_assignments"
    __table_args__ = (
        tenant_fk("employee_id", "employees", "CASCADE"),
        tenant_fk("plan_id", "compensation_plans", "RESTRICT"),
        Index("uq_compensation_assignments", "tenant_id", "employee_id", "period", unique=True),
        Index("ix_compensation_assignments_plan", "tenant_id", "plan_id", "period"),
    )

    employee_id: Mapped[uuid.UUID] = mapped_column()
    plan_id: Mapped[uuid.UUID] = mapped_column()
    period: Mapped[str] = mapped_column(PERIOD)


class PerformanceReview(TenantOwned, Base):
    """A manager's review of an employee for a period, acknowledged by the employee."""

    __tablename__ = "performance_reviews"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("employee_id", "employees", "CASCADE"),
        tenant_fk("reviewer_id", "employees", "SET NULL (reviewer_id)"),
        Index("uq_performance_reviews", "tenant_id", "employee_id", "period", unique=True),
        Index("ix_performance_reviews_reviewer", "tenant_id", "reviewer_id", "period"),
        Index("ix_performance_reviews_period", "tenant_id", "period"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
    )

    employee_id: Mapped[uuid.UUID] = mapped_column()
    reviewer_id: Mapped[uuid.UUID | None] = mapped_column()
    period: Mapped[str] = mapped_column(PERIOD)
    rating: Mapped[int] = mapped_column(Integer)
    strengths: Mapped[str | None] = mapped_column(Text)
    goals: Mapped[str | None] = mapped_column(Text)
    acknowledged_at: Mapped[datetime | None] = mapped_column()


class TrainingRecord(TenantOwned, Base):
    """A course completed by an employee or a partner user; with `certification` it
    certifies a capability until `expires_at` (never, when null)."""

    __tablename__ = "training_records"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("employee_id", "employees", "CASCADE"),
        tenant_fk("user_id", "users", "CASCADE"),
        tenant_fk("partner_id", "partners", "CASCADE"),
        Index("ix_training_records_employee", "tenant_id", "employee_id", "completed_at"),
        Index("ix_training_records_user", "tenant_id", "user_id", "completed_at"),
        Index("ix_training_records_completed", "tenant_id", "completed_at"),
        Index("ix_training_records_cert", "tenant_id", "certification", "expires_at"),
        Index(
            "ix_training_records_partner_cert",
            "tenant_id",
            "partner_id",
            "certification",
            "expires_at",
        ),
        CheckConstraint("(employee_id IS NULL) <> (user_id IS NULL)", name="one_subject"),
        CheckConstraint("(user_id IS NULL) = (partner_id IS NULL)", name="partner_of_user"),
        CheckConstraint("expires_at IS NULL OR expires_at > completed_at", name="expiry_order"),
    )

    employee_id: Mapped[uuid.UUID | None] = mapped_column()
    user_id: Mapped[uuid.UUID | None] = mapped_column()
    partner_id: Mapped[uuid.UUID | None] = mapped_column()
    """The partner user's organisation, kept so partner certifications are one index scan."""
    course: Mapped[str] = mapped_column(String(200))
    certification: Mapped[str | None] = mapped_column(String(100))
    completed_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
