"""Partner scorecards: one set-based SQL statement per (tenant, period), and the score
that PERFORMANCE lead routing reads.

What a scorecard counts, for the half-open period [start, end):

- `leadsOffered`: offers whose `offered_at` falls in the period.
- `leadsAccepted` / `leadsRejected`: offers ACCEPTED / REJECTED whose `responded_at`
  falls in it; pool claims (leads whose `accepted_at` falls in it, held by the partner,
  with no ACCEPTED offer) also count as accepted. `leadsExpired`: offers EXPIRED whose
  `expires_at` falls in it.
- `acceptanceRate` = accepted offers / (accepted + rejected + expired offers): pool
  claims are not answers to an offer, so they stay out of it. Null when nothing ended.
- `medianHoursToAccept`: the median (`percentile_cont(0.5)`) of `responded_at -
  offered_at` in hours over the offers accepted in the period.
- `leadsConverted`: leads whose CONVERTED event (`lead_events.to_status`) falls in the
  period, counted for the partner the event names (the one holding the lead then); `conversionRate` = converted / leadsAccepted (null when none
  accepted; it may exceed 1 when leads accepted earlier convert now).
- `dealsWon` / `dealsLost`: the partner's opportunities CLOSED_WON / CLOSED_LOST with
  `closed_at` in the period; `winRate` = won / (won + lost).
- Money sums count only amounts in the tenant's default currency (no FX conversion):
  `revenueWon` = Σ won amounts; `averageDealSize` = revenueWon / the won deals it counts
  (null when none); `pipelineValue` = Σ amounts of the partner's open opportunities as
  of the computation, whatever the period.
- `slaCompliance` = offers answered (ACCEPTED or REJECTED) by their `expires_at` / the
  offers that ended in the period (accepted + rejected + expired).
- `score` in [0, 100] = 100 * (0.20 acceptance + 0.15 speed + 0.20 conversion + 0.20 win
  rate + 0.15 revenue + 0.10 SLA), where speed = 1 / (1 + medianHours / 24), conversion
  is capped at 1, revenue = revenueWon / the tenant's best revenueWon that period; a null
  component counts 0. `rank` = `rank() OVER (ORDER BY score DESC)` in the tenant and
  period (ties share a rank).

`Partner.performanceScore` (what PERFORMANCE routing reads) is the current quarter's score
blended with the previous quarter's by how much of the quarter has passed: `w * current
+ (1 - w) * previous`, w = elapsed share of the quarter (the current score alone when the
previous quarter has no scorecard). A quarter's first days hold few events, so without
the blend every partner's score would drop to near 0 on the 1st and routing would turn
on noise; by the quarter's end the current score counts alone.

Every partner of the tenant gets a row, active or not, so a quiet partner is visibly 0.
The snapshot is replaced whole (DELETE then INSERT … SELECT) in the caller's transaction:
readers keep the previous snapshot until commit, a worker killed midway leaves it, and a
recompute over the same data writes the same rows. A transaction-scoped advisory lock
serialises two recomputes of one (tenant, period), which would otherwise collide on the
primary key.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, false, select, text
from sqlalchemy.orm import Session

from prm.auth.principal import Principal, is_staff
from prm.db.locks import LockSpace, lock_keys_sync
from prm.metrics.models import PartnerScorecardRow
from prm.metrics.periods import Period, period_containing

WEIGHTS = {
    "acceptance": 0.20,
    "speed": 0.15,
    "conversion": 0.20,
    "win_rate": 0.20,
    "revenue": 0.15,
    "sla": 0.10,
}
"""The composite score's weights (they sum to 1; the score is 100 * the weighted sum)."""

_DELETE = text("DELETE FROM partner_scorecards WHERE tenant_id = :tenant_id AND period = :period")

_INSERT = text(
    """
WITH
currency AS (
    SELECT default_currency AS code FROM tenants WHERE id = :tenant_id
),
offered AS (
    SELECT partner_id, count(*) AS n
    FROM lead_offers
    WHERE tenant_id = :tenant_id AND offered_at >= :start AND offered_at < :end
    GROUP BY partner_id
),
ended AS (
    SELECT
        partner_id,
        count(*) FILTER (WHERE status = 'ACCEPTED') AS accepted,
        count(*) FILTER (WHERE status = 'REJECTED') AS rejected,
        count(*) FILTER (WHERE status = 'EXPIRED') AS expired,
        count(*) FILTER (
            WHERE status IN ('ACCEPTED', 'REJECTED') AND responded_at <= expires_at
        ) AS on_time,
        percentile_cont(0.5) WITHIN GROUP (
            ORDER BY extract(epoch FROM responded_at - offered_at)::float8 / 3600.0
        ) FILTER (WHERE status = 'ACCEPTED') AS median_hours
    FROM lead_offers
    WHERE tenant_id = :tenant_id
      AND (
        (status IN ('ACCEPTED', 'REJECTED') AND responded_at >= :start AND responded_at < :end)
        OR (status = 'EXPIRED' AND expires_at >= :start AND expires_at < :end)
      )
    GROUP BY partner_id
),
claimed AS (
    SELECT l.partner_id, count(*) AS n
    FROM leads l
    WHERE l.tenant_id = :tenant_id
      AND l.partner_id IS NOT NULL
      AND l.accepted_at >= :start AND l.accepted_at < :end
      AND NOT EXISTS (
        SELECT 1 FROM lead_offers o
        WHERE o.tenant_id = l.tenant_id AND o.lead_id = l.id AND o.status = 'ACCEPTED'
      )
    GROUP BY l.partner_id
),
converted AS (
    SELECT e.partner_id, count(DISTINCT e.lead_id) AS n
    FROM lead_events e
    WHERE e.tenant_id = :tenant_id
      AND e.to_status = 'CONVERTED'
      AND e.at >= :start AND e.at < :end
      AND e.partner_id IS NOT NULL
    GROUP BY e.partner_id
),
closed AS (
    SELECT
        o.partner_id,
        count(*) FILTER (WHERE o.stage = 'CLOSED_WON') AS won,
        count(*) FILTER (WHERE o.stage = 'CLOSED_LOST') AS lost,
        coalesce(sum(o.amount) FILTER (
            WHERE o.stage = 'CLOSED_WON' AND o.currency = currency.code
        ), 0) AS revenue,
        count(*) FILTER (
            WHERE o.stage = 'CLOSED_WON' AND o.currency = currency.code
        ) AS revenue_deals
    FROM opportunities o CROSS JOIN currency
    WHERE o.tenant_id = :tenant_id
      AND o.partner_id IS NOT NULL
      AND o.stage IN ('CLOSED_WON', 'CLOSED_LOST')
      AND o.closed_at >= :start AND o.closed_at < :end
    GROUP BY o.partner_id
),
pipeline AS (
    SELECT o.partner_id, sum(o.amount) AS value
    FROM opportunities o CROSS JOIN currency
    WHERE o.tenant_id = :tenant_id
      AND o.partner_id IS NOT NULL
      AND o.stage NOT IN ('CLOSED_WON', 'CLOSED_LOST')
      AND o.currency = currency.code
    GROUP BY o.partner_id
),
counted AS (
    SELECT
        p.id AS partner_id,
        coalesce(offered.n, 0) AS leads_offered,
        coalesce(ended.accepted, 0) AS offers_accepted,
        coalesce(ended.accepted, 0) + coalesce(claimed.n, 0) AS leads_accepted,
        coalesce(ended.rejected, 0) AS leads_rejected,
        coalesce(ended.expired, 0) AS leads_expired,
        coalesce(ended.on_time, 0) AS on_time,
        ended.median_hours,
        coalesce(converted.n, 0) AS leads_converted,
        coalesce(closed.won, 0) AS deals_won,
        coalesce(closed.lost, 0) AS deals_lost,
        coalesce(closed.revenue, 0) AS revenue_won,
        coalesce(closed.revenue_deals, 0) AS revenue_deals,
        coalesce(pipeline.value, 0) AS pipeline_value
    FROM partners p
    LEFT JOIN offered ON offered.partner_id = p.id
    LEFT JOIN ended ON ended.partner_id = p.id
    LEFT JOIN claimed ON claimed.partner_id = p.id
    LEFT JOIN converted ON converted.partner_id = p.id
    LEFT JOIN closed ON closed.partner_id = p.id
    LEFT JOIN pipeline ON pipeline.partner_id = p.id
    WHERE p.tenant_id = :tenant_id
),
rated AS (
    SELECT
        counted.*,
        offers_accepted::float8
            / nullif(offers_accepted + leads_rejected + leads_expired, 0) AS acceptance_rate,
        leads_converted::float8 / nullif(leads_accepted, 0) AS conversion_rate,
        deals_won::float8 / nullif(deals_won + deals_lost, 0) AS win_rate,
        revenue_won / nullif(revenue_deals, 0) AS average_deal_size,
        on_time::float8
            / nullif(offers_accepted + leads_rejected + leads_expired, 0) AS sla_compliance,
        (revenue_won / nullif(max(revenue_won) OVER (), 0))::float8 AS revenue_share
    FROM counted
),
scored AS (
    SELECT
        rated.*,
        100.0 * (
            :w_acceptance * coalesce(acceptance_rate, 0)
            + :w_speed * coalesce(1.0 / (1.0 + median_hours / 24.0), 0)
            + :w_conversion * least(coalesce(conversion_rate, 0), 1.0)
            + :w_win_rate * coalesce(win_rate, 0)
            + :w_revenue * coalesce(revenue_share, 0)
            + :w_sla * coalesce(sla_compliance, 0)
        ) AS score
    FROM rated
)
INSERT INTO partner_scorecards (
    tenant_id, period, partner_id,
    leads_offered, leads_accepted, leads_rejected, leads_expired,
    acceptance_rate, median_hours_to_accept, leads_converted, conversion_rate,
    deals_won, deals_lost, win_rate, revenue_won, average_deal_size, pipeline_value,
    currency, sla_compliance, score, rank, computed_at
)
SELECT
    :tenant_id, :period, partner_id,
    leads_offered, leads_accepted, leads_rejected, leads_expired,
    acceptance_rate, median_hours, leads_converted, conversion_rate,
    deals_won, deals_lost, win_rate, revenue_won, average_deal_size, pipeline_value,
    (SELECT code FROM currency), sla_compliance, score,
    rank() OVER (ORDER BY score DESC), :now
FROM scored
"""
)

_FEEDBACK = text(
    """
UPDATE partners p
SET performance_score = blended.score
FROM (
    SELECT
        cur.partner_id,
        CASE
            WHEN prev.score IS NULL THEN cur.score
            ELSE CAST(:elapsed AS float8) * cur.score
                + (1 - CAST(:elapsed AS float8)) * prev.score
        END AS score
    FROM partner_scorecards cur
    LEFT JOIN partner_scorecards prev
      ON prev.tenant_id = cur.tenant_id
     AND prev.period = :previous
     AND prev.partner_id = cur.partner_id
    WHERE cur.tenant_id = :tenant_id AND cur.period = :period
) blended
WHERE p.tenant_id = :tenant_id AND p.id = blended.partner_id
  AND p.performance_score IS DISTINCT FROM blended.score
"""
)


def elapsed_share(period: Period, now: datetime) -> float:
    """How much of `period` lies before `now`, in [0, 1]."""
    share = (now - period.start) / (period.end - period.start)
    return min(1.0, max(0.0, share))


def compute_partner_scorecards(
    session: Session, tenant_id: uuid.UUID, period: Period, *, now: datetime
) -> int:
    """Replace the tenant's partner scorecards of `period` (one row per partner) and
    return how many were written. When `period` is the quarter containing `now`, update
    `partners.performance_score`, which PERFORMANCE routing reads (see the module doc)."""
    key = period.key
    lock_keys_sync(session, LockSpace.METRICS_RECOMPUTE, [f"partner_scorecards:{tenant_id}:{key}"])
    session.execute(_DELETE, {"tenant_id": tenant_id, "period": key})
    result = session.execute(
        _INSERT,
        {
            "tenant_id": tenant_id,
            "period": key,
            "start": period.start,
            "end": period.end,
            "now": now,
            **{f"w_{name}": weight for name, weight in WEIGHTS.items()},
        },
    )
    written = int(getattr(result, "rowcount", 0) or 0)
    if period == period_containing(now, "QUARTER"):
        session.execute(
            _FEEDBACK,
            {
                "tenant_id": tenant_id,
                "period": key,
                "previous": period.previous().key,
                "elapsed": elapsed_share(period, now),
            },
        )
    return written


def readable_partner_scorecards(
    principal: Principal, period: Period
) -> Select[PartnerScorecardRow]:
    """The scorecards of `period` that `principal` may read (unordered): tenant staff see
    every partner's, a partner user only its own organisation's."""
    statement = select(PartnerScorecardRow).where(
        PartnerScorecardRow.tenant_id == principal.tenant_id,
        PartnerScorecardRow.period == period.key,
    )
    if is_staff(principal):
        return statement
    if principal.partner_id is not None:
        return statement.where(PartnerScorecardRow.partner_id == principal.partner_id)
    return statement.where(false())
