"""Analytical CRM: the tenant's customer figures for a period (API.md `CustomerMetrics`),
computed by the `metrics.recompute` job into `customer_metrics` and only read by the API.

Definitions. The period is the half-open UTC interval [start, end); "12 months before T"
is T with the year lowered by one (periods start on the 1st of a month, so it is exact).
A *won deal* is an opportunity in CLOSED_WON with `closed_at` set; only won deals closed
before `end` count (a later recompute never sees the future).

- A *customer* is an account with at least one won deal. Its relationship is *live at T*
  when it has a won deal in [T - 12 months, T).
- `customers`: accounts live at `end`.
- `newCustomers`: accounts whose first won deal closed in [start, end).
- `churnedCustomers`: accounts live at `start` but not at `end`, i.e. whose last won deal
  before `end` closed in [start - 12 months, end - 12 months).
- `churnRate`: churned / accounts live at `start`; null when none were live.
- `repeatCustomers`: live customers (those counted in `customers`) with at least two won
  deals closed before `end`.
- `closingRate`: won / (won + lost) over opportunities closed (CLOSED_WON or CLOSED_LOST)
  in [start, end); null when none closed.
- `costPerLead`: the sum of cost entries with `incurred_on` in [start, end) divided by the
  leads created in [start, end); null when no leads were created.
- `costPerSale`: the same cost sum divided by the deals won in [start, end); null when
  none were won.
- `averageLifetimeValue` (a predicted, average customer lifetime value):
  `yearly revenue per customer * gross margin * expected years - acquisition cost`, where
  *yearly revenue per customer* = won revenue of [end - 12 months, end) / `customers`;
  *gross margin* = 1 (prm has no tenant margin setting yet, so revenue stands in for
  margin); *expected years* = 1 / annual churn rate, capped at 10 (10 when the rate is
  null or 0), with *annual churn rate* = accounts live at `end - 12 months` but not at
  `end`, divided by accounts live at `end - 12 months` (for a year period it is
  `churnRate`); *acquisition cost* = period costs / `newCustomers` (0 when there are no
  new customers). Null when there are no live customers. It may be negative when
  acquiring a customer costs more than it earns.

Money counts only amounts in the tenant's default currency (no FX conversion): won deals,
and cost entries, in another currency are left out of the sums (such a deal still makes
its account a customer and still counts as a sale). Money results are rounded half-up to
the currency's minor unit; rates are floats in [0, 1].

Each compute replaces the tenant and period's row whole (an upsert), so a recompute with
the same data writes the same row except `computed_at`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from prm.crm.models import Opportunity, OpportunityStage
from prm.leads.models import Lead
from prm.metrics.costs import period_cost_total
from prm.metrics.models import CustomerMetricsRow
from prm.metrics.periods import Period
from prm.money import round_money
from prm.tenants.models import Tenant

MAX_EXPECTED_YEARS = Decimal(10)
GROSS_MARGIN = Decimal(1)
"""No tenant setting for gross margin exists yet: revenue stands in for margin."""


def years_before(moment: datetime, years: int) -> datetime:
    """`moment` `years` years earlier; exact for the first of a month."""
    return moment.replace(year=moment.year - years)


@dataclass(frozen=True)
class _Counts:
    customers: int
    new_customers: int
    churned_customers: int
    live_at_start: int
    repeat_customers: int
    live_a_year_before: int
    lost_in_the_year: int
    yearly_revenue: Decimal
    won_in_period: int
    lost_in_period: int
    leads_in_period: int


def compute_customer_metrics(
    session: Session, tenant_id: uuid.UUID, period: Period, *, now: datetime
) -> None:
    """Compute the tenant's customer metrics for `period` and replace its stored row (see
    the module doc for every formula). Runs in the caller's transaction, never commits."""
    currency = session.scalar(select(Tenant.default_currency).where(Tenant.id == tenant_id))
    if currency is None:
        raise LookupError(f"no tenant {tenant_id}")
    counts = _counts(session, tenant_id, period, currency)
    costs = period_cost_total(session, tenant_id, period, currency)

    churn_rate = counts.churned_customers / counts.live_at_start if counts.live_at_start else None
    closed = counts.won_in_period + counts.lost_in_period
    closing_rate = counts.won_in_period / closed if closed else None
    cost_per_lead = (
        round_money(costs / counts.leads_in_period, currency) if counts.leads_in_period else None
    )
    cost_per_sale = (
        round_money(costs / counts.won_in_period, currency) if counts.won_in_period else None
    )
    average_lifetime_value = None
    if counts.customers:
        expected_years = MAX_EXPECTED_YEARS
        if counts.lost_in_the_year:
            annual_churn = Decimal(counts.lost_in_the_year) / Decimal(counts.live_a_year_before)
            expected_years = min(MAX_EXPECTED_YEARS, 1 / annual_churn)
        acquisition = costs / counts.new_customers if counts.new_customers else Decimal(0)
        yearly = counts.yearly_revenue / counts.customers
        average_lifetime_value = round_money(
            yearly * GROSS_MARGIN * expected_years - acquisition, currency
        )

    values = {
        "tenant_id": tenant_id,
        "period": period.key,
        "customers": counts.customers,
        "new_customers": counts.new_customers,
        "churned_customers": counts.churned_customers,
        "churn_rate": churn_rate,
        "repeat_customers": counts.repeat_customers,
        "average_lifetime_value": average_lifetime_value,
        "cost_per_lead": cost_per_lead,
        "cost_per_sale": cost_per_sale,
        "closing_rate": closing_rate,
        "currency": currency,
        "computed_at": now,
    }
    statement = insert(CustomerMetricsRow).values(values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[CustomerMetricsRow.tenant_id, CustomerMetricsRow.period],
            set_={
                key: statement.excluded[key] for key in values if key not in ("tenant_id", "period")
            },
        )
    )


def _counts(session: Session, tenant_id: uuid.UUID, period: Period, currency: str) -> _Counts:
    """Every count the metrics need, in one statement: a GROUP BY per account over the won
    deals before `end`, aggregated again, plus the period's closes and leads."""
    start, end = period.start, period.end
    year_before_end, year_before_start = years_before(end, 1), years_before(start, 1)
    two_years_before_end = years_before(end, 2)
    won = and_(
        Opportunity.tenant_id == tenant_id,
        Opportunity.stage == OpportunityStage.CLOSED_WON,
        Opportunity.closed_at < end,
    )
    closed_at = Opportunity.closed_at
    per_account = (
        select(
            Opportunity.account_id,
            func.min(closed_at).label("first_won"),
            func.max(closed_at).label("last_won"),
            func.max(closed_at).filter(closed_at < start).label("last_before_start"),
            func.max(closed_at).filter(closed_at < year_before_end).label("last_year_before"),
            func.count().label("deals"),
        )
        .where(won)
        .group_by(Opportunity.account_id)
        .subquery("per_account")
    )
    first, last, deals = per_account.c.first_won, per_account.c.last_won, per_account.c.deals
    live_at_end = last >= year_before_end
    lapsed_in_period = and_(last >= year_before_start, last < year_before_end)
    accounts = select(
        func.count().filter(live_at_end).label("customers"),
        func.count().filter(first >= start).label("new_customers"),
        func.count().filter(lapsed_in_period).label("churned_customers"),
        func.count()
        .filter(per_account.c.last_before_start >= year_before_start)
        .label("live_at_start"),
        func.count().filter(live_at_end, deals >= 2).label("repeat_customers"),
        func.count()
        .filter(per_account.c.last_year_before >= two_years_before_end)
        .label("live_a_year_before"),
        func.count()
        .filter(last >= two_years_before_end, last < year_before_end)
        .label("lost_in_the_year"),
    ).subquery("accounts")

    in_period = and_(Opportunity.closed_at >= start, Opportunity.closed_at < end)
    closes = (
        select(
            func.coalesce(
                func.sum(Opportunity.amount).filter(
                    Opportunity.stage == OpportunityStage.CLOSED_WON,
                    Opportunity.closed_at >= year_before_end,
                    Opportunity.currency == currency,
                ),
                0,
            ).label("yearly_revenue"),
            func.count()
            .filter(Opportunity.stage == OpportunityStage.CLOSED_WON, in_period)
            .label("won_in_period"),
            func.count()
            .filter(Opportunity.stage == OpportunityStage.CLOSED_LOST, in_period)
            .label("lost_in_period"),
        )
        .where(
            Opportunity.tenant_id == tenant_id,
            Opportunity.stage.in_([OpportunityStage.CLOSED_WON, OpportunityStage.CLOSED_LOST]),
            Opportunity.closed_at >= year_before_end,
            Opportunity.closed_at < end,
        )
        .subquery("closes")
    )
    leads = (
        select(func.count())
        .where(Lead.tenant_id == tenant_id, Lead.created_at >= start, Lead.created_at < end)
        .scalar_subquery()
    )
    row = session.execute(
        select(accounts, closes, leads.label("leads_in_period")).select_from(
            accounts.join(closes, literal(True))
        )
    ).one()
    return _Counts(
        customers=row.customers,
        new_customers=row.new_customers,
        churned_customers=row.churned_customers,
        live_at_start=row.live_at_start,
        repeat_customers=row.repeat_customers,
        live_a_year_before=row.live_a_year_before,
        lost_in_the_year=row.lost_in_the_year,
        yearly_revenue=Decimal(row.yearly_revenue),
        won_in_period=row.won_in_period,
        lost_in_period=row.lost_in_period,
        leads_in_period=row.leads_in_period,
    )
