"""Tables of channel programs: programs and their ranked levels (benefits and entry
criteria over scorecard metrics), partners' enrolments with the history of their level
changes, and per-program onboarding checklists with each partner's progress on them."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ARRAY, Boolean, CheckConstraint, Enum, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import MONEY, Base, TenantOwned, tenant_fk


def _enum(kind: type[enum.StrEnum], name: str, length: int = 16) -> Enum:
    return Enum(kind, name=name, native_enum=False, length=length)


class ChannelProgram(TenantOwned, Base):
    """A partner program (Reseller, Distributor, Referral …). With `auto_enrol`, every
    partner matching the auto-enrol filters (empty = any) joins at the entry level (the
    lowest rank); otherwise admins enrol partners by hand."""

    __tablename__ = "channel_programs"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        Index("uq_channel_programs_tenant_name", "tenant_id", "name", unique=True),
        CheckConstraint("grace_days >= 0 AND grace_days <= 365", name="grace_days_range"),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_enrol: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_enrol_countries: Mapped[list[str]] = mapped_column(ARRAY(String(2)), default=list)
    auto_enrol_capabilities: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    grace_days: Mapped[int] = mapped_column(Integer, default=30)
    """How long a partner may stay below its level's criteria before it is demoted."""


class ProgramLevel(TenantOwned, Base):
    """A rung of a program: a higher `rank` is a higher level. Benefits: the partner tier
    it grants (its discount and lead weight), MDF eligibility and default allocation,
    deal-protection days. Entry criteria: `required_certification` and the rows of
    `program_level_criteria`."""

    __tablename__ = "program_levels"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("program_id", "channel_programs", "CASCADE"),
        tenant_fk("tier_id", "partner_tiers"),
        Index("uq_program_levels_rank", "tenant_id", "program_id", "rank", unique=True),
        Index("uq_program_levels_name", "tenant_id", "program_id", "name", unique=True),
        Index("ix_program_levels_tier", "tenant_id", "tier_id"),
        CheckConstraint("mdf_allocation IS NULL OR mdf_allocation >= 0", name="mdf_nonneg"),
        CheckConstraint(
            "deal_protection_days IS NULL OR (deal_protection_days >= 0 "
            "AND deal_protection_days <= 3650)",
            name="protection_days_range",
        ),
    )

    program_id: Mapped[uuid.UUID] = mapped_column()
    name: Mapped[str] = mapped_column(String(100))
    rank: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    tier_id: Mapped[uuid.UUID | None] = mapped_column()
    mdf_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    mdf_allocation: Mapped[Decimal | None] = mapped_column(MONEY)
    """What a partner at this level is allocated from each MDF budget by default (in the
    budget's currency)."""
    deal_protection_days: Mapped[int | None] = mapped_column(Integer)
    required_certification: Mapped[str | None] = mapped_column(String(100))


class CriterionMetric(enum.StrEnum):
    REVENUE_WON = "REVENUE_WON"
    DEALS_WON = "DEALS_WON"
    LEADS_CONVERTED = "LEADS_CONVERTED"
    WIN_RATE = "WIN_RATE"
    ACCEPTANCE_RATE = "ACCEPTANCE_RATE"
    CONVERSION_RATE = "CONVERSION_RATE"
    SLA_COMPLIANCE = "SLA_COMPLIANCE"
    SCORE = "SCORE"


class LevelCriterion(TenantOwned, Base):
    """One entry condition of a level: `metric` over the trailing `quarters` quarters
    (the current one included) of partner scorecards is at least `minimum`."""

    __tablename__ = "program_level_criteria"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("level_id", "program_levels", "CASCADE"),
        Index("uq_program_level_criteria_metric", "tenant_id", "level_id", "metric", unique=True),
        CheckConstraint("quarters >= 1 AND quarters <= 8", name="quarters_range"),
        CheckConstraint("minimum >= 0", name="minimum_nonneg"),
    )

    level_id: Mapped[uuid.UUID] = mapped_column()
    metric: Mapped[CriterionMetric] = mapped_column(_enum(CriterionMetric, "criterion_metric", 24))
    minimum: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    quarters: Mapped[int] = mapped_column(Integer, default=4)


class EnrolmentSource(enum.StrEnum):
    AUTO = "AUTO"
    ADMIN = "ADMIN"


class ProgramEnrolment(TenantOwned, Base):
    """A partner's membership of one program at one level. `below_criteria_since` is set
    while the partner misses its level's criteria; once `grace_days` have passed from it,
    the evaluation demotes it."""

    __tablename__ = "program_enrolments"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("program_id", "channel_programs", "CASCADE"),
        tenant_fk("partner_id", "partners", "CASCADE"),
        tenant_fk("level_id", "program_levels"),
        Index(
            "uq_program_enrolments_partner", "tenant_id", "program_id", "partner_id", unique=True
        ),
        Index("ix_program_enrolments_partner", "tenant_id", "partner_id"),
        Index("ix_program_enrolments_level", "tenant_id", "level_id"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column()
    partner_id: Mapped[uuid.UUID] = mapped_column()
    level_id: Mapped[uuid.UUID] = mapped_column()
    source: Mapped[EnrolmentSource] = mapped_column(_enum(EnrolmentSource, "enrolment_source"))
    enrolled_by: Mapped[uuid.UUID | None] = mapped_column()
    """The user who enrolled the partner (null when auto-enrolled)."""
    below_criteria_since: Mapped[datetime | None] = mapped_column()
    evaluated_at: Mapped[datetime | None] = mapped_column()


class LevelChangeKind(enum.StrEnum):
    ENROLLED = "ENROLLED"
    PROMOTED = "PROMOTED"
    DEMOTED = "DEMOTED"
    SET = "SET"
    """An admin put the partner on a level by hand."""
    LEFT = "LEFT"


class LevelChange(TenantOwned, Base):
    """One line of a partner's level history (append-only)."""

    __tablename__ = "program_level_changes"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("program_id", "channel_programs", "CASCADE"),
        tenant_fk("partner_id", "partners", "CASCADE"),
        Index("ix_program_level_changes_partner", "tenant_id", "partner_id", "created_at", "id"),
        Index("ix_program_level_changes_program", "tenant_id", "program_id", "created_at", "id"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column()
    partner_id: Mapped[uuid.UUID] = mapped_column()
    kind: Mapped[LevelChangeKind] = mapped_column(_enum(LevelChangeKind, "level_change_kind"))
    from_level_id: Mapped[uuid.UUID | None] = mapped_column()
    """Level ids are kept without a foreign key: history outlives a deleted level."""
    to_level_id: Mapped[uuid.UUID | None] = mapped_column()
    from_level_name: Mapped[str | None] = mapped_column(String(100))
    to_level_name: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(1000))
    changed_by: Mapped[uuid.UUID | None] = mapped_column()
    """The user who changed it (null for the evaluation worker)."""


class OnboardingTaskKind(enum.StrEnum):
    PROFILE = "PROFILE"
    AGREEMENT = "AGREEMENT"
    TRAINING = "TRAINING"
    BUSINESS_PLAN = "BUSINESS_PLAN"
    OTHER = "OTHER"


class OnboardingTask(TenantOwned, Base):
    """An item of a program's onboarding checklist. A TRAINING task with a
    `certification` is complete while one of the partner's users holds it."""

    __tablename__ = "onboarding_tasks"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("program_id", "channel_programs", "CASCADE"),
        Index("uq_onboarding_tasks_name", "tenant_id", "program_id", "name", unique=True),
        Index("ix_onboarding_tasks_program", "tenant_id", "program_id", "position"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OnboardingTaskKind] = mapped_column(
        _enum(OnboardingTaskKind, "onboarding_task_kind")
    )
    description: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=True)
    certification: Mapped[str | None] = mapped_column(String(100))


class OnboardingStatus(enum.StrEnum):
    PENDING = "PENDING"
    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class PartnerOnboardingTask(TenantOwned, Base):
    """A partner's progress on one checklist item: the partner submits (with a response:
    the agreement version accepted, the plan), an admin approves or rejects with a
    comment; a task without `requires_approval` is APPROVED on submission."""

    __tablename__ = "partner_onboarding_tasks"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("partner_id", "partners", "CASCADE"),
        tenant_fk("task_id", "onboarding_tasks", "CASCADE"),
        tenant_fk("program_id", "channel_programs", "CASCADE"),
        Index("uq_partner_onboarding_tasks", "tenant_id", "partner_id", "task_id", unique=True),
        Index("ix_partner_onboarding_tasks_status", "tenant_id", "status", "submitted_at"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column()
    task_id: Mapped[uuid.UUID] = mapped_column()
    program_id: Mapped[uuid.UUID] = mapped_column()
    status: Mapped[OnboardingStatus] = mapped_column(
        _enum(OnboardingStatus, "onboarding_status"), default=OnboardingStatus.PENDING
    )
    response: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column()
    submitted_by: Mapped[uuid.UUID | None] = mapped_column()
    reviewed_at: Mapped[datetime | None] = mapped_column()
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column()
    review_comment: Mapped[str | None] = mapped_column(String(2000))
