"""`Recommendation` and `RecommendationKind`: a product to offer an account, and why."""

from __future__ import annotations

import strawberry

from prm.catalog.recommendations import Recommendation, RecommendationKind
from prm.graphql.products.types import ProductType

RecommendationKindEnum = strawberry.enum(
    RecommendationKind,
    name="RecommendationKind",
    description="CROSS_SELL: bought together with a product the account bought. UP_SELL: "
    "a pricier product of the same family as one it bought.",
)


@strawberry.type(
    name="Recommendation",
    description="A product the account has not bought, with the association that "
    "suggests it (computed daily by the `catalog.associations` job, or on "
    "`recomputeRecommendations`).",
)
class RecommendationType:
    product: ProductType
    kind: RecommendationKindEnum  # type: ignore[valid-type]
    support: float = strawberry.field(
        description="CROSS_SELL: share of won deals holding both products. UP_SELL: share "
        "of won deals holding the recommended product."
    )
    confidence: float = strawberry.field(
        description="CROSS_SELL: share of the won deals holding `basedOn` that also held "
        "this product. UP_SELL: share of the won deals holding the family that chose "
        "this product (0 when the family was never bought)."
    )
    lift: float | None = strawberry.field(
        description="CROSS_SELL: confidence / share of won deals holding this product (above "
        "1: bought together more than chance). Null for UP_SELL."
    )
    based_on: ProductType | None = strawberry.field(
        description="The product the account bought that led to this one; null when the "
        "caller may not see it (a retired product, for partner users)."
    )

    @classmethod
    def of(cls, recommendation: Recommendation, *, staff: bool) -> RecommendationType:
        based_on = recommendation.based_on
        return cls(
            product=ProductType.from_model(recommendation.product),
            kind=recommendation.kind,
            support=recommendation.support,
            confidence=recommendation.confidence,
            lift=recommendation.lift,
            based_on=ProductType.from_model(based_on) if staff or based_on.active else None,
        )
