"""`dealRegistrations`: a partner user sees its partner's, staff all; newest first."""

from __future__ import annotations

import strawberry

from prm.deals.service import readable_registrations
from prm.graphql.context import Info
from prm.graphql.deals.inputs import DealRegistrationFilter
from prm.graphql.deals.types import DealRegistrationType
from prm.graphql.pagination import NEWEST_FIRST, Connection, paginate
from prm.graphql.permissions import require_principal


@strawberry.type
class Query:
    @strawberry.field(description="Deal registrations: a partner user its partner's, staff all.")
    async def deal_registrations(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: DealRegistrationFilter | None = None,
    ) -> Connection[DealRegistrationType]:
        statement = readable_registrations(require_principal(info))
        if filter is not None:
            statement = filter.apply(statement)
        return await paginate(
            info.context,
            statement,
            to_node=DealRegistrationType.from_model,
            first=first,
            after=after,
            order=NEWEST_FIRST,
        )
