"""Incentive rules: admins create, change and end them; staff read them all, a partner
user those of the programs its partner is enrolled in.

What a rule needs depends on its kind (`check_rule`): REVENUE_PERCENT a `percent`;
DEAL_BONUS an `amount`; SPIFF an `amount` per unit, `product_ids` and a closed window;
VOLUME_REBATE ascending `tiers` with distinct thresholds (a repeated threshold is an
overlap: INVALID), a `currency` and a `period_kind`, and counts every won deal (scope ANY).
Kind, program and level never change: a different rule is a new rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal, Role, is_staff, own_partner
from prm.catalog.models import Product
from prm.crm.fields import required_text
from prm.errors import Forbidden, InvalidInput, NotFound
from prm.incentives.models import (
    DealScope,
    IncentiveKind,
    IncentiveRule,
    RebatePeriodKind,
)
from prm.money import MAX_AMOUNT, Money, normalise_currency
from prm.partners.program_models import ChannelProgram, ProgramEnrolment, ProgramLevel

MAX_TIERS = 20
MAX_PRODUCTS = 100


@dataclass(frozen=True)
class Tier:
    threshold: Decimal
    percent: Decimal


@dataclass
class RuleChanges:
    """Fields of a rule to set; `None` keeps (update) or leaves empty (create). The
    `clear_*` flags remove an optional value on update."""

    name: str | None = None
    deal_scope: DealScope | None = None
    percent: Decimal | None = None
    amount: Money | None = None
    currency: str | None = None
    tiers: Sequence[Tier] | None = None
    period_kind: RebatePeriodKind | None = None
    product_ids: Sequence[uuid.UUID] | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    dispute_days: int | None = None
    clear: set[str] = field(default_factory=set)


def require_admin(principal: Principal) -> None:
    if not principal.has_any(Role.ADMIN):
        raise Forbidden("only admins manage incentives")


def readable_rules(principal: Principal) -> Select[IncentiveRule]:
    """Staff: every rule of the tenant; a partner user: the rules of its programs."""
    statement = select(IncentiveRule).where(IncentiveRule.tenant_id == principal.tenant_id)
    if is_staff(principal):
        return statement
    partner = own_partner(principal)
    if partner is None:
        return statement.where(false())
    programs = select(ProgramEnrolment.program_id).where(
        ProgramEnrolment.tenant_id == principal.tenant_id, ProgramEnrolment.partner_id == partner
    )
    return statement.where(IncentiveRule.program_id.in_(programs))


def _tiers(tiers: Sequence[Tier]) -> list[dict[str, str]]:
    if not tiers:
        raise InvalidInput("a volume rebate needs at least one tier", field="tiers")
    if len(tiers) > MAX_TIERS:
        raise InvalidInput(f"at most {MAX_TIERS} tiers", field="tiers")
    thresholds = [tier.threshold for tier in tiers]
    if len(set(thresholds)) != len(thresholds):
        raise InvalidInput("tiers overlap: each threshold may appear once", field="tiers")
    for tier in tiers:
        if not tier.threshold.is_finite() or tier.threshold < 0 or tier.threshold > MAX_AMOUNT:
            raise InvalidInput("a threshold is an amount, not negative", field="tiers")
        _percent(tier.percent, field="tiers")
    ordered = sorted(tiers, key=lambda tier: tier.threshold)
    return [{"threshold": str(t.threshold), "percent": str(t.percent)} for t in ordered]


def tiers_of(rule: IncentiveRule) -> list[Tier]:
    return [Tier(Decimal(t["threshold"]), Decimal(t["percent"])) for t in rule.tiers or []]


def _percent(value: Decimal, *, field: str) -> Decimal:
    try:
        ok = value.is_finite() and Decimal(0) < value <= Decimal(100)
        exponent = value.as_tuple().exponent
    except (InvalidOperation, TypeError) as error:
        raise InvalidInput("must be a number", field=field) from error
    if not ok:
        raise InvalidInput("must be more than 0 and at most 100", field=field)
    if isinstance(exponent, int) and exponent < -4:
        raise InvalidInput("at most 4 decimal places", field=field)
    return value


def check_rule(rule: IncentiveRule) -> None:
    """Refuse a rule its kind cannot evaluate (see the module docstring)."""
    kind = IncentiveKind(rule.kind)
    needs_amount = kind in (IncentiveKind.DEAL_BONUS, IncentiveKind.SPIFF)
    if needs_amount and (rule.amount is None or rule.currency is None):
        raise InvalidInput(f"a {kind.value} rule needs an amount", field="amount")
    if not needs_amount and rule.amount is not None:
        raise InvalidInput(f"a {kind.value} rule has no amount", field="amount")
    if kind is IncentiveKind.REVENUE_PERCENT and rule.percent is None:
        raise InvalidInput("a REVENUE_PERCENT rule needs a percent", field="percent")
    if kind is not IncentiveKind.REVENUE_PERCENT and rule.percent is not None:
        raise InvalidInput(f"a {kind.value} rule has no percent", field="percent")
    if kind is IncentiveKind.VOLUME_REBATE:
        if not rule.tiers:
            raise InvalidInput("a volume rebate needs at least one tier", field="tiers")
        if rule.currency is None:
            raise InvalidInput("a volume rebate needs a currency", field="currency")
        if rule.deal_scope != DealScope.ANY:
            raise InvalidInput("a volume rebate counts every won deal", field="dealScope")
    elif rule.tiers:
        raise InvalidInput("only a VOLUME_REBATE rule has tiers", field="tiers")
    if kind is IncentiveKind.SPIFF:
        if not rule.product_ids:
            raise InvalidInput("a SPIFF names at least one product", field="productIds")
        if rule.starts_at is None or rule.ends_at is None:
            raise InvalidInput("a SPIFF runs in a window: give startsAt and endsAt", field="endsAt")
    elif rule.product_ids:
        raise InvalidInput("only a SPIFF names products", field="productIds")
    if rule.starts_at and rule.ends_at and rule.ends_at <= rule.starts_at:
        raise InvalidInput("must be after startsAt", field="endsAt")
    if not 0 <= rule.dispute_days <= 365:
        raise InvalidInput("must be between 0 and 365", field="disputeDays")


async def _check_products(
    session: AsyncSession, tenant_id: uuid.UUID, product_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    ids = list(dict.fromkeys(product_ids))
    if len(ids) > MAX_PRODUCTS:
        raise InvalidInput(f"at most {MAX_PRODUCTS} products", field="productIds")
    found = set(
        await session.scalars(
            select(Product.id).where(Product.tenant_id == tenant_id, Product.id.in_(ids))
        )
    )
    if len(found) != len(ids):
        raise NotFound("no such product", field="productIds")
    return ids


async def _apply(
    session: AsyncSession, principal: Principal, rule: IncentiveRule, changes: RuleChanges
) -> None:
    if changes.name is not None:
        rule.name = required_text(changes.name, field="name", max_length=200)
    if changes.deal_scope is not None:
        rule.deal_scope = changes.deal_scope
    if changes.percent is not None:
        rule.percent = _percent(changes.percent, field="percent")
    if changes.amount is not None:
        if changes.amount.amount <= 0:
            raise InvalidInput("must be more than 0", field="amount.amount")
        rule.amount, rule.currency = changes.amount.amount, changes.amount.currency
    if changes.currency is not None:
        code = normalise_currency(changes.currency)
        if rule.amount is not None and rule.currency != code:
            raise InvalidInput("differs from the amount's currency", field="currency")
        rule.currency = code
    if changes.tiers is not None:
        rule.tiers = _tiers(changes.tiers)
    if changes.period_kind is not None:
        rule.period_kind = changes.period_kind
    if changes.product_ids is not None:
        rule.product_ids = await _check_products(session, principal.tenant_id, changes.product_ids)
    if changes.starts_at is not None:
        rule.starts_at = changes.starts_at
    if changes.ends_at is not None:
        rule.ends_at = changes.ends_at
    if changes.dispute_days is not None:
        rule.dispute_days = changes.dispute_days
    for name in changes.clear:
        setattr(rule, name, None)
    if rule.kind == IncentiveKind.VOLUME_REBATE and rule.period_kind is None:
        rule.period_kind = RebatePeriodKind.QUARTER
    check_rule(rule)


async def create_rule(
    session: AsyncSession,
    principal: Principal,
    *,
    program_id: uuid.UUID,
    level_id: uuid.UUID | None,
    kind: IncentiveKind,
    changes: RuleChanges,
) -> IncentiveRule:
    """A new rule for one level of a program, or (`level_id` None) all of its levels."""
    require_admin(principal)
    tenant_id = principal.tenant_id
    program = await session.scalar(
        select(ChannelProgram.id).where(
            ChannelProgram.tenant_id == tenant_id, ChannelProgram.id == program_id
        )
    )
    if program is None:
        raise NotFound("no such program", field="programId")
    if level_id is not None:
        level = await session.scalar(
            select(ProgramLevel.id).where(
                ProgramLevel.tenant_id == tenant_id,
                ProgramLevel.id == level_id,
                ProgramLevel.program_id == program_id,
            )
        )
        if level is None:
            raise NotFound("no such level in this program", field="levelId")
    if changes.name is None:
        raise InvalidInput("must not be blank", field="name")
    rule = IncentiveRule(
        tenant_id=tenant_id,
        program_id=program_id,
        level_id=level_id,
        kind=kind,
        deal_scope=DealScope.ANY,
        tiers=[],
        product_ids=[],
        dispute_days=14,
        created_by=principal.subject_id,
    )
    await _apply(session, principal, rule, changes)
    session.add(rule)
    await session.flush()
    return rule


async def get_rule(
    session: AsyncSession, principal: Principal, rule_id: uuid.UUID, *, for_update: bool = False
) -> IncentiveRule:
    statement = readable_rules(principal).where(IncentiveRule.id == rule_id)
    if for_update:
        statement = statement.with_for_update()
    rule = await session.scalar(statement.execution_options(populate_existing=True))
    if rule is None:
        raise NotFound("no such incentive rule", field="id")
    return rule


async def update_rule(
    session: AsyncSession, principal: Principal, rule_id: uuid.UUID, changes: RuleChanges
) -> IncentiveRule:
    """Change a rule; what it already earned stays as computed."""
    require_admin(principal)
    rule = await get_rule(session, principal, rule_id, for_update=True)
    await _apply(session, principal, rule, changes)
    rule.updated_at = datetime.now(UTC)
    await session.flush()
    return rule


async def end_rule(
    session: AsyncSession, principal: Principal, rule_id: uuid.UUID, *, at: datetime | None = None
) -> IncentiveRule:
    """Stop a rule: deals closed from `at` (default now) no longer earn from it. Ending
    an already ended rule earlier is allowed; later is INVALID (use updateIncentiveRule)."""
    require_admin(principal)
    rule = await get_rule(session, principal, rule_id, for_update=True)
    end = at or datetime.now(UTC)
    if rule.starts_at is not None and end <= rule.starts_at:
        raise InvalidInput("must be after the rule's start", field="endsAt")
    if rule.ends_at is not None and end > rule.ends_at:
        raise InvalidInput("the rule already ended before then", field="endsAt")
    rule.ends_at = end
    rule.updated_at = datetime.now(UTC)
    await session.flush()
    return rule


def rule_tiers_json(rule: IncentiveRule) -> list[dict[str, Any]]:
    return list(rule.tiers or [])
