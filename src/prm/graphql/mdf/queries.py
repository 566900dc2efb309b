"""`mdfBudgets` (admins and managers), `mdfAllocations`, `fundRequests`, `fundClaims`:
partner users see their own partner's, admins and managers the tenant's; newest first."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.graphql.context import Info
from prm.graphql.mdf.inputs import FundClaimFilter, FundRequestFilter, MdfAllocationFilter
from prm.graphql.mdf.types import (
    FundClaimType,
    FundRequestType,
    MdfAllocationType,
    MdfBudgetType,
)
from prm.graphql.pagination import NEWEST_FIRST, Connection, paginate
from prm.graphql.permissions import require_principal, require_roles
from prm.mdf.models import FundClaim, FundRequest, MdfAllocation
from prm.mdf.service import readable, readable_budgets


@strawberry.type
class Query:
    @strawberry.field(description="MDF budgets with what is allocated and what remains.")
    async def mdf_budgets(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[MdfBudgetType]:
        principal = require_roles(info, Role.ADMIN, Role.MANAGER)
        return await paginate(
            info.context,
            readable_budgets(principal),
            to_node=MdfBudgetType.from_model,
            first=first,
            after=after,
            order=NEWEST_FIRST,
        )

    @strawberry.field(description="MDF allocations: a partner user its partner's, staff all.")
    async def mdf_allocations(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: MdfAllocationFilter | None = None,
    ) -> Connection[MdfAllocationType]:
        statement = readable(MdfAllocation, require_principal(info))
        if filter is not None:
            statement = filter.apply(statement)
        return await paginate(
            info.context,
            statement,
            to_node=MdfAllocationType.from_model,
            first=first,
            after=after,
            order=NEWEST_FIRST,
        )

    @strawberry.field(description="Fund requests: a partner user its partner's, staff all.")
    async def fund_requests(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: FundRequestFilter | None = None,
    ) -> Connection[FundRequestType]:
        statement = readable(FundRequest, require_principal(info))
        if filter is not None:
            statement = filter.apply(statement)
        return await paginate(
            info.context,
            statement,
            to_node=FundRequestType.from_model,
            first=first,
            after=after,
            order=NEWEST_FIRST,
        )

    @strawberry.field(description="Fund claims: a partner user its partner's, staff all.")
    async def fund_claims(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: FundClaimFilter | None = None,
    ) -> Connection[FundClaimType]:
        statement = readable(FundClaim, require_principal(info))
        if filter is not None:
            statement = filter.apply(statement)
        return await paginate(
            info.context,
            statement,
            to_node=FundClaimType.from_model,
            first=first,
            after=after,
            order=NEWEST_FIRST,
        )
