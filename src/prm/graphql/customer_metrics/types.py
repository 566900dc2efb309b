"""`CustomerMetrics` (a stored snapshot, see `prm.metrics.customer_metrics` for every
formula) and `CostEntry` as the API shows them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

import strawberry
from strawberry.dataloader import DataLoader

from prm.graphql.context import Context
from prm.graphql.relay import Node, register_node
from prm.graphql.scalars import MoneyType
from prm.metrics.costs import COST_MANAGERS
from prm.metrics.lifetime_value import realised_lifetime_values
from prm.metrics.models import CostEntry, CostKind, CustomerMetricsRow
from prm.money import Money

CostKindEnum = strawberry.enum(
    CostKind, name="CostKind", description="What the money was spent on."
)


@strawberry.type(
    name="CustomerMetrics",
    description="The tenant's analytical-CRM figures for a period, as last computed by the "
    "metrics job; money in the tenant's default currency.",
)
class CustomerMetricsType:
    period: str
    customers: int = strawberry.field(
        description="Accounts with a won deal in the 12 months before the period's end."
    )
    new_customers: int = strawberry.field(
        description="Accounts whose first won deal closed in the period."
    )
    churned_customers: int = strawberry.field(
        description="Accounts live at the period's start whose last won deal is now more "
        "than 12 months old."
    )
    churn_rate: float | None = strawberry.field(
        description="churnedCustomers / customers live at the period's start."
    )
    repeat_customers: int = strawberry.field(
        description="Live customers with at least two won deals."
    )
    average_lifetime_value: MoneyType | None = strawberry.field(
        description="Predicted: yearly revenue per customer x expected years (1 / annual "
        "churn, at most 10) - acquisition cost per new customer."
    )
    cost_per_lead: MoneyType | None = strawberry.field(
        description="Costs incurred in the period / leads created in it."
    )
    cost_per_sale: MoneyType | None = strawberry.field(
        description="Costs incurred in the period / deals won in it."
    )
    closing_rate: float | None = strawberry.field(
        description="Won / (won + lost) over opportunities closed in the period."
    )
    computed_at: datetime

    @classmethod
    def from_model(cls, row: CustomerMetricsRow) -> CustomerMetricsType:
        return cls(
            period=row.period,
            customers=row.customers,
            new_customers=row.new_customers,
            churned_customers=row.churned_customers,
            churn_rate=row.churn_rate,
            repeat_customers=row.repeat_customers,
            average_lifetime_value=MoneyType.maybe(row.average_lifetime_value, row.currency),
            cost_per_lead=MoneyType.maybe(row.cost_per_lead, row.currency),
            cost_per_sale=MoneyType.maybe(row.cost_per_sale, row.currency),
            closing_rate=row.closing_rate,
            computed_at=row.computed_at,
        )


@strawberry.type(name="CostEntry", description="Money spent on a campaign or channel on a day.")
class CostEntryType(Node):
    kind: CostKindEnum  # type: ignore[valid-type]
    name: str
    incurred_on: date
    amount: MoneyType
    notes: str | None
    created_at: datetime

    @classmethod
    def from_model(cls, row: CostEntry) -> CostEntryType:
        return cls.from_row(row, amount=MoneyType.of(Money(row.amount, row.currency)))


async def load_cost_entry(context: Context, pk: uuid.UUID) -> CostEntryType | None:
    """The entry for admins and managers of its tenant, else None."""
    principal = context.principal
    if principal is None or not principal.has_any(*COST_MANAGERS):
        return None
    row = await context.loaders.by_id(CostEntry).load(pk)
    return CostEntryType.from_model(row) if row else None


register_node(CostEntryType)(load_cost_entry)


async def load_lifetime_value(context: Context, account_pk: uuid.UUID) -> MoneyType | None:
    """`Account.lifetimeValue`, batched: every account on a page in one statement."""
    principal = context.principal
    if principal is None:
        return None

    def factory() -> DataLoader[uuid.UUID, Money | None]:
        async def load(ids: Sequence[uuid.UUID]) -> list[Money | None]:
            found = await realised_lifetime_values(context.session, principal, list(set(ids)))
            return [found.get(pk) for pk in ids]

        return DataLoader(load_fn=load)

    money = await context.loaders.custom("metrics.lifetime_value", factory).load(account_pk)
    return MoneyType.of(money) if money else None
