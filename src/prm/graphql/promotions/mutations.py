"""`createPromotion`, `updatePromotion` and `endPromotion`: admins and managers."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.catalog import promotions
from prm.graphql.context import Info
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.promotions.inputs import CreatePromotionInput, UpdatePromotionInput
from prm.graphql.promotions.types import PromotionType
from prm.graphql.relay import require_pk

MANAGERS = (Role.ADMIN, Role.MANAGER)


@strawberry.type
class PromotionPayload(Payload):
    promotion: PromotionType | None = None


@strawberry.type
class Mutation:
    @mutation(
        PromotionPayload,
        roles=MANAGERS,
        description="A new promotion; DUPLICATE if its code is taken (case-insensitively).",
    )
    async def create_promotion(self, info: Info, input: CreatePromotionInput) -> PromotionPayload:
        row = await promotions.create_promotion(
            info.context.session, require_principal(info), input.fields()
        )
        return PromotionPayload(promotion=PromotionType.from_model(row))

    @mutation(
        PromotionPayload,
        roles=MANAGERS,
        description="Change a promotion's given fields (not once it was ended); the result "
        "obeys the same rules as a new one.",
    )
    async def update_promotion(
        self, info: Info, id: strawberry.ID, input: UpdatePromotionInput
    ) -> PromotionPayload:
        row = await promotions.update_promotion(
            info.context.session,
            require_principal(info),
            require_pk(id, "Promotion", field="id"),
            input.fields(),
        )
        return PromotionPayload(promotion=PromotionType.from_model(row))

    @mutation(
        PromotionPayload,
        roles=MANAGERS,
        description="End a running or future promotion now; INVALID_TRANSITION if it was "
        "ended or is over.",
    )
    async def end_promotion(self, info: Info, id: strawberry.ID) -> PromotionPayload:
        row = await promotions.end_promotion(
            info.context.session, require_principal(info), require_pk(id, "Promotion", field="id")
        )
        return PromotionPayload(promotion=PromotionType.from_model(row))
