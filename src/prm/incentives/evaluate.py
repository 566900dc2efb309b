"""Evaluating incentives: the `incentives.evaluate` job (one won deal) and the
`incentives.rebates` job (volume rebates of a period), plus voiding on reopen.

Which rules apply to a won deal: the rules of every program the partner was enrolled in
at the close, for the level it held then (the last entry of its level history at or
before `closed_at`; a program with no history counts its current level) or for all
levels (`level_id` null), whose window [starts_at, ends_at) contains `closed_at`.
A SPIFF counts the units of its products on the deal's accepted quote: the one accepted
last when there are several (a revised quote replaces the one before, as its total
replaces the deal's amount), so a product is not counted once per revision.
Deal scopes:

- PARTNER_SOURCED: the opportunity's `source_lead_id` is a lead held by the same partner.
- REGISTERED: registrations have no opportunity link, so they match the deal's account
  the way deal registration detects conflicts: the registration's normalised company
  equals the account's normalised name, or its match domain equals the account's domain.
  It must belong to the deal's partner, have been approved at or before the close
  (`decided_at <= closed_at`, status APPROVED, or EXPIRED afterwards) and still be
  protected then (`protected_until` null or after the close).

Each (rule, deal) is one row, inserted with ON CONFLICT on the unique key, so a retried
job or two concurrent ones count a deal once. The job holds the deal FOR SHARE, so a
reopen racing it either comes first (nothing is earned) or voids what it earned. A VOID row (the deal was reopened) is
revived when the deal is won again; any other existing row is left alone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.crm.models import Opportunity, OpportunityStage
from prm.incentives.models import (
    EarnedIncentive,
    IncentiveKind,
    IncentiveRule,
    IncentiveStatus,
)
from prm.incentives.rules import tiers_of
from prm.metrics.periods import parse_period
from prm.money import round_money
from prm.partners.notifications import notify, notify_sync

EVALUATE = "incentives.evaluate"
REBATES = "incentives.rebates"
HUNDRED = Decimal(100)

_APPLICABLE = text(
    """
WITH opp AS (
    SELECT o.id, o.partner_id, o.amount, o.currency, o.closed_at, o.source_lead_id,
           a.normalized_name, a.domain
    FROM opportunities o JOIN accounts a ON a.tenant_id = o.tenant_id AND a.id = o.account_id
    WHERE o.tenant_id = :tenant_id AND o.id = :opportunity_id
      AND o.stage = 'CLOSED_WON' AND o.partner_id IS NOT NULL AND o.closed_at IS NOT NULL
),
levels AS (
    SELECT e.program_id,
           CASE WHEN EXISTS (
                    SELECT 1 FROM program_level_changes c
                    WHERE c.tenant_id = e.tenant_id AND c.partner_id = e.partner_id
                      AND c.program_id = e.program_id)
                THEN (SELECT c.to_level_id FROM program_level_changes c
                      WHERE c.tenant_id = e.tenant_id AND c.partner_id = e.partner_id
                        AND c.program_id = e.program_id AND c.created_at <= opp.closed_at
                      ORDER BY c.created_at DESC, c.id DESC LIMIT 1)
                ELSE e.level_id END AS level_id
    FROM program_enrolments e JOIN opp ON e.partner_id = opp.partner_id
    WHERE e.tenant_id = :tenant_id
),
flags AS (
    SELECT EXISTS (
               SELECT 1 FROM leads l
               WHERE l.tenant_id = :tenant_id AND l.id = opp.source_lead_id
                 AND l.partner_id = opp.partner_id) AS sourced,
           EXISTS (
               SELECT 1 FROM deal_registrations r
               WHERE r.tenant_id = :tenant_id AND r.partner_id = opp.partner_id
                 AND r.status IN ('APPROVED', 'EXPIRED')
                 AND r.decided_at IS NOT NULL AND r.decided_at <= opp.closed_at
                 AND (r.protected_until IS NULL OR r.protected_until > opp.closed_at)
                 AND (r.normalized_company = opp.normalized_name
                      OR (r.match_domain IS NOT NULL AND r.match_domain = opp.domain))
           ) AS registered
    FROM opp
)
SELECT r.id AS rule_id, levels.level_id, opp.partner_id, opp.amount AS deal_amount,
       opp.currency AS deal_currency, opp.closed_at,
       COALESCE((
           SELECT sum(ql.quantity) FROM quote_lines ql
           WHERE ql.tenant_id = :tenant_id AND ql.quote_id = (
                   SELECT q.id FROM quotes q
                   WHERE q.tenant_id = :tenant_id AND q.opportunity_id = opp.id
                     AND q.status = 'ACCEPTED'
                   ORDER BY q.accepted_at DESC NULLS LAST, q.id DESC LIMIT 1)
             AND ql.product_id = ANY (r.product_ids)
       ), 0) AS units
FROM incentive_rules r
JOIN levels ON levels.program_id = r.program_id AND levels.level_id IS NOT NULL
CROSS JOIN opp CROSS JOIN flags
WHERE r.tenant_id = :tenant_id
  AND r.kind IN ('REVENUE_PERCENT', 'DEAL_BONUS', 'SPIFF')
  AND (r.level_id IS NULL OR r.level_id = levels.level_id)
  AND (r.starts_at IS NULL OR r.starts_at <= opp.closed_at)
  AND (r.ends_at IS NULL OR opp.closed_at < r.ends_at)
  AND (r.deal_scope = 'ANY'
       OR (r.deal_scope = 'PARTNER_SOURCED' AND flags.sourced)
       OR (r.deal_scope = 'REGISTERED' AND flags.registered))
ORDER BY r.id
"""
)


def _deal_amount(rule: IncentiveRule, row: Any) -> tuple[Decimal, Decimal, str] | None:
    """(amount, basis, currency) the rule pays for the deal, or None if nothing."""
    kind = IncentiveKind(rule.kind)
    if kind is IncentiveKind.REVENUE_PERCENT:
        if row.deal_amount is None or row.deal_currency is None:
            return None
        if rule.currency is not None and rule.currency != row.deal_currency:
            return None
        assert rule.percent is not None
        amount = round_money(row.deal_amount * rule.percent / HUNDRED, row.deal_currency)
        return amount, row.deal_amount, row.deal_currency
    assert rule.amount is not None
    assert rule.currency is not None
    if kind is IncentiveKind.DEAL_BONUS:
        return round_money(rule.amount, rule.currency), Decimal(1), rule.currency
    units = Decimal(row.units)
    if units <= 0:
        return None
    return round_money(rule.amount * units, rule.currency), units, rule.currency


def evaluate_opportunity(
    session: Session, principal: Principal, *, opportunityId: str
) -> dict[str, object]:
    """Earn every applicable rule's incentive for a won deal, once per (rule, deal).
    A deal no longer won (reopened before the job ran) earns nothing."""
    tenant_id = principal.tenant_id
    opportunity_id = uuid.UUID(opportunityId)
    # Hold the deal against a concurrent reopen (which locks it FOR UPDATE) until this
    # commits: a reopen that came first is seen by the next statement (a fresh snapshot),
    # one that comes later waits and then voids what this wrote.
    session.execute(
        select(Opportunity.id)
        .where(Opportunity.tenant_id == tenant_id, Opportunity.id == opportunity_id)
        .with_for_update(read=True)
    )
    rows = session.execute(
        _APPLICABLE, {"tenant_id": tenant_id, "opportunity_id": opportunity_id}
    ).all()
    if not rows:
        return {"opportunityId": opportunityId, "earned": 0}
    rules = {
        rule.id: rule
        for rule in session.query(IncentiveRule).filter(
            IncentiveRule.tenant_id == tenant_id,
            IncentiveRule.id.in_([row.rule_id for row in rows]),
        )
    }
    now = datetime.now(UTC)
    values: list[dict[str, Any]] = []
    for row in rows:
        rule = rules[row.rule_id]
        computed = _deal_amount(rule, row)
        if computed is None:
            continue
        amount, basis, currency = computed
        values.append(
            {
                "tenant_id": tenant_id,
                "id": uuid.uuid4(),
                "rule_id": rule.id,
                "partner_id": row.partner_id,
                "opportunity_id": opportunity_id,
                "level_id": row.level_id,
                "amount": amount,
                "currency": currency,
                "basis": basis,
                "status": IncentiveStatus.PENDING.value,
                "earned_at": row.closed_at,
                "dispute_until": now + timedelta(days=rule.dispute_days),
            }
        )
    if not values:
        return {"opportunityId": opportunityId, "earned": 0}
    table = cast(Table, EarnedIncentive.__table__)
    statement = insert(table).values(values)
    excluded = statement.excluded
    upsert = statement.on_conflict_do_update(
        index_elements=["tenant_id", "rule_id", "opportunity_id"],
        set_={
            "status": IncentiveStatus.PENDING.value,
            "amount": excluded.amount,
            "currency": excluded.currency,
            "basis": excluded.basis,
            "level_id": excluded.level_id,
            "earned_at": excluded.earned_at,
            "dispute_until": excluded.dispute_until,
            "voided_at": None,
            "updated_at": now,
        },
        where=table.c.status == IncentiveStatus.VOID.value,
    ).returning(table.c.id, table.c.partner_id, table.c.amount, table.c.currency)
    earned = session.execute(upsert).all()
    for row in earned:
        notify_sync(
            session,
            tenant_id,
            row.partner_id,
            "incentive.earned",
            f"You earned an incentive of {row.amount.normalize():f} {row.currency}.",
            {"incentiveId": row.id, "opportunityId": opportunity_id},
        )
    return {"opportunityId": opportunityId, "earned": len(earned)}


async def void_for_reopened(
    session: AsyncSession, tenant_id: uuid.UUID, opportunity: Opportunity
) -> int:
    """A reopened deal is no longer won: its PENDING (and DISPUTED) incentives become
    VOID. Approved or paid ones stay: money already promised is settled by hand."""
    table = cast(Table, EarnedIncentive.__table__)
    result = await session.execute(
        update(table)
        .where(
            table.c.tenant_id == tenant_id,
            table.c.opportunity_id == opportunity.id,
            table.c.status.in_([IncentiveStatus.PENDING.value, IncentiveStatus.DISPUTED.value]),
        )
        .values(status=IncentiveStatus.VOID.value, voided_at=datetime.now(UTC))
        .returning(table.c.id, table.c.partner_id)
    )
    voided = result.all()
    for row in voided:
        await notify(
            session,
            tenant_id,
            row.partner_id,
            "incentive.voided",
            f"The deal {opportunity.name} was reopened: its incentive is void.",
            {"incentiveId": row.id, "opportunityId": opportunity.id},
        )
    return len(voided)


def is_won(stage: OpportunityStage) -> bool:
    return stage == OpportunityStage.CLOSED_WON


_REBATE_REVENUE = text(
    """
SELECT r.id AS rule_id, e.partner_id, e.level_id,
       COALESCE(sum(o.amount) FILTER (WHERE o.id IS NOT NULL), 0) AS revenue
FROM incentive_rules r
JOIN program_enrolments e
  ON e.tenant_id = r.tenant_id AND e.program_id = r.program_id
 AND (r.level_id IS NULL OR r.level_id = e.level_id)
LEFT JOIN opportunities o
  ON o.tenant_id = r.tenant_id AND o.partner_id = e.partner_id
 AND o.stage = 'CLOSED_WON' AND o.currency = r.currency
 AND o.closed_at >= :start AND o.closed_at < :end
 AND (r.starts_at IS NULL OR o.closed_at >= r.starts_at)
 AND (r.ends_at IS NULL OR o.closed_at < r.ends_at)
WHERE r.tenant_id = :tenant_id AND r.kind = 'VOLUME_REBATE' AND r.period_kind = :kind
  AND (r.starts_at IS NULL OR r.starts_at < :end)
  AND (r.ends_at IS NULL OR r.ends_at > :start)
GROUP BY r.id, e.partner_id, e.level_id
"""
)


def rebate_for(rule: IncentiveRule, revenue: Decimal) -> Decimal | None:
    """The highest tier reached applies to all of the period's revenue; None below all."""
    reached = [tier for tier in tiers_of(rule) if revenue >= tier.threshold]
    if not reached or revenue <= 0:
        return None
    best = max(reached, key=lambda tier: tier.threshold)
    assert rule.currency is not None
    return round_money(revenue * best.percent / HUNDRED, rule.currency)


def compute_rebates(session: Session, principal: Principal, *, period: str) -> dict[str, object]:
    """One rebate row per (rule, partner, period) for the VOLUME_REBATE rules of the
    period's kind, counting partners currently at the rule's level. Rows still PENDING
    (or VOID) are recomputed; approved, disputed or paid ones are left alone. A partner
    now below every tier has its PENDING row voided. Running it twice changes nothing."""
    parsed = parse_period(period)
    tenant_id = principal.tenant_id
    now = datetime.now(UTC)
    rows = session.execute(
        _REBATE_REVENUE,
        {"tenant_id": tenant_id, "start": parsed.start, "end": parsed.end, "kind": parsed.kind},
    ).all()
    rules = {
        rule.id: rule
        for rule in session.query(IncentiveRule).filter(
            IncentiveRule.tenant_id == tenant_id,
            IncentiveRule.id.in_({row.rule_id for row in rows}),
        )
    }
    table = cast(Table, EarnedIncentive.__table__)
    values: list[dict[str, Any]] = []
    below: list[tuple[uuid.UUID, uuid.UUID]] = []
    for row in rows:
        rule = rules[row.rule_id]
        amount = rebate_for(rule, Decimal(row.revenue))
        if amount is None:
            below.append((rule.id, row.partner_id))
            continue
        values.append(
            {
                "tenant_id": tenant_id,
                "id": uuid.uuid4(),
                "rule_id": rule.id,
                "partner_id": row.partner_id,
                "rebate_period": parsed.key,
                "period_start": parsed.start,
                "period_end": parsed.end,
                "level_id": row.level_id,
                "amount": amount,
                "currency": rule.currency,
                "basis": Decimal(row.revenue),
                "status": IncentiveStatus.PENDING.value,
                "earned_at": min(now, parsed.end),
                "dispute_until": now + timedelta(days=rule.dispute_days),
            }
        )
    written = 0
    if values:
        statement = insert(table).values(values)
        excluded = statement.excluded
        changed = (
            (table.c.amount != excluded.amount)
            | (table.c.basis != excluded.basis)
            | (table.c.status == IncentiveStatus.VOID.value)
        )
        upsert = statement.on_conflict_do_update(
            index_elements=["tenant_id", "rule_id", "partner_id", "rebate_period"],
            set_={
                "status": IncentiveStatus.PENDING.value,
                "amount": excluded.amount,
                "basis": excluded.basis,
                "level_id": excluded.level_id,
                "earned_at": excluded.earned_at,
                "dispute_until": excluded.dispute_until,
                "voided_at": None,
                "updated_at": now,
            },
            where=table.c.status.in_([IncentiveStatus.PENDING.value, IncentiveStatus.VOID.value])
            & changed,
        ).returning(table.c.id, table.c.partner_id, table.c.amount, table.c.currency)
        for row in session.execute(upsert).all():
            written += 1
            notify_sync(
                session,
                tenant_id,
                row.partner_id,
                "incentive.rebate",
                f"Your volume rebate for {parsed.key} is {row.amount.normalize():f} "
                f"{row.currency}.",
                {"incentiveId": row.id, "period": parsed.key},
            )
    voided = 0
    if below:
        result = session.execute(
            update(table)
            .where(
                table.c.tenant_id == tenant_id,
                tuple_(table.c.rule_id, table.c.partner_id).in_(below),
                table.c.rebate_period == parsed.key,
                table.c.status == IncentiveStatus.PENDING.value,
            )
            .values(status=IncentiveStatus.VOID.value, voided_at=now)
        )
        voided = int(getattr(result, "rowcount", 0) or 0)
    return {"period": parsed.key, "written": written, "voided": voided}
