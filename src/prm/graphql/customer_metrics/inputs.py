"""Inputs of costs: `RecordCostInput` and the `costEntries` filter."""

from __future__ import annotations

from datetime import date

import strawberry
from sqlalchemy import Select

from prm.graphql.customer_metrics.types import CostKindEnum
from prm.graphql.scalars import MoneyInput
from prm.metrics.models import CostEntry


@strawberry.input
class RecordCostInput:
    kind: CostKindEnum  # type: ignore[valid-type]
    name: str = strawberry.field(description="The campaign or channel.")
    incurred_on: date
    amount: MoneyInput = strawberry.field(
        description="Not negative, in the tenant's default currency."
    )
    notes: str | None = None
    campaign_id: strawberry.ID | None = strawberry.field(
        default=None, description="The campaign the money was spent on (campaign metrics)."
    )


@strawberry.input
class CostEntryFilter:
    kind: CostKindEnum | None = None  # type: ignore[valid-type]
    from_: date | None = strawberry.field(
        default=None, name="from", description="Incurred on or after this day."
    )
    to: date | None = strawberry.field(default=None, description="Incurred on or before this day.")

    def apply(self, statement: Select[CostEntry]) -> Select[CostEntry]:
        if self.kind is not None:
            statement = statement.where(CostEntry.kind == self.kind)
        if self.from_ is not None:
            statement = statement.where(CostEntry.incurred_on >= self.from_)
        if self.to is not None:
            statement = statement.where(CostEntry.incurred_on <= self.to)
        return statement
