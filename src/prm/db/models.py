"""Imports every domain's models, so `Base.metadata` is complete (Alembic, tests)."""

from prm.auth.models import LoginFailure, RefreshToken
from prm.db.base import Base
from prm.partners.models import Partner, PartnerTier
from prm.tenants.models import ApiClient, AuditEntry, Tenant, User
from prm.workers.models import Job, OutboxMessage

__all__ = [
    "ApiClient",
    "AuditEntry",
    "Base",
    "Job",
    "LoginFailure",
    "OutboxMessage",
    "Partner",
    "PartnerTier",
    "RefreshToken",
    "Tenant",
    "User",
]
