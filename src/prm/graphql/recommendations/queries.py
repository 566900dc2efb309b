"""`recommendations(accountId:, first:)`: staff for any account of the tenant, a partner
user for the accounts the CRM lets it see; anything else is NOT_FOUND."""

from __future__ import annotations

import strawberry

from prm.catalog.recommendations import DEFAULT_FIRST, MAX_FIRST, recommendations_for
from prm.catalog.visibility import is_staff
from prm.errors import DomainError, NotFound
from prm.graphql.context import Info
from prm.graphql.errors import QueryUserError
from prm.graphql.permissions import require_principal
from prm.graphql.recommendations.types import RecommendationType
from prm.graphql.relay import pk_of


@strawberry.type
class Query:
    @strawberry.field(
        description="What to offer the account next: products bought together with what it "
        "bought (CROSS_SELL) and pricier products of the same family (UP_SELL), excluding "
        "what it already bought and retired products; one per product (its best "
        "association), best confidence first, then support, then lift. `first` is 1 to "
        f"{MAX_FIRST} (else INVALID; null: {DEFAULT_FIRST}). An account the caller may not see is NOT_FOUND."
    )
    async def recommendations(
        self, info: Info, account_id: strawberry.ID, first: int | None = DEFAULT_FIRST
    ) -> list[RecommendationType]:
        principal = require_principal(info)
        try:
            pk = pk_of(account_id, "Account")
            if pk is None:
                raise NotFound("no such account", field="accountId")
            found = await recommendations_for(
                info.context.session,
                principal,
                pk,
                first=DEFAULT_FIRST if first is None else first,
            )
        except DomainError as error:
            raise QueryUserError(error) from error
        staff = is_staff(principal)
        return [RecommendationType.of(item, staff=staff) for item in found]
