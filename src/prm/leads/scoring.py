"""Lead scoring: 0-100 from the tenant's fit rules plus engagement, computed in SQL.

A tenant's rules (`lead_scoring_rules`, replaced as a set by `set_scoring_rules`) award
points when a lead matches:

- COUNTRY / REGION / INDUSTRY: the lead's value is one of `values` (case-insensitive);
- PRODUCT_INTEREST: the lead names at least one of `values`;
- MIN_ESTIMATED_VALUE: the lead's estimated value is at least `minAmount` in the rule's
  `currency` (values in other currencies do not match: prm converts no currencies);
- ENGAGEMENT: `points` per activity recorded on the lead, at most `maxPoints`.

The score is the sum, clamped to 0-100. One UPDATE recomputes any set of leads (one lead
on create and update, every open lead when the rules change, a batch on import), so
scoring never loops in Python. Rule points may be negative (a poor fit).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, any_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from prm.auth.principal import Principal, Role
from prm.crm.models import Activity
from prm.errors import Forbidden, InvalidInput
from prm.leads.fields import country_codes, tags
from prm.leads.models import OPEN_STATUSES, Lead, LeadScoringRule, ScoringCriterion
from prm.money import Money

MAX_RULES = 200


@dataclass(frozen=True)
class ScoringRuleSpec:
    criterion: ScoringCriterion
    points: int
    values: Sequence[str] = ()
    min_amount: Decimal | None = None
    currency: str | None = None
    max_points: int | None = None


def _clean_rule(spec: ScoringRuleSpec, index: int) -> LeadScoringRule:
    where = f"rules[{index}]"
    if not -100 <= spec.points <= 100:
        raise InvalidInput("must be between -100 and 100", field=f"{where}.points")
    values: tuple[str, ...] = ()
    min_amount = currency = max_points = None
    criterion = spec.criterion
    if criterion is ScoringCriterion.COUNTRY:
        values = country_codes(spec.values, field=f"{where}.values")
    elif criterion is ScoringCriterion.REGION:
        values = tags(spec.values, field=f"{where}.values", upper=True)
    elif criterion in (ScoringCriterion.INDUSTRY, ScoringCriterion.PRODUCT_INTEREST):
        values = tags(spec.values, field=f"{where}.values")
    elif criterion is ScoringCriterion.MIN_ESTIMATED_VALUE:
        if spec.min_amount is None or spec.currency is None:
            raise InvalidInput("needs minAmount and currency", field=f"{where}.minAmount")
        money = Money.parse(spec.min_amount, spec.currency, field=f"{where}.minAmount")
        min_amount, currency = money.amount, money.currency
    elif criterion is ScoringCriterion.ENGAGEMENT:
        if spec.points <= 0:
            raise InvalidInput("engagement points must be positive", field=f"{where}.points")
        max_points = spec.max_points if spec.max_points is not None else 100
        if not 0 <= max_points <= 100:
            raise InvalidInput("must be between 0 and 100", field=f"{where}.maxPoints")
    matches_values = criterion not in (
        ScoringCriterion.MIN_ESTIMATED_VALUE,
        ScoringCriterion.ENGAGEMENT,
    )
    if matches_values and not values:
        raise InvalidInput("must name at least one value", field=f"{where}.values")
    return LeadScoringRule(
        position=index,
        criterion=criterion,
        values=list(values),
        min_amount=min_amount,
        currency=currency,
        points=spec.points,
        max_points=max_points,
    )


def scoring_rules(session: Session, principal: Principal) -> list[LeadScoringRule]:
    if not principal.has_any(Role.ADMIN, Role.MANAGER):
        raise Forbidden("only an admin or a manager may read lead scoring rules")
    return list(
        session.scalars(
            select(LeadScoringRule)
            .where(LeadScoringRule.tenant_id == principal.tenant_id)
            .order_by(LeadScoringRule.position)
        )
    )


def set_scoring_rules(
    session: Session, principal: Principal, rules: Sequence[ScoringRuleSpec]
) -> list[LeadScoringRule]:
    """Replace the tenant's rules, then rescore every open lead (admins only)."""
    if not principal.has_any(Role.ADMIN):
        raise Forbidden("only an admin may set lead scoring rules")
    if len(rules) > MAX_RULES:
        raise InvalidInput(f"at most {MAX_RULES} rules", field="rules")
    rows = [_clean_rule(spec, index) for index, spec in enumerate(rules)]
    session.execute(delete(LeadScoringRule).where(LeadScoringRule.tenant_id == principal.tenant_id))
    for row in rows:
        row.tenant_id = principal.tenant_id
        session.add(row)
    session.flush()
    rescore(session, principal.tenant_id, Lead.status.in_(OPEN_STATUSES))
    return rows


def score_expression() -> ColumnElement[int]:
    """The score of the `Lead` row in scope, from its tenant's rules and activities."""
    rule = LeadScoringRule
    matches = or_(
        and_(rule.criterion == ScoringCriterion.COUNTRY, Lead.country == any_(rule.values)),
        and_(
            rule.criterion == ScoringCriterion.REGION,
            func.upper(Lead.region) == any_(rule.values),
        ),
        and_(
            rule.criterion == ScoringCriterion.INDUSTRY,
            func.lower(Lead.industry) == any_(rule.values),
        ),
        and_(
            rule.criterion == ScoringCriterion.PRODUCT_INTEREST,
            Lead.product_interest.op("&&")(rule.values),
        ),
        and_(
            rule.criterion == ScoringCriterion.MIN_ESTIMATED_VALUE,
            Lead.currency == rule.currency,
            Lead.estimated_value >= rule.min_amount,
        ),
    )
    fit = (
        select(func.coalesce(func.sum(rule.points), 0))
        .where(rule.tenant_id == Lead.tenant_id, matches)
        .scalar_subquery()
    )
    activities = (
        select(func.count())
        .select_from(Activity)
        .where(Activity.tenant_id == Lead.tenant_id, Activity.lead_id == Lead.id)
        .correlate_except(Activity)
        .scalar_subquery()
    )
    engagement = (
        select(
            func.coalesce(
                func.sum(func.least(rule.points * activities, func.coalesce(rule.max_points, 100))),
                0,
            )
        )
        .where(rule.tenant_id == Lead.tenant_id, rule.criterion == ScoringCriterion.ENGAGEMENT)
        .scalar_subquery()
    )
    return func.least(100, func.greatest(0, fit + engagement))


def rescore(session: Session, tenant_id: uuid.UUID, *conditions: ColumnElement[bool]) -> None:
    """Recompute the score of the tenant's leads matching `conditions`, in one UPDATE."""
    session.execute(
        update(Lead)
        .where(Lead.tenant_id == tenant_id, *conditions)
        .values(score=score_expression())
        .execution_options(synchronize_session=False)
    )


def recompute_scores(session: Session, tenant_id: uuid.UUID, lead_ids: Sequence[uuid.UUID]) -> None:
    """Rescore these leads (one statement), e.g. after capture or import."""
    if lead_ids:
        rescore(session, tenant_id, Lead.id.in_(list(lead_ids)))


def current_score(session: Session, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> int | None:
    recompute_scores(session, tenant_id, [lead_id])
    return session.scalar(select(Lead.score).where(Lead.tenant_id == tenant_id, Lead.id == lead_id))


async def recompute_lead_score(
    session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID
) -> int | None:
    """Rescore one lead in the caller's transaction (e.g. after `recordActivity` on it);
    the new score, or None if there is no such lead."""
    return await session.run_sync(current_score, tenant_id, lead_id)
