"""Accounts, contacts, opportunities and activities as the API shows them, with the
360-degree view of an account: its contacts, opportunities, timeline of activities (its
own and its contacts' and opportunities', newest first), open pipeline and won revenue.

Every reference and nested list resolves through the batched loaders of
`prm.graphql.crm.loaders`, so a page of accounts with all of it is a fixed number of SQL
statements whatever its size. What the caller may not see is null or absent.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from prm.crm import activities, opportunities
from prm.crm.models import Account, Activity, Contact, Opportunity
from prm.graphql.context import Context, Info
from prm.graphql.crm.enums import ChannelEnum, DirectionEnum, OpportunityStageEnum
from prm.graphql.crm.inputs import (
    ActivityFilter,
    OpportunityFilter,
    OpportunityOrder,
    activity_criteria,
    opportunity_criteria,
    opportunity_ordering,
)
from prm.graphql.crm.loaders import Relation, load_account_totals, load_visible, nested_page
from prm.graphql.customer_metrics.types import load_lifetime_value
from prm.graphql.employees.types import EmployeeType, load_employee
from prm.graphql.pagination import BY_ID, Connection, OrderDirection, Ordering
from prm.graphql.partners.types import PartnerType, load_partner
from prm.graphql.relay import Node, register_node
from prm.graphql.scalars import MoneyType

if TYPE_CHECKING:
    from prm.graphql.tenants.types import UserType

TIMELINE = Ordering.by(Activity.occurred_at, OrderDirection.DESC)
"""Activities: newest first."""


@strawberry.type(name="Account", description="A company the tenant or its partners sell to.")
class AccountType(Node):
    name: str
    domain: str | None
    industry: str | None
    country: str | None
    region: str | None
    created_at: datetime
    updated_at: datetime
    owner_pk: strawberry.Private[uuid.UUID | None]
    partner_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The employee who owns the account.")
    async def owner(self, info: Info) -> EmployeeType | None:
        return await load_employee(info.context, self.owner_pk) if self.owner_pk else None

    @strawberry.field(description="The partner the account is worked through.")
    async def partner(self, info: Info) -> PartnerType | None:
        return await load_partner(info.context, self.partner_pk) if self.partner_pk else None

    @strawberry.field(description="People at the account, in the order they were added.")
    async def contacts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ContactType]:
        return await nested_page(
            info, ACCOUNT_CONTACTS, self.pk, first=first, after=after, order=BY_ID
        )

    @strawberry.field(description="The account's opportunities (oldest first by default).")
    async def opportunities(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: OpportunityFilter | None = None,
        order_by: OpportunityOrder | None = None,
    ) -> Connection[OpportunityType]:
        return await nested_page(
            info,
            ACCOUNT_OPPORTUNITIES,
            self.pk,
            first=first,
            after=after,
            order=opportunity_ordering(order_by),
            criteria=opportunity_criteria(filter),
        )

    @strawberry.field(
        description="The timeline: every touch point with the account, its contacts and its "
        "opportunities, newest first."
    )
    async def activities(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ActivityFilter | None = None,
    ) -> Connection[ActivityType]:
        return await nested_page(
            info,
            ACCOUNT_ACTIVITIES,
            self.pk,
            first=first,
            after=after,
            order=TIMELINE,
            criteria=activity_criteria(filter),
        )

    @strawberry.field(description="Sum of open opportunities' amounts, one per currency.")
    async def open_pipeline(self, info: Info) -> list[MoneyType]:
        totals = await load_account_totals(info.context, self.pk)
        return [MoneyType.of(money) for money in totals.open_pipeline]

    @strawberry.field(description="Sum of won opportunities' amounts, one per currency.")
    async def won_revenue(self, info: Info) -> list[MoneyType]:
        totals = await load_account_totals(info.context, self.pk)
        return [MoneyType.of(money) for money in totals.won_revenue]

    @strawberry.field(
        description="Realised lifetime value: the sum of won opportunities' amounts in the "
        "tenant's default currency (null if none). The predicted average is "
        "`CustomerMetrics.averageLifetimeValue`."
    )
    async def lifetime_value(self, info: Info) -> MoneyType | None:
        return await load_lifetime_value(info.context, self.pk)

    @classmethod
    def from_model(cls, account: Account) -> AccountType:
        return cls.from_row(account, owner_pk=account.owner_id, partner_pk=account.partner_id)


@strawberry.type(name="Contact", description="A person at an account.")
class ContactType(Node):
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    marketing_opt_out: bool
    opted_out_at: datetime | None = strawberry.field(
        description="When the contact opted out of marketing (null while opted in)."
    )
    created_at: datetime
    updated_at: datetime
    account_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The account the contact works at.")
    async def account(self, info: Info) -> AccountType | None:
        return await load_account(info.context, self.account_pk) if self.account_pk else None

    @strawberry.field(description="Touch points with the contact, newest first.")
    async def activities(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ActivityType]:
        return await nested_page(
            info, CONTACT_ACTIVITIES, self.pk, first=first, after=after, order=TIMELINE
        )

    @classmethod
    def from_model(cls, contact: Contact) -> ContactType:
        return cls.from_row(contact, account_pk=contact.account_id)


@strawberry.type(name="Opportunity", description="A deal in the pipeline.")
class OpportunityType(Node):
    name: str
    amount: MoneyType | None
    stage: OpportunityStageEnum  # type: ignore[valid-type]
    probability: int = strawberry.field(description="Percent; follows the stage unless set.")
    close_date: date | None = strawberry.field(description="When the deal is expected to close.")
    closed_at: datetime | None = strawberry.field(
        description="When it entered CLOSED_WON or CLOSED_LOST (null while open)."
    )
    created_at: datetime
    updated_at: datetime
    account_pk: strawberry.Private[uuid.UUID]
    owner_pk: strawberry.Private[uuid.UUID | None]
    partner_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The account; null if the caller may not see it.")
    async def account(self, info: Info) -> AccountType | None:
        return await load_account(info.context, self.account_pk)

    @strawberry.field(description="The employee who owns the deal.")
    async def owner(self, info: Info) -> EmployeeType | None:
        return await load_employee(info.context, self.owner_pk) if self.owner_pk else None

    @strawberry.field(description="The partner working the deal.")
    async def partner(self, info: Info) -> PartnerType | None:
        return await load_partner(info.context, self.partner_pk) if self.partner_pk else None

    @strawberry.field(description="Touch points about the deal, newest first.")
    async def activities(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ActivityType]:
        return await nested_page(
            info, OPPORTUNITY_ACTIVITIES, self.pk, first=first, after=after, order=TIMELINE
        )

    @classmethod
    def from_model(cls, opportunity: Opportunity) -> OpportunityType:
        return cls.from_row(
            opportunity,
            amount=MoneyType.maybe(opportunity.amount, opportunity.currency),
            account_pk=opportunity.account_id,
            owner_pk=opportunity.owner_id,
            partner_pk=opportunity.partner_id,
        )


@strawberry.type(name="Activity", description="A touch point on any channel.")
class ActivityType(Node):
    channel: ChannelEnum  # type: ignore[valid-type]
    direction: DirectionEnum  # type: ignore[valid-type]
    summary: str
    occurred_at: datetime
    created_at: datetime
    actor_pk: strawberry.Private[uuid.UUID | None]
    account_pk: strawberry.Private[uuid.UUID | None]
    contact_pk: strawberry.Private[uuid.UUID | None]
    opportunity_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The user who recorded it, if the caller may see users.")
    async def actor(
        self, info: Info
    ) -> Annotated[UserType, strawberry.lazy("prm.graphql.tenants.types")] | None:
        from prm.graphql.tenants.types import load_user

        return await load_user(info.context, self.actor_pk) if self.actor_pk else None

    @strawberry.field(description="The account it concerns (set from its contact or deal).")
    async def account(self, info: Info) -> AccountType | None:
        return await load_account(info.context, self.account_pk) if self.account_pk else None

    @strawberry.field
    async def contact(self, info: Info) -> ContactType | None:
        return await load_contact(info.context, self.contact_pk) if self.contact_pk else None

    @strawberry.field
    async def opportunity(self, info: Info) -> OpportunityType | None:
        if self.opportunity_pk is None:
            return None
        return await load_opportunity(info.context, self.opportunity_pk)

    @classmethod
    def from_model(cls, activity: Activity) -> ActivityType:
        return cls.from_row(
            activity,
            actor_pk=activity.actor_user_id,
            account_pk=activity.account_id,
            contact_pk=activity.contact_id,
            opportunity_pk=activity.opportunity_id,
        )


ACCOUNT_CONTACTS = Relation("account.contacts", Contact, Contact.account_id, ContactType.from_model)
ACCOUNT_OPPORTUNITIES = Relation(
    "account.opportunities",
    Opportunity,
    Opportunity.account_id,
    OpportunityType.from_model,
    narrow=opportunities.filter_opportunities,
)
ACCOUNT_ACTIVITIES = Relation(
    "account.activities",
    Activity,
    Activity.account_id,
    ActivityType.from_model,
    narrow=activities.filter_activities,
)
CONTACT_ACTIVITIES = Relation(
    "contact.activities", Activity, Activity.contact_id, ActivityType.from_model
)
OPPORTUNITY_ACTIVITIES = Relation(
    "opportunity.activities", Activity, Activity.opportunity_id, ActivityType.from_model
)


async def load_account(context: Context, pk: uuid.UUID) -> AccountType | None:
    """The account if the caller may see it, else None. Batched per request."""
    row = await load_visible(context, Account, pk)
    return AccountType.from_model(row) if row else None


async def load_contact(context: Context, pk: uuid.UUID) -> ContactType | None:
    row = await load_visible(context, Contact, pk)
    return ContactType.from_model(row) if row else None


async def load_opportunity(context: Context, pk: uuid.UUID) -> OpportunityType | None:
    row = await load_visible(context, Opportunity, pk)
    return OpportunityType.from_model(row) if row else None


async def load_activity(context: Context, pk: uuid.UUID) -> ActivityType | None:
    row = await load_visible(context, Activity, pk)
    return ActivityType.from_model(row) if row else None


register_node(AccountType)(load_account)
register_node(ContactType)(load_contact)
register_node(OpportunityType)(load_opportunity)
register_node(ActivityType)(load_activity)
