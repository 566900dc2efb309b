"""Market development funds as the API shows them. Nested lists (history, files, claims)
and parents (budget, allocation, request, partner) load through per-request DataLoaders:
a page of N objects costs a constant number of statements."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.dataloader import DataLoader

from prm.graphql.context import Context, Info
from prm.graphql.partners.types import PartnerType, load_partner
from prm.graphql.relay import Node, register_node
from prm.graphql.scalars import MoneyType
from prm.mdf.claims import files_of
from prm.mdf.events import history_of
from prm.mdf.models import (
    AllocationSource,
    ClaimFile,
    ClaimStatus,
    FundClaim,
    FundRequest,
    MdfAllocation,
    MdfBudget,
    MdfEntity,
    MdfEvent,
    RequestStatus,
)
from prm.mdf.service import is_reader, readable
from prm.money import Money

FundRequestStatusEnum = strawberry.enum(
    RequestStatus,
    name="FundRequestStatus",
    description="SUBMITTED → APPROVED | REJECTED | CANCELLED; APPROVED → CLAIMED once a "
    "claim exists (back to APPROVED if that claim is rejected).",
)
FundClaimStatusEnum = strawberry.enum(
    ClaimStatus,
    name="FundClaimStatus",
    description="SUBMITTED → APPROVED | REJECTED; APPROVED → PAID.",
)
MdfAllocationSourceEnum = strawberry.enum(
    AllocationSource,
    name="MdfAllocationSource",
    description="MANUAL: allocated by hand; LEVEL: from a program level's MDF benefit.",
)
MdfEntityEnum = strawberry.enum(MdfEntity, name="MdfEntity")


def _money(amount: Decimal, currency: str) -> MoneyType:
    return MoneyType.of(Money(amount, currency))


@strawberry.type(name="MdfEvent", description="One state change of an MDF object (audit).")
class MdfEventType:
    entity: MdfEntityEnum  # type: ignore[valid-type]
    from_status: str | None
    to_status: str
    actor_id: strawberry.ID | None = strawberry.field(description="The acting user's id.")
    comment: str | None
    at: datetime

    @classmethod
    def from_model(cls, row: MdfEvent) -> MdfEventType:
        return cls(
            entity=row.entity,
            from_status=row.from_status,
            to_status=row.to_status,
            actor_id=strawberry.ID(str(row.actor_id)) if row.actor_id else None,
            comment=row.comment,
            at=row.created_at,
        )


def _history_loader(context: Context) -> DataLoader[uuid.UUID, list[MdfEvent]]:
    async def load(keys: Sequence[uuid.UUID]) -> list[list[MdfEvent]]:
        if context.principal is None:
            return [[] for _ in keys]
        found = await history_of(context.session, context.principal.tenant_id, list(keys))
        return [found[key] for key in keys]

    return context.loaders.custom("mdf.history", lambda: DataLoader(load_fn=load))


async def _history(context: Context, pk: uuid.UUID) -> list[MdfEventType]:
    rows = await _history_loader(context).load(pk)
    return [MdfEventType.from_model(row) for row in rows]


@strawberry.type(name="MdfBudget", description="Money set aside for partner marketing.")
class MdfBudgetType(Node):
    name: str
    period: str = strawberry.field(description="2026-Q4, 2026-11 or 2026.")
    amount: MoneyType
    allocated: MoneyType = strawberry.field(description="Σ of its allocations.")
    remaining: MoneyType = strawberry.field(description="What can still be allocated.")
    created_at: datetime

    @classmethod
    def from_model(cls, row: MdfBudget) -> MdfBudgetType:
        return cls(
            pk=row.id,
            name=row.name,
            period=row.period,
            amount=_money(row.amount, row.currency),
            allocated=_money(row.allocated, row.currency),
            remaining=_money(row.amount - row.allocated, row.currency),
            created_at=row.created_at,
        )


@strawberry.type(name="MdfAllocation", description="Part of a budget given to one partner.")
class MdfAllocationType(Node):
    amount: MoneyType
    requested: MoneyType = strawberry.field(
        description="Σ of its requests that are not REJECTED or CANCELLED."
    )
    remaining: MoneyType = strawberry.field(description="What can still be requested.")
    source: MdfAllocationSourceEnum  # type: ignore[valid-type]
    created_at: datetime
    budget_pk: strawberry.Private[uuid.UUID]
    partner_pk: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The budget's name (partners see this, not the budget).")
    async def budget_name(self, info: Info) -> str:
        budget = await info.context.loaders.by_id(MdfBudget).load(self.budget_pk)
        return budget.name if budget else ""

    @strawberry.field(description="The budget's period.")
    async def period(self, info: Info) -> str:
        budget = await info.context.loaders.by_id(MdfBudget).load(self.budget_pk)
        return budget.period if budget else ""

    @strawberry.field(description="The budget (admins and managers; null for partner users).")
    async def budget(self, info: Info) -> MdfBudgetType | None:
        return await load_budget(info.context, self.budget_pk)

    @strawberry.field
    async def partner(self, info: Info) -> PartnerType | None:
        return await load_partner(info.context, self.partner_pk)

    @classmethod
    def from_model(cls, row: MdfAllocation) -> MdfAllocationType:
        return cls(
            pk=row.id,
            amount=_money(row.amount, row.currency),
            requested=_money(row.requested, row.currency),
            remaining=_money(row.amount - row.requested, row.currency),
            source=row.source,
            created_at=row.created_at,
            budget_pk=row.budget_id,
            partner_pk=row.partner_id,
        )


@strawberry.type(name="MdfFile", description="A proof-of-performance file (metadata).")
class MdfFileType:
    id: strawberry.ID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime

    @classmethod
    def from_model(cls, row: ClaimFile) -> MdfFileType:
        return cls(
            id=strawberry.ID(str(row.id)),
            filename=row.filename,
            content_type=row.content_type,
            size_bytes=row.size_bytes,
            sha256=row.sha256,
            created_at=row.created_at,
        )


def _claims_loader(context: Context) -> DataLoader[uuid.UUID, list[FundClaim]]:
    async def load(keys: Sequence[uuid.UUID]) -> list[list[FundClaim]]:
        found: dict[uuid.UUID, list[FundClaim]] = {key: [] for key in keys}
        if context.principal is not None:
            rows = await context.session.scalars(
                readable(FundClaim, context.principal)
                .where(FundClaim.request_id.in_(set(keys)))
                .order_by(FundClaim.request_id, FundClaim.id)
            )
            for row in rows:
                found[row.request_id].append(row)
        return [found[key] for key in keys]

    return context.loaders.custom("mdf.claims", lambda: DataLoader(load_fn=load))


def _files_loader(context: Context) -> DataLoader[uuid.UUID, list[ClaimFile]]:
    async def load(keys: Sequence[uuid.UUID]) -> list[list[ClaimFile]]:
        if context.principal is None:
            return [[] for _ in keys]
        found = await files_of(context.session, context.principal.tenant_id, list(keys))
        return [found[key] for key in keys]

    return context.loaders.custom("mdf.files", lambda: DataLoader(load_fn=load))


@strawberry.type(name="FundRequest", description="A partner's request to spend MDF.")
class FundRequestType(Node):
    activity: str
    campaign: str | None
    expected_outcome: str | None
    amount: MoneyType
    status: FundRequestStatusEnum  # type: ignore[valid-type]
    review_comment: str | None
    reviewed_at: datetime | None
    created_at: datetime
    allocation_pk: strawberry.Private[uuid.UUID]
    partner_pk: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def allocation(self, info: Info) -> MdfAllocationType | None:
        row = await info.context.loaders.by_id(MdfAllocation).load(self.allocation_pk)
        return MdfAllocationType.from_model(row) if row else None

    @strawberry.field
    async def partner(self, info: Info) -> PartnerType | None:
        return await load_partner(info.context, self.partner_pk)

    @strawberry.field(description="Its claims, oldest first (at most one not REJECTED).")
    async def claims(self, info: Info) -> list[FundClaimType]:
        rows = await _claims_loader(info.context).load(self.pk)
        return [FundClaimType.from_model(row) for row in rows]

    @strawberry.field(description="Every state change, oldest first.")
    async def history(self, info: Info) -> list[MdfEventType]:
        return await _history(info.context, self.pk)

    @classmethod
    def from_model(cls, row: FundRequest) -> FundRequestType:
        return cls(
            pk=row.id,
            activity=row.activity,
            campaign=row.campaign,
            expected_outcome=row.expected_outcome,
            amount=_money(row.amount, row.currency),
            status=row.status,
            review_comment=row.review_comment,
            reviewed_at=row.reviewed_at,
            created_at=row.created_at,
            allocation_pk=row.allocation_id,
            partner_pk=row.partner_id,
        )


@strawberry.type(name="FundClaim", description="Proof of performance and what to reimburse.")
class FundClaimType(Node):
    amount: MoneyType
    status: FundClaimStatusEnum  # type: ignore[valid-type]
    review_comment: str | None
    reviewed_at: datetime | None
    paid_at: datetime | None
    payment_reference: str | None
    created_at: datetime
    request_pk: strawberry.Private[uuid.UUID]
    partner_pk: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def request(self, info: Info) -> FundRequestType | None:
        row = await info.context.loaders.by_id(FundRequest).load(self.request_pk)
        return FundRequestType.from_model(row) if row else None

    @strawberry.field
    async def partner(self, info: Info) -> PartnerType | None:
        return await load_partner(info.context, self.partner_pk)

    @strawberry.field(description="The proof-of-performance files.")
    async def files(self, info: Info) -> list[MdfFileType]:
        rows = await _files_loader(info.context).load(self.pk)
        return [MdfFileType.from_model(row) for row in rows]

    @strawberry.field(description="Every state change, oldest first.")
    async def history(self, info: Info) -> list[MdfEventType]:
        return await _history(info.context, self.pk)

    @classmethod
    def from_model(cls, row: FundClaim) -> FundClaimType:
        return cls(
            pk=row.id,
            amount=_money(row.amount, row.currency),
            status=row.status,
            review_comment=row.review_comment,
            reviewed_at=row.reviewed_at,
            paid_at=row.paid_at,
            payment_reference=row.payment_reference,
            created_at=row.created_at,
            request_pk=row.request_id,
            partner_pk=row.partner_id,
        )


async def load_budget(context: Context, pk: uuid.UUID) -> MdfBudgetType | None:
    if context.principal is None or not is_reader(context.principal):
        return None
    row = await context.loaders.by_id(MdfBudget).load(pk)
    return MdfBudgetType.from_model(row) if row else None


@register_node(MdfAllocationType)
async def load_allocation(context: Context, pk: uuid.UUID) -> MdfAllocationType | None:
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable(MdfAllocation, context.principal).where(MdfAllocation.id == pk)
    )
    return MdfAllocationType.from_model(row) if row else None


@register_node(FundRequestType)
async def load_request(context: Context, pk: uuid.UUID) -> FundRequestType | None:
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable(FundRequest, context.principal).where(FundRequest.id == pk)
    )
    return FundRequestType.from_model(row) if row else None


@register_node(FundClaimType)
async def load_claim(context: Context, pk: uuid.UUID) -> FundClaimType | None:
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable(FundClaim, context.principal).where(FundClaim.id == pk)
    )
    return FundClaimType.from_model(row) if row else None


register_node(MdfBudgetType)(load_budget)
