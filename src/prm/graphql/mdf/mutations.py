"""MDF mutations: budgets and allocations (admins), fund requests (the partner's users or
admins), reviews and payment (admins), claims with proof-of-performance uploads (GraphQL
multipart requests, like `importLeads`)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.file_uploads import Upload

from prm.auth.principal import Role
from prm.errors import InvalidInput
from prm.graphql.context import Info
from prm.graphql.mdf.inputs import CreateMdfBudgetInput, RequestFundsInput
from prm.graphql.mdf.types import FundClaimType, FundRequestType, MdfAllocationType, MdfBudgetType
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk
from prm.graphql.scalars import MoneyInput
from prm.mdf import claims, service
from prm.storage import get_storage

ADMINS = (Role.ADMIN,)
REQUESTERS = (Role.ADMIN, Role.PARTNER_ADMIN, Role.PARTNER_REP)
PIECE = 256 * 1024


@strawberry.type
class MdfBudgetPayload(Payload):
    mdf_budget: MdfBudgetType | None = None


@strawberry.type
class MdfAllocationPayload(Payload):
    mdf_allocation: MdfAllocationType | None = None


@strawberry.type
class MdfAllocationsPayload(Payload):
    mdf_allocations: list[MdfAllocationType] = strawberry.field(default_factory=list)


@strawberry.type
class FundRequestPayload(Payload):
    fund_request: FundRequestType | None = None


@strawberry.type
class FundClaimPayload(Payload):
    fund_claim: FundClaimType | None = None


async def _read(upload: Any, index: int) -> claims.IncomingFile:
    """The upload's bytes, reading at most one byte past the cap (then INVALID)."""
    if not hasattr(upload, "read"):
        raise InvalidInput("send the files as a multipart upload", field=f"files.{index}")
    data = bytearray()
    while len(data) <= claims.MAX_FILE_BYTES:
        piece = await upload.read(min(PIECE, claims.MAX_FILE_BYTES + 1 - len(data)))
        if not piece:
            break
        data.extend(piece)
    if len(data) > claims.MAX_FILE_BYTES:
        raise InvalidInput(
            f"a file may have at most {claims.MAX_FILE_BYTES} bytes", field=f"files.{index}"
        )
    return claims.IncomingFile(
        filename=str(getattr(upload, "filename", None) or "file"),
        content_type=str(getattr(upload, "content_type", None) or ""),
        data=bytes(data),
    )


@strawberry.type
class Mutation:
    @mutation(MdfBudgetPayload, roles=ADMINS, description="Set aside MDF for a period.")
    async def create_mdf_budget(self, info: Info, input: CreateMdfBudgetInput) -> MdfBudgetPayload:
        budget = await service.create_budget(
            info.context.session,
            require_principal(info),
            name=input.name,
            period=input.period,
            amount=input.amount.parse(field="amount"),
        )
        return MdfBudgetPayload(mdf_budget=MdfBudgetType.from_model(budget))

    @mutation(
        MdfAllocationPayload,
        roles=ADMINS,
        description="Allocate part of a budget to a partner by hand, in the budget's currency "
        "(LIMIT_EXCEEDED above what remains; DUPLICATE if already allocated).",
    )
    async def allocate_mdf(
        self, info: Info, budget_id: strawberry.ID, partner_id: strawberry.ID, amount: MoneyInput
    ) -> MdfAllocationPayload:
        allocation = await service.allocate(
            info.context.session,
            require_principal(info),
            budget_id=require_pk(budget_id, "MdfBudget", field="budgetId"),
            partner_id=require_pk(partner_id, "Partner", field="partnerId"),
            amount=amount.parse(field="amount"),
        )
        return MdfAllocationPayload(mdf_allocation=MdfAllocationType.from_model(allocation))

    @mutation(
        MdfAllocationsPayload,
        roles=ADMINS,
        description="Allocate every partner at an MDF-eligible program level its level's "
        "allocation (skipping partners already allocated); all or nothing.",
    )
    async def allocate_mdf_from_levels(
        self, info: Info, budget_id: strawberry.ID
    ) -> MdfAllocationsPayload:
        rows = await service.allocate_from_levels(
            info.context.session,
            require_principal(info),
            budget_id=require_pk(budget_id, "MdfBudget", field="budgetId"),
        )
        return MdfAllocationsPayload(
            mdf_allocations=[MdfAllocationType.from_model(row) for row in rows]
        )

    @mutation(
        FundRequestPayload,
        roles=REQUESTERS,
        description="Request funds from an allocation (LIMIT_EXCEEDED above what remains).",
    )
    async def request_funds(self, info: Info, input: RequestFundsInput) -> FundRequestPayload:
        request = await service.request_funds(
            info.context.session,
            require_principal(info),
            allocation_id=require_pk(input.allocation_id, "MdfAllocation", field="allocationId"),
            activity=input.activity,
            campaign=input.campaign,
            amount=input.amount.parse(field="amount"),
            expected_outcome=input.expected_outcome,
        )
        return FundRequestPayload(fund_request=FundRequestType.from_model(request))

    @mutation(
        FundRequestPayload,
        roles=ADMINS,
        description="Approve or reject a SUBMITTED request (rejection frees its amount).",
    )
    async def review_fund_request(
        self, info: Info, id: strawberry.ID, approve: bool, comment: str | None = None
    ) -> FundRequestPayload:
        request = await service.review_request(
            info.context.session,
            require_principal(info),
            request_id=require_pk(id, "FundRequest", field="id"),
            approve=approve,
            comment=comment,
        )
        return FundRequestPayload(fund_request=FundRequestType.from_model(request))

    @mutation(
        FundRequestPayload,
        roles=REQUESTERS,
        description="Withdraw a SUBMITTED or APPROVED request; its amount is freed.",
    )
    async def cancel_fund_request(self, info: Info, id: strawberry.ID) -> FundRequestPayload:
        request = await service.cancel_request(
            info.context.session,
            require_principal(info),
            request_id=require_pk(id, "FundRequest", field="id"),
        )
        return FundRequestPayload(fund_request=FundRequestType.from_model(request))

    @mutation(
        FundClaimPayload,
        roles=REQUESTERS,
        description="Claim up to an APPROVED request's amount with proof of performance "
        "(at least one file: PDF, PNG, JPEG, CSV, text or Office; 10 MiB each, 10 at most).",
    )
    async def submit_fund_claim(
        self,
        info: Info,
        request_id: strawberry.ID,
        amount: MoneyInput,
        files: list[Upload],
    ) -> FundClaimPayload:
        principal = require_principal(info)
        pk = require_pk(request_id, "FundRequest", field="requestId")
        money = amount.parse(field="amount")
        if len(files) > claims.MAX_FILES:
            raise InvalidInput(f"at most {claims.MAX_FILES} files per claim", field="files")
        incoming = [await _read(upload, index) for index, upload in enumerate(files)]
        claim = await claims.submit_claim(
            info.context.session,
            principal,
            get_storage(info.context.settings),
            request_id=pk,
            amount=money,
            files=incoming,
        )
        return FundClaimPayload(fund_claim=FundClaimType.from_model(claim))

    @mutation(FundClaimPayload, roles=ADMINS, description="Approve or reject a SUBMITTED claim.")
    async def review_fund_claim(
        self, info: Info, id: strawberry.ID, approve: bool, comment: str | None = None
    ) -> FundClaimPayload:
        claim = await claims.review_claim(
            info.context.session,
            require_principal(info),
            claim_id=require_pk(id, "FundClaim", field="id"),
            approve=approve,
            comment=comment,
        )
        return FundClaimPayload(fund_claim=FundClaimType.from_model(claim))

    @mutation(FundClaimPayload, roles=ADMINS, description="Record an APPROVED claim's payment.")
    async def mark_fund_claim_paid(
        self, info: Info, id: strawberry.ID, reference: str
    ) -> FundClaimPayload:
        claim = await claims.mark_claim_paid(
            info.context.session,
            require_principal(info),
            claim_id=require_pk(id, "FundClaim", field="id"),
            reference=reference,
        )
        return FundClaimPayload(fund_claim=FundClaimType.from_model(claim))
