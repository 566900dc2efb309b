"""The case enums as the API names them."""

from __future__ import annotations

import strawberry

from prm.crm.case_models import CaseKind, CasePriority, CaseStatus

CaseKindEnum = strawberry.enum(
    CaseKind, name="CaseKind", description="Service request, complaint, return or question."
)
CasePriorityEnum = strawberry.enum(CasePriority, name="CasePriority")
CaseStatusEnum = strawberry.enum(CaseStatus, name="CaseStatus")
