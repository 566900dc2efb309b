"""Mutations of the CRM domain. Each parses, calls one service function, shapes the
payload; transactions, audit and error mapping come from `@mutation`. Who may do what is
`prm.crm.visibility`'s business: deleting and merging are for admins and managers."""

from __future__ import annotations

import uuid

import strawberry

from prm.auth.principal import Role
from prm.crm import accounts, activities, contacts, merge, opportunities
from prm.crm.models import OpportunityStage
from prm.graphql.context import Info
from prm.graphql.crm.inputs import (
    CreateAccountInput,
    CreateContactInput,
    CreateOpportunityInput,
    RecordActivityInput,
    UpdateAccountInput,
    UpdateContactInput,
    UpdateOpportunityInput,
)
from prm.graphql.crm.types import AccountType, ActivityType, ContactType, OpportunityType
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk

MANAGERS = (Role.ADMIN, Role.MANAGER)


@strawberry.type
class AccountPayload(Payload):
    account: AccountType | None = None


@strawberry.type
class ContactPayload(Payload):
    contact: ContactType | None = None


@strawberry.type
class OpportunityPayload(Payload):
    opportunity: OpportunityType | None = None


@strawberry.type
class ActivityPayload(Payload):
    activity: ActivityType | None = None


def _pk(value: strawberry.ID | None, type_name: str, field: str) -> uuid.UUID | None:
    """The uuid of an optional reference; `NOT_FOUND` on `field` if it names nothing."""
    return require_pk(value, type_name, field=field) if value is not None else None


@strawberry.type
class Mutation:
    # Accounts ----------------------------------------------------------------------

    @mutation(
        AccountPayload,
        description="A new account; refused as DUPLICATE when one with the same normalised "
        "name or domain exists, unless `allowDuplicate`.",
    )
    async def create_account(self, info: Info, input: CreateAccountInput) -> AccountPayload:
        account = await accounts.create_account(
            info.context.session,
            require_principal(info),
            name=input.name,
            domain=input.domain,
            industry=input.industry,
            country=input.country,
            region=input.region,
            owner_id=_pk(input.owner_id, "Employee", "ownerId"),
            partner_id=_pk(input.partner_id, "Partner", "partnerId"),
            allow_duplicate=input.allow_duplicate,
        )
        return AccountPayload(account=AccountType.from_model(account))

    @mutation(AccountPayload, description="Change an account's given fields.")
    async def update_account(
        self, info: Info, id: strawberry.ID, input: UpdateAccountInput
    ) -> AccountPayload:
        account = await accounts.update_account(
            info.context.session,
            require_principal(info),
            require_pk(id, "Account", field="id"),
            name=input.name,
            domain=input.domain,
            industry=input.industry,
            country=input.country,
            region=input.region,
            owner_id=_pk(input.owner_id, "Employee", "ownerId"),
            partner_id=_pk(input.partner_id, "Partner", "partnerId"),
        )
        return AccountPayload(account=AccountType.from_model(account))

    @mutation(
        AccountPayload,
        roles=MANAGERS,
        description="Delete an account without opportunities; its contacts stay, unattached "
        "(admins and managers).",
    )
    async def delete_account(self, info: Info, id: strawberry.ID) -> AccountPayload:
        account = await accounts.delete_account(
            info.context.session, require_principal(info), require_pk(id, "Account", field="id")
        )
        return AccountPayload(account=AccountType.from_model(account))

    @mutation(
        AccountPayload,
        roles=MANAGERS,
        description="Move the source account's contacts, opportunities and activities to the "
        "target and delete the source; returns the target (admins and managers).",
    )
    async def merge_accounts(
        self, info: Info, source_id: strawberry.ID, target_id: strawberry.ID
    ) -> AccountPayload:
        source = require_pk(source_id, "Account", field="sourceId")
        target = await merge.merge_accounts(
            info.context.session,
            require_principal(info),
            source_id=source,
            target_id=require_pk(target_id, "Account", field="targetId"),
        )
        info.context.audit_object_ids.append(f"Account:{source}")
        return AccountPayload(account=AccountType.from_model(target))

    # Contacts ----------------------------------------------------------------------

    @mutation(
        ContactPayload,
        description="A new contact; refused as DUPLICATE when one with the same email exists, "
        "unless `allowDuplicate`.",
    )
    async def create_contact(self, info: Info, input: CreateContactInput) -> ContactPayload:
        contact = await contacts.create_contact(
            info.context.session,
            require_principal(info),
            account_id=_pk(input.account_id, "Account", "accountId"),
            first_name=input.first_name,
            last_name=input.last_name,
            email=input.email,
            phone=input.phone,
            marketing_opt_out=input.marketing_opt_out,
            allow_duplicate=input.allow_duplicate,
        )
        return ContactPayload(contact=ContactType.from_model(contact))

    @mutation(ContactPayload, description="Change a contact's given fields.")
    async def update_contact(
        self, info: Info, id: strawberry.ID, input: UpdateContactInput
    ) -> ContactPayload:
        contact = await contacts.update_contact(
            info.context.session,
            require_principal(info),
            require_pk(id, "Contact", field="id"),
            account_id=_pk(input.account_id, "Account", "accountId"),
            first_name=input.first_name,
            last_name=input.last_name,
            email=input.email,
            phone=input.phone,
            marketing_opt_out=input.marketing_opt_out,
        )
        return ContactPayload(contact=ContactType.from_model(contact))

    @mutation(
        ContactPayload,
        roles=MANAGERS,
        description="Delete a contact and its activities (admins and managers).",
    )
    async def delete_contact(self, info: Info, id: strawberry.ID) -> ContactPayload:
        contact = await contacts.delete_contact(
            info.context.session, require_principal(info), require_pk(id, "Contact", field="id")
        )
        return ContactPayload(contact=ContactType.from_model(contact))

    @mutation(
        ContactPayload,
        roles=MANAGERS,
        description="Move the source contact's activities to the target and delete the "
        "source; returns the target (admins and managers).",
    )
    async def merge_contacts(
        self, info: Info, source_id: strawberry.ID, target_id: strawberry.ID
    ) -> ContactPayload:
        source = require_pk(source_id, "Contact", field="sourceId")
        target = await merge.merge_contacts(
            info.context.session,
            require_principal(info),
            source_id=source,
            target_id=require_pk(target_id, "Contact", field="targetId"),
        )
        info.context.audit_object_ids.append(f"Contact:{source}")
        return ContactPayload(contact=ContactType.from_model(target))

    # Opportunities -----------------------------------------------------------------

    @mutation(OpportunityPayload, description="A new opportunity at an account.")
    async def create_opportunity(
        self, info: Info, input: CreateOpportunityInput
    ) -> OpportunityPayload:
        opportunity = await opportunities.create_opportunity(
            info.context.session,
            require_principal(info),
            account_id=require_pk(input.account_id, "Account", field="accountId"),
            name=input.name,
            amount=input.amount.parse(field="amount") if input.amount else None,
            stage=OpportunityStage(input.stage) if input.stage else None,
            probability=input.probability,
            close_date=input.close_date,
            owner_id=_pk(input.owner_id, "Employee", "ownerId"),
            partner_id=_pk(input.partner_id, "Partner", "partnerId"),
        )
        return OpportunityPayload(opportunity=OpportunityType.from_model(opportunity))

    @mutation(
        OpportunityPayload,
        description="Change an opportunity's given fields; stage changes follow the pipeline "
        "rules (INVALID_TRANSITION otherwise).",
    )
    async def update_opportunity(
        self, info: Info, id: strawberry.ID, input: UpdateOpportunityInput
    ) -> OpportunityPayload:
        opportunity = await opportunities.update_opportunity(
            info.context.session,
            require_principal(info),
            require_pk(id, "Opportunity", field="id"),
            name=input.name,
            amount=input.amount.parse(field="amount") if input.amount else None,
            stage=OpportunityStage(input.stage) if input.stage else None,
            probability=input.probability,
            close_date=input.close_date,
            owner_id=_pk(input.owner_id, "Employee", "ownerId"),
            partner_id=_pk(input.partner_id, "Partner", "partnerId"),
        )
        return OpportunityPayload(opportunity=OpportunityType.from_model(opportunity))

    @mutation(
        OpportunityPayload,
        roles=MANAGERS,
        description="Delete an opportunity and its activities (admins and managers).",
    )
    async def delete_opportunity(self, info: Info, id: strawberry.ID) -> OpportunityPayload:
        opportunity = await opportunities.delete_opportunity(
            info.context.session,
            require_principal(info),
            require_pk(id, "Opportunity", field="id"),
        )
        return OpportunityPayload(opportunity=OpportunityType.from_model(opportunity))

    # Activities --------------------------------------------------------------------

    @mutation(
        ActivityPayload,
        description="Record a touch point, by the caller, on an account, contact, lead or "
        "opportunity; the account is taken from the contact or opportunity if not given.",
    )
    async def record_activity(self, info: Info, input: RecordActivityInput) -> ActivityPayload:
        activity = await activities.record_activity(
            info.context.session,
            require_principal(info),
            channel=input.channel,
            direction=input.direction,
            summary=input.summary,
            occurred_at=input.occurred_at,
            account_id=_pk(input.account_id, "Account", "accountId"),
            contact_id=_pk(input.contact_id, "Contact", "contactId"),
            opportunity_id=_pk(input.opportunity_id, "Opportunity", "opportunityId"),
            lead_id=_pk(input.lead_id, "Lead", "leadId"),
        )
        return ActivityPayload(activity=ActivityType.from_model(activity))

    @mutation(
        ActivityPayload, roles=MANAGERS, description="Delete an activity (admins and managers)."
    )
    async def delete_activity(self, info: Info, id: strawberry.ID) -> ActivityPayload:
        activity = await activities.delete_activity(
            info.context.session,
            require_principal(info),
            require_pk(id, "Activity", field="id"),
        )
        return ActivityPayload(activity=ActivityType.from_model(activity))
