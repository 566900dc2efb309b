"""Market development funds: budgets, allocations to partners and fund requests.

Money invariants hold under any concurrency because each is one conditional UPDATE of a
running total, never a read-then-write in Python:

- Σ allocations of a budget ≤ its amount: `UPDATE mdf_budgets SET allocated = allocated +
  :x WHERE allocated + :x <= amount` (no row updated: LIMIT_EXCEEDED);
- Σ requests of an allocation that are not REJECTED/CANCELLED ≤ its amount: the same on
  `mdf_allocations.requested`; rejecting or cancelling a request gives its amount back.

The row lock the UPDATE takes serialises competitors; the loser re-evaluates the WHERE
against the committed total (READ COMMITTED) and fails cleanly. CHECK constraints on
both totals are the second wall.

Visibility: admins and managers see the tenant's MDF objects, partner users only their
own partner's allocations, requests and claims (budgets: staff only); an object the
caller may not see is NOT_FOUND.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Select, exists, false, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import PARTNER_ROLES, Principal, Role, own_partner
from prm.errors import DomainError, ErrorCode, Forbidden, InvalidInput, NotFound
from prm.mdf.events import record
from prm.mdf.models import (
    AllocationSource,
    FundClaim,
    FundRequest,
    MdfAllocation,
    MdfBudget,
    MdfEntity,
    RequestStatus,
)
from prm.metrics.periods import parse_period
from prm.money import Money, round_money
from prm.partners.models import Partner
from prm.partners.notifications import notify
from prm.partners.program_benefits import levels_held
from prm.partners.program_models import ProgramEnrolment, ProgramLevel

MAX_COMMENT = 2000
OPEN_REQUEST = (RequestStatus.SUBMITTED, RequestStatus.APPROVED, RequestStatus.CLAIMED)
"""Statuses whose amount counts against the allocation."""

M = TypeVar("M", MdfAllocation, FundRequest, FundClaim)


def limit_exceeded(message: str, field: str = "amount") -> DomainError:
    return DomainError(message, field=field, code=ErrorCode.LIMIT_EXCEEDED)


def invalid_transition(message: str) -> DomainError:
    return DomainError(message, code=ErrorCode.INVALID_TRANSITION)


def is_reader(principal: Principal) -> bool:
    """Admins and managers read every MDF object of the tenant."""
    return principal.has_any(Role.ADMIN, Role.MANAGER)


def partner_scope(principal: Principal) -> uuid.UUID | None:
    """The partner a partner user is narrowed to (None for staff)."""
    return own_partner(principal) if principal.has_any(*PARTNER_ROLES) else None


def readable(model: type[M], principal: Principal) -> Select[M]:
    """`model` rows the principal may see: its tenant's, narrowed to its partner for a
    partner user; none for anyone else (employees, read-only clients without a role)."""
    statement = select(model).where(model.tenant_id == principal.tenant_id)
    if is_reader(principal):
        return statement
    partner = partner_scope(principal)
    if partner is not None:
        return statement.where(model.partner_id == partner)
    return statement.where(false())


def readable_budgets(principal: Principal) -> Select[MdfBudget]:
    statement = select(MdfBudget).where(MdfBudget.tenant_id == principal.tenant_id)
    return statement if is_reader(principal) else statement.where(false())


def may_act_for(principal: Principal, partner_id: uuid.UUID) -> bool:
    """Admins act for any partner; partner users for their own."""
    return principal.is_admin or partner_scope(principal) == partner_id


def clean_text(value: str | None, field: str, limit: int, *, required: bool = False) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidInput("is required", field=field)
        return None
    if len(text) > limit:
        raise InvalidInput(f"at most {limit} characters", field=field)
    return text


def positive(money: Money, currency: str, field: str = "amount") -> Decimal:
    """`money`'s amount, which must be above zero and in `currency`."""
    if money.currency != currency:
        raise InvalidInput(f"must be in {currency}", field=f"{field}.currency")
    if money.amount <= 0:
        raise InvalidInput("must be greater than zero", field=f"{field}.amount")
    return money.amount


# Budgets and allocations ---------------------------------------------------------------


async def create_budget(
    session: AsyncSession, principal: Principal, *, name: str, period: str, amount: Money
) -> MdfBudget:
    label = clean_text(name, "name", 200, required=True)
    key = parse_period(period, field="period").key
    budget = MdfBudget(
        tenant_id=principal.tenant_id,
        name=label,
        period=key,
        amount=amount.amount,
        currency=amount.currency,
        allocated=Decimal(0),
        created_by=principal.subject_id,
    )
    session.add(budget)
    await session.flush()
    record(session, principal, MdfEntity.BUDGET, budget.id, None, "CREATED")
    return budget


async def get_budget(
    session: AsyncSession, principal: Principal, budget_id: uuid.UUID
) -> MdfBudget:
    budget = await session.scalar(readable_budgets(principal).where(MdfBudget.id == budget_id))
    if budget is None:
        raise NotFound("no such MDF budget", field="budgetId")
    return budget


async def _reserve_budget(
    session: AsyncSession, principal: Principal, budget: MdfBudget, total: Decimal
) -> None:
    """Add `total` to the budget's allocated sum, or LIMIT_EXCEEDED if it would pass the
    budget's amount: one atomic statement."""
    reserved = await session.scalar(
        update(MdfBudget)
        .where(
            MdfBudget.tenant_id == principal.tenant_id,
            MdfBudget.id == budget.id,
            MdfBudget.allocated + total <= MdfBudget.amount,
        )
        .values(allocated=MdfBudget.allocated + total)
        .returning(MdfBudget.allocated)
        .execution_options(synchronize_session=False)
    )
    if reserved is None:
        raise limit_exceeded(f"the budget has less than {total} {budget.currency} left")
    budget.allocated = reserved


async def allocate(
    session: AsyncSession,
    principal: Principal,
    *,
    budget_id: uuid.UUID,
    partner_id: uuid.UUID,
    amount: Money,
) -> MdfAllocation:
    """Give `partner_id` part of the budget by hand (one allocation per budget and partner:
    DUPLICATE for a second)."""
    budget = await get_budget(session, principal, budget_id)
    value = positive(amount, budget.currency)
    partner = await session.scalar(
        select(Partner.id).where(Partner.tenant_id == principal.tenant_id, Partner.id == partner_id)
    )
    if partner is None:
        raise NotFound("no such partner", field="partnerId")
    await _reserve_budget(session, principal, budget, value)
    allocation = MdfAllocation(
        tenant_id=principal.tenant_id,
        budget_id=budget.id,
        partner_id=partner_id,
        amount=value,
        currency=budget.currency,
        requested=Decimal(0),
        source=AllocationSource.MANUAL,
        created_by=principal.subject_id,
    )
    session.add(allocation)
    await session.flush()  # a second allocation to the partner: unique violation, DUPLICATE
    record(session, principal, MdfEntity.ALLOCATION, allocation.id, None, "ALLOCATED")
    return allocation


async def allocate_from_levels(
    session: AsyncSession, principal: Principal, *, budget_id: uuid.UUID
) -> list[MdfAllocation]:
    """Allocate every partner enrolled (in an active program) at an MDF-eligible level with
    an `mdf_allocation` that level's amount, in the budget's currency (rounded to its minor
    unit); a partner at several such levels gets the largest. Partners the budget already
    allocated to are skipped. All or nothing: LIMIT_EXCEEDED if the sum passes what is left.

    The budget row is locked first, so concurrent allocations to it wait and this sees
    their committed rows."""
    budget = await get_budget(session, principal, budget_id)
    await session.execute(
        select(MdfBudget.id)
        .where(MdfBudget.tenant_id == principal.tenant_id, MdfBudget.id == budget.id)
        .with_for_update()
    )
    tenant = principal.tenant_id
    already = exists().where(
        MdfAllocation.tenant_id == tenant,
        MdfAllocation.budget_id == budget.id,
        MdfAllocation.partner_id == ProgramEnrolment.partner_id,
    )
    rows = (
        await session.execute(
            levels_held(
                tenant, ProgramEnrolment.partner_id, ProgramLevel.id, ProgramLevel.mdf_allocation
            )
            .where(
                ProgramLevel.mdf_eligible.is_(True),
                ProgramLevel.mdf_allocation > 0,
                ~already,
            )
            .order_by(
                ProgramEnrolment.partner_id,
                ProgramLevel.mdf_allocation.desc(),
                ProgramLevel.id,
            )
            .ext(distinct_on(ProgramEnrolment.partner_id))
        )
    ).all()
    grants = [
        (partner_id, level_id, round_money(Decimal(amount or 0), budget.currency))
        for partner_id, level_id, amount in rows
    ]
    grants = [grant for grant in grants if grant[2] > 0]
    if not grants:
        return []
    await _reserve_budget(session, principal, budget, sum((g[2] for g in grants), Decimal(0)))
    allocations = [
        MdfAllocation(
            tenant_id=tenant,
            budget_id=budget.id,
            partner_id=partner_id,
            amount=amount,
            currency=budget.currency,
            requested=Decimal(0),
            source=AllocationSource.LEVEL,
            level_id=level_id,
            created_by=principal.subject_id,
        )
        for partner_id, level_id, amount in grants
    ]
    session.add_all(allocations)
    await session.flush()
    for allocation in allocations:
        record(session, principal, MdfEntity.ALLOCATION, allocation.id, None, "ALLOCATED")
    return allocations


# Fund requests ---------------------------------------------------------------------------


async def request_funds(
    session: AsyncSession,
    principal: Principal,
    *,
    allocation_id: uuid.UUID,
    activity: str,
    campaign: str | None,
    amount: Money,
    expected_outcome: str | None,
) -> FundRequest:
    """A partner user (of the allocated partner) or an admin asks for part of what remains
    of the allocation: LIMIT_EXCEEDED if the amount is more than that."""
    allocation = await session.scalar(
        readable(MdfAllocation, principal).where(MdfAllocation.id == allocation_id)
    )
    if allocation is None:
        raise NotFound("no such MDF allocation", field="allocationId")
    if not may_act_for(principal, allocation.partner_id):
        raise Forbidden("only the partner's users or an admin may request funds")
    activity_text = clean_text(activity, "activity", 500, required=True)
    campaign_text = clean_text(campaign, "campaign", 200)
    outcome = clean_text(expected_outcome, "expectedOutcome", 5000)
    value = positive(amount, allocation.currency)
    reserved = await session.scalar(
        update(MdfAllocation)
        .where(
            MdfAllocation.tenant_id == principal.tenant_id,
            MdfAllocation.id == allocation.id,
            MdfAllocation.requested + value <= MdfAllocation.amount,
        )
        .values(requested=MdfAllocation.requested + value)
        .returning(MdfAllocation.requested)
        .execution_options(synchronize_session=False)
    )
    if reserved is None:
        raise limit_exceeded("the amount is more than what remains of the allocation")
    request = FundRequest(
        tenant_id=principal.tenant_id,
        allocation_id=allocation.id,
        partner_id=allocation.partner_id,
        activity=activity_text,
        campaign=campaign_text,
        expected_outcome=outcome,
        amount=value,
        currency=allocation.currency,
        status=RequestStatus.SUBMITTED,
        requested_by=principal.subject_id,
    )
    session.add(request)
    await session.flush()
    record(session, principal, MdfEntity.REQUEST, request.id, None, RequestStatus.SUBMITTED)
    return request


async def locked_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, *, field: str = "id"
) -> FundRequest:
    """The visible request, row-locked for a state change (so two reviewers, or a review
    and a cancellation, never both apply)."""
    request = await session.scalar(
        readable(FundRequest, principal)
        .where(FundRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if request is None:
        raise NotFound("no such fund request", field=field)
    return request


async def _release(session: AsyncSession, request: FundRequest) -> None:
    """Give a rejected or cancelled request's amount back to its allocation."""
    await session.execute(
        update(MdfAllocation)
        .where(
            MdfAllocation.tenant_id == request.tenant_id,
            MdfAllocation.id == request.allocation_id,
        )
        .values(requested=MdfAllocation.requested - request.amount)
        .execution_options(synchronize_session=False)
    )


async def review_request(
    session: AsyncSession,
    principal: Principal,
    *,
    request_id: uuid.UUID,
    approve: bool,
    comment: str | None,
) -> FundRequest:
    """An admin approves or rejects a SUBMITTED request (rejection frees its amount); the
    partner is notified (`mdf.request_reviewed`)."""
    note = clean_text(comment, "comment", MAX_COMMENT)
    request = await locked_request(session, principal, request_id)
    if request.status != RequestStatus.SUBMITTED:
        raise invalid_transition(f"the request is {request.status}, not SUBMITTED")
    status = RequestStatus.APPROVED if approve else RequestStatus.REJECTED
    if not approve:
        await _release(session, request)
    request.status = status
    request.reviewed_by = principal.subject_id
    request.reviewed_at = datetime.now(UTC)
    request.review_comment = note
    record(session, principal, MdfEntity.REQUEST, request.id, RequestStatus.SUBMITTED, status, note)
    await notify(
        session,
        principal.tenant_id,
        request.partner_id,
        "mdf.request_reviewed",
        f"Your fund request '{request.activity}' was {status.lower()}.",
        {"requestId": request.id, "status": status.value, "comment": note},
    )
    await session.flush()
    return request


async def cancel_request(
    session: AsyncSession, principal: Principal, *, request_id: uuid.UUID
) -> FundRequest:
    """The partner (or an admin) withdraws a request not yet claimed; its amount returns
    to the allocation."""
    request = await locked_request(session, principal, request_id)
    if not may_act_for(principal, request.partner_id):
        raise Forbidden("only the partner's users or an admin may cancel a request")
    if request.status not in (RequestStatus.SUBMITTED, RequestStatus.APPROVED):
        raise invalid_transition(f"a {request.status} request cannot be cancelled")
    previous = request.status
    await _release(session, request)
    request.status = RequestStatus.CANCELLED
    record(session, principal, MdfEntity.REQUEST, request.id, previous, RequestStatus.CANCELLED)
    await session.flush()
    return request
