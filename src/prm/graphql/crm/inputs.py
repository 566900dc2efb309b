"""Inputs, filters and orderings of the CRM API, and their translation into the domain's
criteria. An id in a filter that names nothing (garbage, another type) matches nothing."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

import strawberry

from prm.crm.accounts import AccountCriteria
from prm.crm.activities import ActivityCriteria
from prm.crm.contacts import ContactCriteria
from prm.crm.models import Account, Contact, Opportunity
from prm.crm.models import OpportunityStage as Stage
from prm.crm.opportunities import OpportunityCriteria
from prm.graphql.crm.enums import ChannelEnum, DirectionEnum, OpportunityStageEnum
from prm.graphql.pagination import BY_ID, OrderDirection, Ordering
from prm.graphql.relay import pk_of
from prm.graphql.scalars import MoneyInput

NOTHING = uuid.UUID(int=0)
"""Stands for an id that names nothing: no row has it, so a filter on it matches none."""


def filter_pk(value: strawberry.ID | None, type_name: str) -> uuid.UUID | None:
    if value is None:
        return None
    return pk_of(value, type_name) or NOTHING


# Accounts ------------------------------------------------------------------------------


@strawberry.input
class CreateAccountInput:
    name: str
    industry: str | None = None
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2.")
    region: str | None = None
    owner_id: strawberry.ID | None = strawberry.field(default=None, description="An Employee.")
    partner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Staff only: a partner user's accounts are its partner's."
    )
    domain: str | None = strawberry.field(
        default=None, description="Web domain (`acme.com`); a URL is reduced to its host."
    )
    allow_duplicate: bool = strawberry.field(
        default=False,
        description="Create even if an account with the same normalised name or domain "
        "exists (else a DUPLICATE error names it).",
    )


@strawberry.input(description="Only the fields given change.")
class UpdateAccountInput:
    name: str | None = None
    domain: str | None = None
    industry: str | None = None
    country: str | None = None
    region: str | None = None
    owner_id: strawberry.ID | None = None
    partner_id: strawberry.ID | None = None


@strawberry.input(description="Narrows `accounts`; every field is optional and they combine.")
class AccountFilter:
    owner_id: strawberry.ID | None = None
    partner_id: strawberry.ID | None = None
    country: str | None = None
    region: str | None = None
    industry: str | None = None
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the name."
    )


@strawberry.enum
class AccountOrderField(enum.Enum):
    CREATED = "created"
    NAME = "name"


@strawberry.input
class AccountOrder:
    field: AccountOrderField
    direction: OrderDirection = OrderDirection.ASC


def account_criteria(value: AccountFilter | None) -> AccountCriteria | None:
    if value is None:
        return None
    return AccountCriteria(
        owner_id=filter_pk(value.owner_id, "Employee"),
        partner_id=filter_pk(value.partner_id, "Partner"),
        country=value.country,
        region=value.region,
        industry=value.industry,
        search=value.search,
    )


def account_ordering(value: AccountOrder | None) -> Ordering:
    if value is None:
        return BY_ID
    column = Account.name if value.field is AccountOrderField.NAME else None
    return Ordering.by(column, value.direction)


# Contacts ------------------------------------------------------------------------------


@strawberry.input
class CreateContactInput:
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="Required for partner users."
    )
    first_name: str
    last_name: str
    email: str | None = None
    phone: str | None = None
    marketing_opt_out: bool = False
    allow_duplicate: bool = strawberry.field(
        default=False,
        description="Create even if a contact with the same email exists (else DUPLICATE).",
    )


@strawberry.input(description="Only the fields given change; a blank email or phone clears it.")
class UpdateContactInput:
    account_id: strawberry.ID | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    marketing_opt_out: bool | None = strawberry.field(
        default=None, description="Opting out records when (`optedOutAt`)."
    )


@strawberry.input(description="Narrows `contacts`; every field is optional and they combine.")
class ContactFilter:
    account_id: strawberry.ID | None = None
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the full name or the email."
    )
    opted_out: bool | None = None


@strawberry.enum
class ContactOrderField(enum.Enum):
    CREATED = "created"
    LAST_NAME = "last_name"


@strawberry.input
class ContactOrder:
    field: ContactOrderField
    direction: OrderDirection = OrderDirection.ASC


def contact_criteria(value: ContactFilter | None) -> ContactCriteria | None:
    if value is None:
        return None
    return ContactCriteria(
        account_id=filter_pk(value.account_id, "Account"),
        search=value.search,
        opted_out=value.opted_out,
    )


def contact_ordering(value: ContactOrder | None) -> Ordering:
    if value is None:
        return BY_ID
    column = Contact.last_name if value.field is ContactOrderField.LAST_NAME else None
    return Ordering.by(column, value.direction)


# Opportunities -------------------------------------------------------------------------


@strawberry.input
class CreateOpportunityInput:
    account_id: strawberry.ID
    name: str
    amount: MoneyInput | None = None
    stage: OpportunityStageEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="PROSPECTING unless given."
    )
    close_date: date | None = None
    owner_id: strawberry.ID | None = strawberry.field(default=None, description="An Employee.")
    partner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Staff only: a partner user's deals are its partner's."
    )
    probability: int | None = strawberry.field(
        default=None, description="Percent; the stage's default unless given."
    )


@strawberry.input(description="Only the fields given change.")
class UpdateOpportunityInput:
    name: str | None = None
    amount: MoneyInput | None = None
    stage: OpportunityStageEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="Open stages move freely; closed ones only reopen to NEGOTIATION, by an "
        "admin or a manager. A new stage brings its default probability unless one is given.",
    )
    close_date: date | None = None
    owner_id: strawberry.ID | None = None
    probability: int | None = None
    partner_id: strawberry.ID | None = None


@strawberry.input(description="Narrows `opportunities`; every field is optional and they combine.")
class OpportunityFilter:
    account_id: strawberry.ID | None = None
    owner_id: strawberry.ID | None = None
    partner_id: strawberry.ID | None = None
    stage: OpportunityStageEnum | None = None  # type: ignore[valid-type]
    stages: list[OpportunityStageEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Any of these stages."
    )
    close_date_from: date | None = None
    close_date_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    currency: str | None = None
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the name."
    )


@strawberry.enum
class OpportunityOrderField(enum.Enum):
    CREATED = "created"
    CLOSE_DATE = "close_date"
    AMOUNT = "amount"
    NAME = "name"


@strawberry.input(
    description="Opportunities with no close date sort after all others; with no amount, "
    "before all others."
)
class OpportunityOrder:
    field: OpportunityOrderField
    direction: OrderDirection = OrderDirection.ASC


def opportunity_criteria(value: OpportunityFilter | None) -> OpportunityCriteria | None:
    if value is None:
        return None
    stages = [Stage(stage) for stage in value.stages or ()]
    if value.stage is not None:
        stages.append(Stage(value.stage))
    return OpportunityCriteria(
        account_id=filter_pk(value.account_id, "Account"),
        owner_id=filter_pk(value.owner_id, "Employee"),
        partner_id=filter_pk(value.partner_id, "Partner"),
        stages=tuple(dict.fromkeys(stages)),
        close_date_from=value.close_date_from,
        close_date_to=value.close_date_to,
        amount_min=value.amount_min,
        amount_max=value.amount_max,
        currency=value.currency,
        search=value.search,
    )


OPPORTUNITY_ORDER_COLUMNS = {
    OpportunityOrderField.CREATED: None,
    OpportunityOrderField.CLOSE_DATE: Opportunity.close_date_key,
    OpportunityOrderField.AMOUNT: Opportunity.amount_key,
    OpportunityOrderField.NAME: Opportunity.name,
}


def opportunity_ordering(value: OpportunityOrder | None) -> Ordering:
    if value is None:
        return BY_ID
    return Ordering.by(OPPORTUNITY_ORDER_COLUMNS[value.field], value.direction)


# Activities ----------------------------------------------------------------------------


@strawberry.input
class RecordActivityInput:
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="Taken from the contact or opportunity when not given."
    )
    contact_id: strawberry.ID | None = None
    lead_id: strawberry.ID | None = None
    opportunity_id: strawberry.ID | None = None
    channel: ChannelEnum  # type: ignore[valid-type]
    direction: DirectionEnum  # type: ignore[valid-type]
    summary: str
    occurred_at: datetime | None = strawberry.field(default=None, description="Default: now.")


@strawberry.input(description="Narrows `activities`; every field is optional and they combine.")
class ActivityFilter:
    account_id: strawberry.ID | None = None
    contact_id: strawberry.ID | None = None
    opportunity_id: strawberry.ID | None = None
    channel: ChannelEnum | None = None  # type: ignore[valid-type]
    direction: DirectionEnum | None = None  # type: ignore[valid-type]
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


def activity_criteria(value: ActivityFilter | None) -> ActivityCriteria | None:
    if value is None:
        return None
    return ActivityCriteria(
        account_id=filter_pk(value.account_id, "Account"),
        contact_id=filter_pk(value.contact_id, "Contact"),
        opportunity_id=filter_pk(value.opportunity_id, "Opportunity"),
        channel=value.channel,
        direction=value.direction,
        occurred_from=value.occurred_from,
        occurred_to=value.occurred_to,
    )
