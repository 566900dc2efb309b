"""Opportunities: deals in a pipeline of stages.

Open stages (PROSPECTING, QUALIFICATION, PROPOSAL, NEGOTIATION) move freely among
themselves and into CLOSED_WON or CLOSED_LOST. Closed stages are terminal, except that an
admin or a manager may reopen a deal to NEGOTIATION. `closedAt` is set on entering a
closed stage and cleared on reopening. The probability follows the stage (10, 25, 50, 75,
100, 0) unless one is given.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Select, delete
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal, Role
from prm.crm.accounts import get_account
from prm.crm.fields import like_pattern, partner_for_write, require_employee, required_text
from prm.crm.models import Opportunity, OpportunityStage
from prm.crm.visibility import readable_opportunities, require_manager, require_writer
from prm.errors import DomainError, ErrorCode, InvalidInput, NotFound
from prm.events.bus import Event, emit, event
from prm.metrics.stale import mark_stale
from prm.money import Money, normalise_currency

Stage = OpportunityStage
OPEN_STAGES = frozenset({Stage.PROSPECTING, Stage.QUALIFICATION, Stage.PROPOSAL, Stage.NEGOTIATION})
CLOSED_STAGES = frozenset({Stage.CLOSED_WON, Stage.CLOSED_LOST})
DEFAULT_PROBABILITY = {
    Stage.PROSPECTING: 10,
    Stage.QUALIFICATION: 25,
    Stage.PROPOSAL: 50,
    Stage.NEGOTIATION: 75,
    Stage.CLOSED_WON: 100,
    Stage.CLOSED_LOST: 0,
}
REOPEN_STAGE = Stage.NEGOTIATION


class InvalidTransition(DomainError):
    code = ErrorCode.INVALID_TRANSITION


def check_transition(principal: Principal, current: Stage, new: Stage) -> None:
    """Refuse a stage change the rules do not allow (see the module docstring)."""
    if current == new or current in OPEN_STAGES:
        return
    if new == REOPEN_STAGE and principal.has_any(Role.ADMIN, Role.MANAGER):
        return
    hint = (
        "only an admin or a manager may reopen it, to NEGOTIATION"
        if new == REOPEN_STAGE
        else "a closed opportunity can only be reopened to NEGOTIATION"
    )
    raise InvalidTransition(f"{current.value} to {new.value} is not allowed: {hint}", field="stage")


def _probability(value: int | None, stage: Stage) -> int:
    if value is None:
        return DEFAULT_PROBABILITY[stage]
    if not 0 <= value <= 100:
        raise InvalidInput("must be between 0 and 100", field="probability")
    return value


@dataclass(frozen=True)
class OpportunityCriteria:
    """What `opportunities` may be narrowed by; every field optional, all combine."""

    account_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    stages: tuple[Stage, ...] = ()
    close_date_from: date | None = None
    close_date_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    currency: str | None = None
    search: str | None = None


def filter_opportunities(
    statement: Select[Opportunity], criteria: OpportunityCriteria
) -> Select[Opportunity]:
    if criteria.account_id is not None:
        statement = statement.where(Opportunity.account_id == criteria.account_id)
    if criteria.owner_id is not None:
        statement = statement.where(Opportunity.owner_id == criteria.owner_id)
    if criteria.partner_id is not None:
        statement = statement.where(Opportunity.partner_id == criteria.partner_id)
    if criteria.stages:
        statement = statement.where(Opportunity.stage.in_(criteria.stages))
    if criteria.close_date_from is not None:
        statement = statement.where(Opportunity.close_date >= criteria.close_date_from)
    if criteria.close_date_to is not None:
        statement = statement.where(Opportunity.close_date <= criteria.close_date_to)
    if criteria.amount_min is not None:
        statement = statement.where(Opportunity.amount >= criteria.amount_min)
    if criteria.amount_max is not None:
        statement = statement.where(Opportunity.amount <= criteria.amount_max)
    if criteria.currency:
        code = normalise_currency(criteria.currency, field="currency")
        statement = statement.where(Opportunity.currency == code)
    if criteria.search and criteria.search.strip():
        statement = statement.where(
            Opportunity.name.ilike(like_pattern(criteria.search), escape="\\")
        )
    return statement


async def get_opportunity(
    session: AsyncSession,
    principal: Principal,
    opportunity_id: uuid.UUID,
    *,
    field: str = "id",
    for_update: bool = False,
) -> Opportunity:
    """An opportunity the principal may see, or `NOT_FOUND` on `field`."""
    statement = readable_opportunities(principal).where(Opportunity.id == opportunity_id)
    if for_update:
        statement = statement.with_for_update()
    opportunity = await session.scalar(statement)
    if opportunity is None:
        raise NotFound("no such opportunity", field=field)
    return opportunity


def _enter_stage(opportunity: Opportunity, stage: Stage) -> None:
    if stage in CLOSED_STAGES and opportunity.stage not in CLOSED_STAGES:
        opportunity.closed_at = datetime.now(UTC)
    elif stage in OPEN_STAGES:
        opportunity.closed_at = None
    opportunity.stage = stage


async def _evaluate_incentives(
    session: AsyncSession, principal: Principal, opportunity: Opportunity
) -> None:
    """A won deal earns its partner's incentives: a job, run only if this commits (it
    reads the deal then, so a partner set later in the same change counts)."""
    from prm.incentives.evaluate import EVALUATE
    from prm.workers.jobs import enqueue_job

    await enqueue_job(session, principal, EVALUATE, {"opportunityId": str(opportunity.id)})


def _closed_event(opportunity: Opportunity) -> Event:
    """`opportunity.closed` for webhooks and subscribers: the deal was won or lost."""
    return event(
        "opportunity.closed",
        opportunity.tenant_id,
        {
            "opportunityId": opportunity.id,
            "stage": opportunity.stage.value,
            "partnerId": opportunity.partner_id,
        },
        partner_ids=[opportunity.partner_id],
    )


async def create_opportunity(
    session: AsyncSession,
    principal: Principal,
    *,
    account_id: uuid.UUID,
    name: str,
    amount: Money | None = None,
    stage: Stage | None = None,
    probability: int | None = None,
    close_date: date | None = None,
    owner_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    source_lead_id: uuid.UUID | None = None,
) -> Opportunity:
    """A new opportunity at a visible account; a partner user's belongs to its partner.
    `amount` is validated money (`Money.parse`); `source_lead_id` is stored as given."""
    require_writer(principal)
    account = await get_account(session, principal, account_id, field="accountId")
    stage = stage or Stage.PROSPECTING
    opportunity = Opportunity(
        tenant_id=principal.tenant_id,
        account_id=account.id,
        name=required_text(name, field="name"),
        amount=amount.amount if amount else None,
        currency=amount.currency if amount else None,
        stage=stage,
        probability=_probability(probability, stage),
        close_date=close_date,
        closed_at=datetime.now(UTC) if stage in CLOSED_STAGES else None,
        owner_id=(
            await require_employee(session, principal, owner_id, field="ownerId")
            if owner_id is not None
            else None
        ),
        partner_id=await partner_for_write(session, principal, partner_id),
        source_lead_id=source_lead_id,
    )
    session.add(opportunity)
    await session.flush()
    if opportunity.closed_at is not None:
        await mark_stale(session, principal.tenant_id, opportunity.closed_at)
        await emit(session, _closed_event(opportunity))
    if opportunity.stage == Stage.CLOSED_WON:
        await _evaluate_incentives(session, principal, opportunity)
    return opportunity


async def update_opportunity(
    session: AsyncSession,
    principal: Principal,
    opportunity_id: uuid.UUID,
    *,
    name: str | None = None,
    amount: Money | None = None,
    stage: Stage | None = None,
    probability: int | None = None,
    close_date: date | None = None,
    owner_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Opportunity:
    """Change the given fields (None leaves one as it is). A new stage brings its default
    probability unless one is given."""
    require_writer(principal)
    opportunity = await get_opportunity(session, principal, opportunity_id, for_update=True)
    if name is not None:
        opportunity.name = required_text(name, field="name")
    if amount is not None:
        opportunity.amount, opportunity.currency = amount.amount, amount.currency
    if stage is not None and stage != opportunity.stage:
        check_transition(principal, opportunity.stage, stage)
        was_won = opportunity.stage == Stage.CLOSED_WON
        was_closed = opportunity.closed_at
        _enter_stage(opportunity, stage)
        opportunity.probability = _probability(probability, stage)
        closing = opportunity.closed_at or was_closed
        if closing is not None:
            # Closed, reopened or moved between won and lost: scorecards count closes.
            await mark_stale(session, principal.tenant_id, closing)
        if stage in CLOSED_STAGES:
            await emit(session, _closed_event(opportunity))
        if stage == Stage.CLOSED_WON:
            await _evaluate_incentives(session, principal, opportunity)
        elif was_won:
            from prm.incentives.evaluate import void_for_reopened

            await void_for_reopened(session, principal.tenant_id, opportunity)
    elif probability is not None:
        opportunity.probability = _probability(probability, opportunity.stage)
    if close_date is not None:
        opportunity.close_date = close_date
    if owner_id is not None:
        opportunity.owner_id = await require_employee(session, principal, owner_id, field="ownerId")
    if partner_id is not None:
        opportunity.partner_id = await partner_for_write(session, principal, partner_id)
    opportunity.updated_at = datetime.now(UTC)  # not re-read after the flush
    await session.flush()
    return opportunity


async def delete_opportunity(
    session: AsyncSession, principal: Principal, opportunity_id: uuid.UUID
) -> Opportunity:
    """Delete an opportunity and its activities (admins and managers)."""
    require_manager(principal)
    opportunity = await get_opportunity(session, principal, opportunity_id, for_update=True)
    await session.execute(
        delete(Opportunity).where(
            Opportunity.tenant_id == principal.tenant_id, Opportunity.id == opportunity.id
        )
    )
    return opportunity


def stages_of(values: Sequence[Stage] | None) -> tuple[Stage, ...]:
    return tuple(dict.fromkeys(values or ()))
