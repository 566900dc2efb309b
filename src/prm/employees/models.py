"""Tables of the employees domain."""

from __future__ import annotations

import uuid

from sqlalchemy import ARRAY, Boolean, ForeignKeyConstraint, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import Base, TenantOwned


class Employee(TenantOwned, Base):
    """A member of the tenant's staff: owns accounts and opportunities, has a manager,
    and may be linked to the User they sign in as."""

    __tablename__ = "employees"
    __mapper_args__ = {"eager_defaults": True}  # updated_at comes back with the UPDATE
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "manager_id"],
            ["employees.tenant_id", "employees.id"],
            ondelete="SET NULL (manager_id)",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="SET NULL (user_id)"
        ),
        Index("ix_employees_tenant_manager", "tenant_id", "manager_id"),
        Index(
            "uq_employees_tenant_user",
            "tenant_id",
            "user_id",
            unique=True,
            postgresql_where=text("user_id IS NOT NULL"),
        ),
        Index(
            "uq_employees_tenant_email",
            "tenant_id",
            func.lower(text("email")),
            unique=True,
            postgresql_where=text("email IS NOT NULL"),
        ),
        Index("ix_employees_tenant_team", "tenant_id", "team"),
        Index("ix_employees_tenant_active", "tenant_id", "active"),
        Index("ix_employees_skills", "skills", postgresql_using="gin"),
        Index(
            "ix_employees_email_trgm",
            "email",
            postgresql_using="gin",
            postgresql_ops={"email": "gin_trgm_ops"},
        ),
        Index(
            "ix_employees_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    title: Mapped[str | None] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(100))
    territory: Mapped[str | None] = mapped_column(String(100))
    manager_id: Mapped[uuid.UUID | None] = mapped_column()
    user_id: Mapped[uuid.UUID | None] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    skills: Mapped[list[str]] = mapped_column(
        ARRAY(String(100)), default=list, server_default=text("'{}'")
    )
    """What the employee can handle as a service agent (case queues require skills)."""
    case_capacity: Mapped[int | None] = mapped_column(Integer)
    """Open cases the employee may hold at once as an agent; null: not an agent."""
