"""Costs the tenant records per campaign or channel and day: what cost per lead, cost per
sale and the acquisition cost of `averageLifetimeValue` divide (`prm.metrics.
customer_metrics`).

Costs are in the tenant's default currency only: the metrics never convert currencies, so
an entry in another currency would be silently left out of every figure; recording one is
refused instead (INVALID). Recording, deleting and listing are for admins and managers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from prm.auth.principal import Principal, Role
from prm.crm.campaigns import require_campaign
from prm.errors import Forbidden, InvalidInput, NotFound
from prm.metrics.models import CostEntry, CostKind
from prm.metrics.periods import MAX_YEAR, MIN_YEAR, Period
from prm.money import Money
from prm.tenants.models import Tenant

COST_MANAGERS = (Role.ADMIN, Role.MANAGER)
MAX_NAME = 200
MAX_NOTES = 4000


@dataclass(frozen=True)
class CostFields:
    """A validated cost entry, before it is written."""

    kind: CostKind
    name: str
    incurred_on: date
    amount: Money
    notes: str | None


def require_cost_manager(principal: Principal) -> None:
    if not principal.has_any(*COST_MANAGERS):
        raise Forbidden("costs are recorded and read by admins and managers")


def readable_cost_entries(principal: Principal) -> Select[CostEntry]:
    """The tenant's cost entries (callers check `require_cost_manager` first)."""
    require_cost_manager(principal)
    return select(CostEntry).where(CostEntry.tenant_id == principal.tenant_id)


async def record_cost(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: CostKind,
    name: str,
    incurred_on: date,
    amount: Decimal | str,
    currency: str,
    notes: str | None = None,
    campaign_id: uuid.UUID | None = None,
) -> CostEntry:
    """Record money spent; INVALID for a blank name, a negative or malformed amount, a
    currency other than the tenant's default, or a day outside the supported years;
    NOT_FOUND for a campaign that is not the tenant's. A cost naming a campaign counts in
    that campaign's metrics and, like every cost, in the tenant's cost per lead and sale."""
    require_cost_manager(principal)
    if campaign_id is not None:
        await require_campaign(session, principal.tenant_id, campaign_id, field="campaignId")
    default_currency = await session.scalar(
        select(Tenant.default_currency).where(Tenant.id == principal.tenant_id)
    )
    fields = validate_cost(
        kind=kind,
        name=name,
        incurred_on=incurred_on,
        amount=amount,
        currency=currency,
        notes=notes,
        default_currency=default_currency or "",
    )
    entry = CostEntry(
        tenant_id=principal.tenant_id,
        kind=fields.kind,
        name=fields.name,
        incurred_on=fields.incurred_on,
        amount=fields.amount.amount,
        currency=fields.amount.currency,
        notes=fields.notes,
        campaign_id=campaign_id,
    )
    session.add(entry)
    await session.flush()
    return entry


def validate_cost(
    *,
    kind: CostKind,
    name: str,
    incurred_on: date,
    amount: Decimal | str,
    currency: str,
    notes: str | None,
    default_currency: str,
) -> CostFields:
    """The checks of `record_cost`, without the database."""
    clean_name = (name or "").strip()
    if not clean_name:
        raise InvalidInput("a cost needs a name (the campaign or channel)", field="name")
    if len(clean_name) > MAX_NAME:
        raise InvalidInput(f"at most {MAX_NAME} characters", field="name")
    money = Money.parse(amount, currency, field="amount")
    if money.currency != default_currency:
        raise InvalidInput(
            f"costs are recorded in the tenant's currency {default_currency} "
            "(metrics do not convert currencies)",
            field="amount.currency",
        )
    if not MIN_YEAR <= incurred_on.year <= MAX_YEAR:
        raise InvalidInput(
            f"the year must be between {MIN_YEAR} and {MAX_YEAR}", field="incurredOn"
        )
    clean_notes = (notes or "").strip() or None
    if clean_notes is not None and len(clean_notes) > MAX_NOTES:
        raise InvalidInput(f"at most {MAX_NOTES} characters", field="notes")
    return CostFields(kind, clean_name, incurred_on, money, clean_notes)


async def delete_cost_entry(
    session: AsyncSession, principal: Principal, entry_id: uuid.UUID
) -> CostEntry:
    """Delete a cost entry (NOT_FOUND if it is not the tenant's). Metrics already computed
    keep the old figure until their period is recomputed."""
    entry = await session.scalar(
        readable_cost_entries(principal).where(CostEntry.id == entry_id).with_for_update()
    )
    if entry is None:
        raise NotFound("no such cost entry", field="id")
    await session.delete(entry)
    await session.flush()
    return entry


def period_cost_total(
    session: Session, tenant_id: uuid.UUID, period: Period, currency: str
) -> Decimal:
    """Σ of the tenant's costs incurred in `period` (by day, UTC) in `currency`; 0 if none.
    One range scan of `ix_cost_entries_tenant_day`."""
    total = session.scalar(
        select(func.coalesce(func.sum(CostEntry.amount), 0)).where(
            CostEntry.tenant_id == tenant_id,
            CostEntry.incurred_on >= period.start.date(),
            CostEntry.incurred_on < period.end.date(),
            CostEntry.currency == currency,
        )
    )
    return Decimal(total or 0)
