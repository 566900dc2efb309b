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
from prm.catalog.recommendation_models import ProductAssociation
from prm.crm.case_models import Case, CaseEvent, CaseQueue, CaseSlaPolicy
from prm.crm.marketing_models import Campaign, CampaignMember, Segment
from prm.crm.models import Account, Activity, Contact, Opportunity
from prm.db.base import Base
from prm.deals.models import DealRegistration, ProtectionDeadline
from prm.employees.erm_models import (
    CompensationAssignment,
    CompensationPlan,
    Objective,
    PerformanceReview,
    TrainingRecord,
)
from prm.employees.models import Employee
from prm.incentives.models import EarnedIncentive, IncentiveRule
from prm.leads.import_models import LeadImport, LeadImportChunk, LeadImportError, LeadImportKey
from prm.leads.models import (
    DistributionRule,
    Lead,
    LeadEvent,
    LeadOffer,
    LeadScoringRule,
    LeadSlaPolicy,
    OfferDeadline,
)
from prm.mdf.models import ClaimFile, FundClaim, FundRequest, MdfAllocation, MdfBudget, MdfEvent
from prm.metrics.models import (
    CostEntry,
    CustomerMetricsRow,
    EmployeeScorecardRow,
    MetricsDirty,
    PartnerScorecardRow,
)
from prm.partners.models import CapabilityCertification, Partner, PartnerNotification, PartnerTier
from prm.partners.program_models import (
    ChannelProgram,
    LevelChange,
    LevelCriterion,
    OnboardingTask,
    PartnerOnboardingTask,
    ProgramEnrolment,
    ProgramLevel,
)
from prm.tenants.models import ApiClient, AuditEntry, Tenant, User
from prm.webhooks.models import DeliveryDue, WebhookDelivery, WebhookEndpoint
from prm.workers.models import Job, OutboxMessage

__all__ = [
    "Account",
    "Activity",
    "ApiClient",
    "AuditEntry",
    "Base",
    "BundleItem",
    "Campaign",
    "CampaignMember",
    "CapabilityCertification",
    "Case",
    "CaseEvent",
    "CaseQueue",
    "CaseSlaPolicy",
    "ChannelProgram",
    "ClaimFile",
    "CompensationAssignment",
    "CompensationPlan",
    "Contact",
    "CostEntry",
    "CustomerMetricsRow",
    "DealRegistration",
    "DeliveryDue",
    "DistributionRule",
    "EarnedIncentive",
    "Employee",
    "EmployeeScorecardRow",
    "FundClaim",
    "FundRequest",
    "IncentiveRule",
    "Job",
    "Lead",
    "LeadEvent",
    "LeadImport",
    "LeadImportChunk",
    "LeadImportError",
    "LeadImportKey",
    "LeadOffer",
    "LeadScoringRule",
    "LeadSlaPolicy",
    "LevelChange",
    "LevelCriterion",
    "LoginFailure",
    "MdfAllocation",
    "MdfBudget",
    "MdfEvent",
    "MetricsDirty",
    "Objective",
    "OfferDeadline",
    "OnboardingTask",
    "Opportunity",
    "OutboxMessage",
    "Partner",
    "PartnerNotification",
    "PartnerOnboardingTask",
    "PartnerScorecardRow",
    "PartnerTier",
    "PerformanceReview",
    "PriceBook",
    "PriceBookEntry",
    "Product",
    "ProductAssociation",
    "ProductOptionChoice",
    "ProductOptionGroup",
    "ProgramEnrolment",
    "ProgramLevel",
    "Promotion",
    "ProtectionDeadline",
    "Quote",
    "QuoteCounter",
    "QuoteLine",
    "RefreshToken",
    "Segment",
    "StockAllocation",
    "StockLevel",
    "Tenant",
    "TrainingRecord",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
