"""Employee scorecards: one snapshot row per active employee and period, computed in one
set-based statement, and who may read them.

What each figure counts (an employee's deals are the opportunities it owns, `owner_id`;
"in the period" is the half-open UTC interval of `prm.metrics.periods.Period`):

- `deals_won` / `deals_lost`: owned opportunities CLOSED_WON / CLOSED_LOST whose
  `closed_at` falls in the period (every currency).
- `revenue_won`: the sum of those won amounts. Money counts only rows in the tenant's
  default currency (there is no FX conversion), and every money figure is in it.
- `win_rate`: won / (won + lost); null when nothing closed.
- `activities`: activities whose `actor_user_id` is the employee's user, `occurred_at` in
  the period (an employee with no linked user has none).
- `leads_converted`: owned opportunities with a `source_lead_id`, created in the period.
- `pipeline_value`: the open (not closed) owned opportunities' amounts at compute time.
- `quota_attainment`: revenue_won / the target of the employee's REVENUE_WON objective for
  this very period key (a quarter's quota for `2026-Q4`); null without one or when the
  target is 0.
- `commission_earned`: by the compensation plan the employee is on in the period (assigned
  for it, else for the quarter or year containing it, the narrowest winning, as
  `prm.employees.compensation.plans_for` reads it): base % of revenue up to the quota plus
  (base + accelerator) % of revenue above it (no quota: base % of all of it), at most
  `cap_amount` for the scorecard's period, rounded half-up to the currency's minor unit.
  No plan, or a plan in another currency than the tenant's default (no FX), earns 0. A
  plan's `active` flag is not consulted: the assignment is what pays.
- `score`, in [0, 100]: 100 * (0.5 * min(quota_attainment, 1.5) / 1.5 + 0.3 * win_rate
  + 0.2 * min(activities / the most activities any active employee of the tenant logged in
  the period, 1)), a null component counting 0: quota carries most weight, capped at 150 %
  so one huge deal cannot swamp the rest; activity is relative to the busiest colleague
  so the scale needs no tuning per tenant.
- `rank`: `rank()` over score, highest first, within the tenant and period (ties share).

Why SQL, not Python: a tenant's whole staff is scored by one `INSERT … SELECT` (one CTE per
metric), so the cost does not grow with round trips per employee, and a recompute in the
caller's transaction replaces the snapshot atomically (readers see the old rows until it
commits). Recomputing unchanged data writes identical rows (but `computed_at`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Select, select, text
from sqlalchemy.orm import Session

from prm.auth.principal import TENANT_ROLES, Principal
from prm.employees.hierarchy import readable_by
from prm.errors import Forbidden
from prm.metrics.models import EmployeeScorecardRow
from prm.metrics.periods import Period, period_containing
from prm.money import minor_units
from prm.tenants.models import Tenant

QUOTA_WEIGHT, WIN_RATE_WEIGHT, ACTIVITY_WEIGHT = 0.5, 0.3, 0.2
QUOTA_CAP = 1.5
"""Quota attainment above 150 % scores no more than 150 %."""

_DELETE = text("DELETE FROM employee_scorecards WHERE tenant_id = :tenant_id AND period = :period")

_INSERT = text(
    """
INSERT INTO employee_scorecards (
    tenant_id, period, employee_id, revenue_won, deals_won, deals_lost, win_rate,
    activities, leads_converted, pipeline_value, quota_attainment, commission_earned,
    currency, score, rank, computed_at
)
WITH staff AS (
    SELECT e.id, e.user_id FROM employees e
    WHERE e.tenant_id = :tenant_id AND e.active
),
closed AS (
    SELECT o.owner_id AS employee_id,
           count(*) FILTER (WHERE o.stage = 'CLOSED_WON') AS won,
           count(*) FILTER (WHERE o.stage = 'CLOSED_LOST') AS lost,
           sum(o.amount) FILTER (WHERE o.stage = 'CLOSED_WON' AND o.currency = :currency)
               AS revenue
    FROM opportunities o
    WHERE o.tenant_id = :tenant_id AND o.owner_id IS NOT NULL
      AND o.stage IN ('CLOSED_WON', 'CLOSED_LOST')
      AND o.closed_at >= :start AND o.closed_at < :end
    GROUP BY o.owner_id
),
pipeline AS (
    SELECT o.owner_id AS employee_id, sum(o.amount) AS value
    FROM opportunities o
    WHERE o.tenant_id = :tenant_id AND o.owner_id IS NOT NULL
      AND o.stage NOT IN ('CLOSED_WON', 'CLOSED_LOST') AND o.currency = :currency
    GROUP BY o.owner_id
),
converted AS (
    SELECT o.owner_id AS employee_id, count(*) AS leads
    FROM opportunities o
    WHERE o.tenant_id = :tenant_id AND o.owner_id IS NOT NULL
      AND o.source_lead_id IS NOT NULL
      AND o.created_at >= :start AND o.created_at < :end
    GROUP BY o.owner_id
),
touches AS (
    SELECT a.actor_user_id AS user_id, count(*) AS activities
    FROM activities a
    WHERE a.tenant_id = :tenant_id AND a.actor_user_id IS NOT NULL
      AND a.occurred_at >= :start AND a.occurred_at < :end
    GROUP BY a.actor_user_id
),
quotas AS (
    SELECT q.employee_id, q.target FROM objectives q
    WHERE q.tenant_id = :tenant_id AND q.period = :period AND q.metric = 'REVENUE_WON'
      AND q.target > 0
),
plans AS (
    SELECT DISTINCT ON (ca.employee_id)
           ca.employee_id, p.currency, p.base_percent, p.accelerator_percent, p.cap_amount
    FROM compensation_assignments ca
    JOIN compensation_plans p ON p.tenant_id = ca.tenant_id AND p.id = ca.plan_id
    WHERE ca.tenant_id = :tenant_id AND ca.period IN (:period, :quarter, :year)
    ORDER BY ca.employee_id,
             CASE ca.period WHEN :period THEN 0 WHEN :quarter THEN 1 ELSE 2 END
),
figures AS (
    SELECT s.id AS employee_id,
           coalesce(c.revenue, 0) AS revenue_won,
           coalesce(c.won, 0)::int AS deals_won,
           coalesce(c.lost, 0)::int AS deals_lost,
           CASE WHEN coalesce(c.won, 0) + coalesce(c.lost, 0) > 0
                THEN c.won::float8 / (c.won + c.lost) END AS win_rate,
           coalesce(t.activities, 0)::int AS activities,
           coalesce(cv.leads, 0)::int AS leads_converted,
           coalesce(pl.value, 0) AS pipeline_value,
           q.target,
           coalesce(cp.currency = :currency, false) AS has_plan,
           cp.base_percent, cp.accelerator_percent, cp.cap_amount
    FROM staff s
    LEFT JOIN closed c ON c.employee_id = s.id
    LEFT JOIN pipeline pl ON pl.employee_id = s.id
    LEFT JOIN converted cv ON cv.employee_id = s.id
    LEFT JOIN touches t ON t.user_id = s.user_id
    LEFT JOIN quotas q ON q.employee_id = s.id
    LEFT JOIN plans cp ON cp.employee_id = s.id
),
earned AS (
    SELECT f.*,
           (f.revenue_won / f.target)::float8 AS quota_attainment,
           CASE WHEN NOT f.has_plan THEN 0
                ELSE round(least(
                    CASE WHEN f.target IS NULL
                         THEN f.revenue_won * f.base_percent / 100
                         ELSE least(f.revenue_won, f.target) * f.base_percent / 100
                              + greatest(f.revenue_won - f.target, 0)
                                * (f.base_percent + f.accelerator_percent) / 100
                    END,
                    f.cap_amount  -- least() ignores a NULL cap
                ), :minor_units)
           END AS commission_earned,
           max(f.activities) OVER () AS busiest
    FROM figures f
),
scored AS (
    SELECT e.*,
           100 * (
               :quota_weight * least(coalesce(e.quota_attainment, 0), :quota_cap) / :quota_cap
               + :win_rate_weight * coalesce(e.win_rate, 0)
               + :activity_weight * CASE WHEN e.busiest > 0
                     THEN least(e.activities::float8 / e.busiest, 1) ELSE 0 END
           ) AS score
    FROM earned e
)
SELECT :tenant_id, :period, s.employee_id, s.revenue_won, s.deals_won, s.deals_lost,
       s.win_rate, s.activities, s.leads_converted, s.pipeline_value, s.quota_attainment,
       s.commission_earned, :currency, s.score, rank() OVER (ORDER BY s.score DESC), :now
FROM scored s
"""
)


def compute_employee_scorecards(
    session: Session, tenant_id: uuid.UUID, period: Period, *, now: datetime
) -> int:
    """Replace the tenant's employee scorecards for `period` with fresh ones (one row per
    active employee, stamped `now`); returns the rows written. Never commits: the caller's
    transaction makes the swap atomic."""
    currency = session.scalar(select(Tenant.default_currency).where(Tenant.id == tenant_id))
    if currency is None:
        raise ValueError(f"no tenant {tenant_id}")
    quarter = (
        period.key if period.kind == "YEAR" else period_containing(period.start, "QUARTER").key
    )
    session.execute(_DELETE, {"tenant_id": tenant_id, "period": period.key})
    result = session.execute(
        _INSERT,
        {
            "tenant_id": tenant_id,
            "period": period.key,
            "quarter": quarter,
            "year": str(period.start.year),
            "start": period.start,
            "end": period.end,
            "currency": currency,
            "minor_units": minor_units(currency),
            "now": now,
            "quota_weight": QUOTA_WEIGHT,
            "quota_cap": QUOTA_CAP,
            "win_rate_weight": WIN_RATE_WEIGHT,
            "activity_weight": ACTIVITY_WEIGHT,
        },
    )
    return int(getattr(result, "rowcount", 0) or 0)


def readable_employee_ids(principal: Principal) -> ColumnElement[bool]:
    """A condition on `employee_scorecards.employee_id`: the rows `principal` may read.

    An ADMIN reads every employee's, a MANAGER its reports' (transitively) and its own, an
    EMPLOYEE its own (the ERM rules of `prm.employees.hierarchy`); partner users none:
    `Forbidden`, the operation itself."""
    if principal.is_partner or not principal.has_any(*TENANT_ROLES):
        raise Forbidden("only tenant staff may read employee scorecards")
    return readable_by(principal, EmployeeScorecardRow.employee_id.expression)


def readable_employee_scorecards(
    principal: Principal, period: Period
) -> Select[EmployeeScorecardRow]:
    """The scorecards of `period` that `principal` may read (unordered)."""
    return select(EmployeeScorecardRow).where(
        EmployeeScorecardRow.tenant_id == principal.tenant_id,
        EmployeeScorecardRow.period == period.key,
        readable_employee_ids(principal),
    )
