"""`recordCost` and `deleteCostEntry` (admins and managers)."""

from __future__ import annotations

import strawberry

from prm.graphql.context import Info
from prm.graphql.customer_metrics.inputs import RecordCostInput
from prm.graphql.customer_metrics.types import CostEntryType
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk
from prm.metrics import costs
from prm.metrics.costs import COST_MANAGERS


@strawberry.type
class CostEntryPayload(Payload):
    cost_entry: CostEntryType | None = None


@strawberry.type
class Mutation:
    @mutation(
        CostEntryPayload,
        roles=COST_MANAGERS,
        description="Record money spent on a campaign or channel, in the tenant's default "
        "currency (INVALID otherwise: metrics never convert currencies).",
    )
    async def record_cost(self, info: Info, input: RecordCostInput) -> CostEntryPayload:
        entry = await costs.record_cost(
            info.context.session,
            require_principal(info),
            kind=input.kind,
            name=input.name,
            incurred_on=input.incurred_on,
            amount=input.amount.amount,
            currency=input.amount.currency,
            notes=input.notes,
            campaign_id=(
                require_pk(input.campaign_id, "Campaign", field="campaignId")
                if input.campaign_id is not None
                else None
            ),
        )
        return CostEntryPayload(cost_entry=CostEntryType.from_model(entry))

    @mutation(
        CostEntryPayload,
        roles=COST_MANAGERS,
        description="Delete a cost entry; metrics change when their period is recomputed.",
    )
    async def delete_cost_entry(self, info: Info, id: strawberry.ID) -> CostEntryPayload:
        entry = await costs.delete_cost_entry(
            info.context.session, require_principal(info), require_pk(id, "CostEntry", field="id")
        )
        return CostEntryPayload(cost_entry=CostEntryType.from_model(entry))
