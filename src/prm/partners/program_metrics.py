"""The figures level criteria are judged by: each enrolment's value of each criterion's
metric over the trailing quarters of its partner's scorecards, in one statement for any
number of enrolments (the evaluation worker's whole tenant, or a page of the partner
view).

How a metric is taken over the trailing `quarters` quarters (the quarter containing
`now` and the `quarters - 1` before it; only QUARTER scorecard rows count):

- counts and money are SUMmed: REVENUE_WON (in the tenant's currency, as scorecards
  are), DEALS_WON, LEADS_CONVERTED; quarters without a row add nothing, so no rows is 0;
- rates are AVERAGEd over the quarters whose value is not null: WIN_RATE,
  ACCEPTANCE_RATE, CONVERSION_RATE, SLA_COMPLIANCE (0..1, as scorecards store them) and
  SCORE (0..100); with no such quarter the value is null and the criterion is not met.

A criterion is met when the value is at least its `minimum`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Integer,
    Numeric,
    Select,
    String,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    select,
    values,
)
from sqlalchemy.sql.elements import ColumnElement

from prm.metrics.models import PartnerScorecardRow
from prm.metrics.periods import Period, period_containing
from prm.partners.program_models import (
    CriterionMetric,
    LevelCriterion,
    ProgramEnrolment,
    ProgramLevel,
)

MAX_QUARTERS = 8
"""The most trailing quarters a criterion may span (the table's check constraint)."""
SUMMED = (CriterionMetric.REVENUE_WON, CriterionMetric.DEALS_WON, CriterionMetric.LEADS_CONVERTED)
RATES = (
    CriterionMetric.WIN_RATE,
    CriterionMetric.ACCEPTANCE_RATE,
    CriterionMetric.CONVERSION_RATE,
    CriterionMetric.SLA_COMPLIANCE,
)
VALUE = Numeric(18, 4)
FOUR_PLACES = Decimal("0.0001")


def trailing_quarters(now: datetime, count: int = MAX_QUARTERS) -> list[Period]:
    """The quarter containing `now` and the `count - 1` before it, newest first."""
    quarters = [period_containing(now, "QUARTER")]
    while len(quarters) < count:
        quarters.append(quarters[-1].previous())
    return quarters


def _column(metric: CriterionMetric) -> ColumnElement[Any]:
    return {
        CriterionMetric.REVENUE_WON: PartnerScorecardRow.revenue_won,
        CriterionMetric.DEALS_WON: PartnerScorecardRow.deals_won,
        CriterionMetric.LEADS_CONVERTED: PartnerScorecardRow.leads_converted,
        CriterionMetric.WIN_RATE: PartnerScorecardRow.win_rate,
        CriterionMetric.ACCEPTANCE_RATE: PartnerScorecardRow.acceptance_rate,
        CriterionMetric.CONVERSION_RATE: PartnerScorecardRow.conversion_rate,
        CriterionMetric.SLA_COMPLIANCE: PartnerScorecardRow.sla_compliance,
        CriterionMetric.SCORE: PartnerScorecardRow.score,
    }[metric].expression


def _aggregate(metric: CriterionMetric) -> ColumnElement[Any]:
    column = cast(_column(metric), VALUE)
    if metric in SUMMED:
        return func.coalesce(func.sum(column), literal(0, VALUE))
    return func.avg(column)


@dataclass(frozen=True)
class CriterionValue:
    """One criterion of one level judged for one enrolment."""

    enrolment_id: uuid.UUID
    level_id: uuid.UUID
    metric: CriterionMetric
    minimum: Decimal
    quarters: int
    actual: Decimal | None

    @property
    def met(self) -> bool:
        return self.actual is not None and self.actual >= self.minimum

    def describe(self) -> str:
        actual = (
            "none"
            if self.actual is None
            else format(self.actual.quantize(FOUR_PLACES).normalize(), "f")
        )
        sign = ">=" if self.met else "<"
        minimum = format(self.minimum.normalize(), "f")
        return f"{self.metric.value} {actual} {sign} {minimum} over {self.quarters} quarter(s)"


def criterion_values_statement(
    tenant_id: uuid.UUID,
    now: datetime,
    *,
    enrolment_ids: Iterable[uuid.UUID] | None = None,
) -> Select[Any]:
    """Per (enrolment, criterion of any level of its program): the metric's value over
    the criterion's trailing quarters. One statement; scorecard rows are joined by the
    `(tenant_id, partner_id, period)` index."""
    quarters = trailing_quarters(now)
    quarter_table = values(
        column("period", String(7)), column("position", Integer()), name="trailing_quarters"
    ).data([(quarter.key, position) for position, quarter in enumerate(quarters)])
    metric_value = case(
        *(
            (LevelCriterion.metric == metric.value, _aggregate(metric))
            for metric in CriterionMetric
        ),
    )
    statement = (
        select(
            ProgramEnrolment.id.label("enrolment_id"),
            LevelCriterion.level_id,
            LevelCriterion.metric,
            LevelCriterion.minimum,
            LevelCriterion.quarters,
            metric_value.label("actual"),
        )
        .select_from(ProgramEnrolment)
        .join(
            ProgramLevel,
            and_(
                ProgramLevel.tenant_id == ProgramEnrolment.tenant_id,
                ProgramLevel.program_id == ProgramEnrolment.program_id,
            ),
        )
        .join(
            LevelCriterion,
            and_(
                LevelCriterion.tenant_id == ProgramLevel.tenant_id,
                LevelCriterion.level_id == ProgramLevel.id,
            ),
        )
        .outerjoin(quarter_table, quarter_table.c.position < LevelCriterion.quarters)
        .outerjoin(
            PartnerScorecardRow,
            and_(
                PartnerScorecardRow.tenant_id == ProgramEnrolment.tenant_id,
                PartnerScorecardRow.partner_id == ProgramEnrolment.partner_id,
                PartnerScorecardRow.period == quarter_table.c.period,
            ),
        )
        .where(ProgramEnrolment.tenant_id == tenant_id)
        .group_by(
            ProgramEnrolment.id,
            LevelCriterion.id,
            LevelCriterion.level_id,
            LevelCriterion.metric,
            LevelCriterion.minimum,
            LevelCriterion.quarters,
        )
    )
    if enrolment_ids is not None:
        statement = statement.where(ProgramEnrolment.id.in_(list(enrolment_ids)))
    return statement


def criterion_values(rows: Iterable[Any]) -> list[CriterionValue]:
    """`CriterionValue`s of the rows `criterion_values_statement` returned."""
    return [
        CriterionValue(
            enrolment_id=row.enrolment_id,
            level_id=row.level_id,
            metric=CriterionMetric(row.metric),
            minimum=Decimal(row.minimum),
            quarters=int(row.quarters),
            actual=None if row.actual is None else Decimal(row.actual),
        )
        for row in rows
    ]


def certifications_statement(
    tenant_id: uuid.UUID,
    now: datetime,
    *,
    enrolment_ids: Iterable[uuid.UUID] | None = None,
) -> Select[uuid.UUID, uuid.UUID, str | None, bool]:
    """Per (enrolment, level of its program requiring a certification): whether one of
    the partner's users holds it, current at `now` (`partner_has_current_certification`)."""
    from prm.employees.training import partner_has_current_certification

    statement = (
        select(
            ProgramEnrolment.id.label("enrolment_id"),
            ProgramLevel.id.label("level_id"),
            ProgramLevel.required_certification,
            partner_has_current_certification(
                ProgramEnrolment.partner_id.expression,
                ProgramLevel.required_certification,
                now,
                tenant_id=ProgramEnrolment.tenant_id.expression,
            ).label("held"),
        )
        .select_from(ProgramEnrolment)
        .join(
            ProgramLevel,
            and_(
                ProgramLevel.tenant_id == ProgramEnrolment.tenant_id,
                ProgramLevel.program_id == ProgramEnrolment.program_id,
            ),
        )
        .where(
            ProgramEnrolment.tenant_id == tenant_id,
            ProgramLevel.required_certification.is_not(None),
        )
    )
    if enrolment_ids is not None:
        statement = statement.where(ProgramEnrolment.id.in_(list(enrolment_ids)))
    return statement
