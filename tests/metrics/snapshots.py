"""Scorecard snapshot rows written straight into the tables, for tests about reading them
(positions, trends, roll-ups) rather than computing them. Unnamed figures are zero/null."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from prm.db.engine import Database
from prm.metrics.models import EmployeeScorecardRow, PartnerScorecardRow

COMPUTED = datetime(2026, 11, 1, tzinfo=UTC)


def partner_row(tenant_id: uuid.UUID, partner_id: uuid.UUID, period: str, **figures: Any) -> Any:
    values: dict[str, Any] = {
        "leads_offered": 0, "leads_accepted": 0, "leads_rejected": 0, "leads_expired": 0,
        "acceptance_rate": None, "median_hours_to_accept": None, "leads_converted": 0,
        "conversion_rate": None, "deals_won": 0, "deals_lost": 0, "win_rate": None,
        "revenue_won": Decimal(0), "average_deal_size": None, "pipeline_value": Decimal(0),
        "currency": "USD", "sla_compliance": None, "score": 0.0, "rank": None,
        "computed_at": COMPUTED,
    }  # fmt: skip
    values.update(figures)
    return PartnerScorecardRow(tenant_id=tenant_id, partner_id=partner_id, period=period, **values)


def employee_row(tenant_id: uuid.UUID, employee_id: uuid.UUID, period: str, **figures: Any) -> Any:
    values: dict[str, Any] = {
        "revenue_won": Decimal(0), "deals_won": 0, "deals_lost": 0, "win_rate": None,
        "activities": 0, "leads_converted": 0, "pipeline_value": Decimal(0),
        "quota_attainment": None, "commission_earned": Decimal(0), "currency": "USD",
        "score": 0.0, "rank": None, "computed_at": COMPUTED,
    }  # fmt: skip
    values.update(figures)
    return EmployeeScorecardRow(
        tenant_id=tenant_id, employee_id=employee_id, period=period, **values
    )


async def insert(db: Database, tenant_id: uuid.UUID, *rows: Any) -> None:
    async with db.session(tenant_id) as session:
        session.add_all(rows)
