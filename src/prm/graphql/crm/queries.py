"""Queries of the CRM domain: `accounts`, `contacts`, `opportunities`, `activities`,
each a keyset-paginated connection of what the caller may see."""

from __future__ import annotations

import strawberry

from prm.crm import visibility
from prm.crm.accounts import filter_accounts
from prm.crm.activities import filter_activities
from prm.crm.contacts import filter_contacts
from prm.crm.opportunities import filter_opportunities
from prm.graphql.context import Info
from prm.graphql.crm.inputs import (
    AccountFilter,
    AccountOrder,
    ActivityFilter,
    ContactFilter,
    ContactOrder,
    OpportunityFilter,
    OpportunityOrder,
    account_criteria,
    account_ordering,
    activity_criteria,
    contact_criteria,
    contact_ordering,
    opportunity_criteria,
    opportunity_ordering,
)
from prm.graphql.crm.types import (
    TIMELINE,
    AccountType,
    ActivityType,
    ContactType,
    OpportunityType,
)
from prm.graphql.pagination import Connection, paginate
from prm.graphql.permissions import require_principal


@strawberry.type
class Query:
    @strawberry.field(description="Accounts the caller may see (a partner user: its own).")
    async def accounts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: AccountFilter | None = None,
        order_by: AccountOrder | None = None,
    ) -> Connection[AccountType]:
        statement = visibility.readable_accounts(require_principal(info))
        if (criteria := account_criteria(filter)) is not None:
            statement = filter_accounts(statement, criteria)
        return await paginate(
            info.context,
            statement,
            to_node=AccountType.from_model,
            first=first,
            after=after,
            order=account_ordering(order_by),
        )

    @strawberry.field(description="Contacts the caller may see.")
    async def contacts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ContactFilter | None = None,
        order_by: ContactOrder | None = None,
    ) -> Connection[ContactType]:
        statement = visibility.readable_contacts(require_principal(info))
        if (criteria := contact_criteria(filter)) is not None:
            statement = filter_contacts(statement, criteria)
        return await paginate(
            info.context,
            statement,
            to_node=ContactType.from_model,
            first=first,
            after=after,
            order=contact_ordering(order_by),
        )

    @strawberry.field(description="Opportunities the caller may see.")
    async def opportunities(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: OpportunityFilter | None = None,
        order_by: OpportunityOrder | None = None,
    ) -> Connection[OpportunityType]:
        statement = visibility.readable_opportunities(require_principal(info))
        if (criteria := opportunity_criteria(filter)) is not None:
            statement = filter_opportunities(statement, criteria)
        return await paginate(
            info.context,
            statement,
            to_node=OpportunityType.from_model,
            first=first,
            after=after,
            order=opportunity_ordering(order_by),
        )

    @strawberry.field(description="Activities the caller may see, newest first.")
    async def activities(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ActivityFilter | None = None,
    ) -> Connection[ActivityType]:
        statement = visibility.readable_activities(require_principal(info))
        if (criteria := activity_criteria(filter)) is not None:
            statement = filter_activities(statement, criteria)
        return await paginate(
            info.context,
            statement,
            to_node=ActivityType.from_model,
            first=first,
            after=after,
            order=TIMELINE,
        )
