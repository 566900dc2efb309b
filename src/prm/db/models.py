"""Imports every domain's models, so `Base.metadata` is complete (Alembic, tests)."""

from prm.auth.models import LoginFailure, RefreshToken
from prm.crm.models import Account, Activity, Contact, Opportunity
from prm.db.base import Base
from prm.employees.models import Employee
from prm.partners.models import Partner, PartnerTier
from prm.tenants.models import ApiClient, AuditEntry, Tenant, User
from prm.workers.models import Job, OutboxMessage

__all__ = [
    "Account",
    "Activity",
    "ApiClient",
    "AuditEntry",
    "Base",
    "Contact",
    "Employee",
    "Job",
    "LoginFailure",
    "Opportunity",
    "OutboxMessage",
    "Partner",
    "PartnerTier",
    "RefreshToken",
    "Tenant",
    "User",
]
