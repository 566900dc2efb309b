"""Inputs and filters of market development funds."""

from __future__ import annotations

import uuid
from typing import TypeVar

import strawberry
from sqlalchemy import Select, false
from sqlalchemy.orm import InstrumentedAttribute

from prm.graphql.mdf.types import FundClaimStatusEnum, FundRequestStatusEnum
from prm.graphql.relay import pk_of
from prm.graphql.scalars import MoneyInput
from prm.mdf.models import FundClaim, FundRequest, MdfAllocation

T = TypeVar("T")


@strawberry.input
class CreateMdfBudgetInput:
    name: str
    period: str = strawberry.field(description="2026-Q4, 2026-11 or 2026.")
    amount: MoneyInput


@strawberry.input
class RequestFundsInput:
    allocation_id: strawberry.ID
    activity: str
    amount: MoneyInput
    campaign: str | None = None
    expected_outcome: str | None = None


def _partner_filter(
    statement: Select[T], column: InstrumentedAttribute[uuid.UUID], partner_id: strawberry.ID | None
) -> Select[T]:
    """Staff narrowing to one partner (a partner user is already narrowed to its own)."""
    if partner_id is None:
        return statement
    partner = pk_of(partner_id, "Partner")
    return statement.where(column == partner if partner else false())


@strawberry.input
class MdfAllocationFilter:
    budget_id: strawberry.ID | None = None
    partner_id: strawberry.ID | None = None

    def apply(self, statement: Select[MdfAllocation]) -> Select[MdfAllocation]:
        if self.budget_id is not None:
            budget = pk_of(self.budget_id, "MdfBudget")
            statement = statement.where(
                MdfAllocation.budget_id == budget if budget else MdfAllocation.id.is_(None)
            )
        return _partner_filter(statement, MdfAllocation.partner_id, self.partner_id)


@strawberry.input
class FundRequestFilter:
    status: FundRequestStatusEnum | None = None  # type: ignore[valid-type]
    partner_id: strawberry.ID | None = None
    allocation_id: strawberry.ID | None = None

    def apply(self, statement: Select[FundRequest]) -> Select[FundRequest]:
        if self.status is not None:
            statement = statement.where(FundRequest.status == self.status)
        if self.allocation_id is not None:
            allocation = pk_of(self.allocation_id, "MdfAllocation")
            statement = statement.where(
                FundRequest.allocation_id == allocation if allocation else FundRequest.id.is_(None)
            )
        return _partner_filter(statement, FundRequest.partner_id, self.partner_id)


@strawberry.input
class FundClaimFilter:
    status: FundClaimStatusEnum | None = None  # type: ignore[valid-type]
    partner_id: strawberry.ID | None = None
    request_id: strawberry.ID | None = None

    def apply(self, statement: Select[FundClaim]) -> Select[FundClaim]:
        if self.status is not None:
            statement = statement.where(FundClaim.status == self.status)
        if self.request_id is not None:
            request = pk_of(self.request_id, "FundRequest")
            statement = statement.where(
                FundClaim.request_id == request if request else FundClaim.id.is_(None)
            )
        return _partner_filter(statement, FundClaim.partner_id, self.partner_id)
