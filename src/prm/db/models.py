"""Imports every domain's models, so `Base.metadata` is complete (Alembic, tests)."""

from prm.auth.models import LoginFailure, RefreshToken
from prm.catalog.models import (
    BundleItem,
    PriceBook,
    PriceBookEntry,
    Product,
    ProductOptionChoice,
    ProductOptionGroup,
    Promotion,
    Quote,
    QuoteCounter,
    QuoteLine,
    StockAllocation,
    StockLevel,
)
from prm.crm.models import Account, Activity, Contact, Opportunity
from prm.db.base import Base
from prm.deals.models import DealRegistration, ProtectionDeadline
from prm.employees.models import Employee
from prm.leads.import_models import LeadImport, LeadImportChunk, LeadImportError, LeadImportKey
from prm.leads.models import (
    DistributionRule,
    Lead,
    LeadEvent,
    LeadOffer,
    LeadScoringRule,
    OfferDeadline,
)
from prm.partners.models import Partner, PartnerTier
from prm.tenants.models import ApiClient, AuditEntry, Tenant, User
from prm.workers.models import Job, OutboxMessage

__all__ = [
    "Account",
    "Activity",
    "ApiClient",
    "AuditEntry",
    "Base",
    "BundleItem",
    "Contact",
    "DealRegistration",
    "DistributionRule",
    "Employee",
    "Job",
    "Lead",
    "LeadEvent",
    "LeadImport",
    "LeadImportChunk",
    "LeadImportError",
    "LeadImportKey",
    "LeadOffer",
    "LeadScoringRule",
    "LoginFailure",
    "OfferDeadline",
    "Opportunity",
    "OutboxMessage",
    "Partner",
    "PartnerTier",
    "PriceBook",
    "PriceBookEntry",
    "Product",
    "ProductOptionChoice",
    "ProductOptionGroup",
    "Promotion",
    "ProtectionDeadline",
    "Quote",
    "QuoteCounter",
    "QuoteLine",
    "RefreshToken",
    "StockAllocation",
    "StockLevel",
    "Tenant",
    "User",
]
