"""CRM rows for tests, written directly (committed, so HTTP requests see them), and the
GraphQL documents the CRM tests share."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from prm.crm.accounts import normalise_account_name
from prm.crm.models import (
    Account,
    Activity,
    Channel,
    Contact,
    Direction,
    Opportunity,
    OpportunityStage,
)
from prm.crm.opportunities import DEFAULT_PROBABILITY
from prm.db.engine import Database
from prm.graphql.relay import encode_global_id
from tests.factories import unique


def gid(type_name: str, row: Any) -> str:
    """The global id of a row (or of a bare uuid)."""
    return encode_global_id(type_name, row if isinstance(row, uuid.UUID) else row.id)


async def make_account(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    name: str | None = None,
    partner_id: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
    country: str | None = None,
    industry: str | None = None,
    domain: str | None = None,
) -> Account:
    name = name or unique("Account")
    async with db.session(tenant_id) as session:
        account = Account(
            tenant_id=tenant_id,
            name=name,
            normalized_name=normalise_account_name(name),
            partner_id=partner_id,
            owner_id=owner_id,
            country=country,
            industry=industry,
            domain=domain,
        )
        session.add(account)
    return account


async def make_contact(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    account_id: uuid.UUID | None = None,
    email: str | None = None,
    first_name: str = "Ada",
    last_name: str | None = None,
) -> Contact:
    async with db.session(tenant_id) as session:
        contact = Contact(
            tenant_id=tenant_id,
            account_id=account_id,
            first_name=first_name,
            last_name=last_name or unique("Lovelace"),
            email=email,
            marketing_opt_out=False,
        )
        session.add(contact)
    return contact


async def make_opportunity(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    account_id: uuid.UUID,
    amount: str | None = "1000.00",
    currency: str = "USD",
    stage: OpportunityStage = OpportunityStage.PROSPECTING,
    partner_id: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
    name: str | None = None,
) -> Opportunity:
    async with db.session(tenant_id) as session:
        opportunity = Opportunity(
            tenant_id=tenant_id,
            account_id=account_id,
            name=name or unique("Deal"),
            amount=Decimal(amount) if amount is not None else None,
            currency=currency if amount is not None else None,
            stage=stage,
            probability=DEFAULT_PROBABILITY[stage],
            partner_id=partner_id,
            owner_id=owner_id,
        )
        session.add(opportunity)
    return opportunity


async def make_activity(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    account_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    opportunity_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
    channel: Channel = Channel.EMAIL,
    summary: str | None = None,
) -> Activity:
    async with db.session(tenant_id) as session:
        activity = Activity(
            tenant_id=tenant_id,
            channel=channel,
            direction=Direction.OUTBOUND,
            summary=summary or unique("note"),
            occurred_at=occurred_at or datetime.now(UTC),
            account_id=account_id,
            contact_id=contact_id,
            opportunity_id=opportunity_id,
        )
        session.add(activity)
    return activity


ERRORS = "errors { code field message existingId }"

CREATE_ACCOUNT = f"""mutation ($input: CreateAccountInput!) {{
  createAccount(input: $input) {{
    account {{ id name domain industry country region owner {{ name }} partner {{ id name }} }}
    {ERRORS}
  }}
}}"""
UPDATE_ACCOUNT = f"""mutation ($id: ID!, $input: UpdateAccountInput!) {{
  updateAccount(id: $id, input: $input) {{
    account {{ id name domain country owner {{ name }} partner {{ id }} }} {ERRORS} }} }}"""
DELETE_ACCOUNT = f"""mutation ($id: ID!) {{
  deleteAccount(id: $id) {{ account {{ id name }} {ERRORS} }} }}"""
CREATE_CONTACT = f"""mutation ($input: CreateContactInput!) {{
  createContact(input: $input) {{
    contact {{ id firstName lastName email phone marketingOptOut optedOutAt account {{ id }} }}
    {ERRORS}
  }}
}}"""
UPDATE_CONTACT = f"""mutation ($id: ID!, $input: UpdateContactInput!) {{
  updateContact(id: $id, input: $input) {{
    contact {{ id firstName email marketingOptOut optedOutAt account {{ id }} }} {ERRORS} }} }}"""
DELETE_CONTACT = f"""mutation ($id: ID!) {{
  deleteContact(id: $id) {{ contact {{ id }} {ERRORS} }} }}"""
OPPORTUNITY_FIELDS = """id name amount { amount currency } stage probability closeDate closedAt
  account { id } owner { name } partner { id }"""
CREATE_OPPORTUNITY = f"""mutation ($input: CreateOpportunityInput!) {{
  createOpportunity(input: $input) {{ opportunity {{ {OPPORTUNITY_FIELDS} }} {ERRORS} }} }}"""
UPDATE_OPPORTUNITY = f"""mutation ($id: ID!, $input: UpdateOpportunityInput!) {{
  updateOpportunity(id: $id, input: $input) {{
    opportunity {{ {OPPORTUNITY_FIELDS} }} {ERRORS} }} }}"""
DELETE_OPPORTUNITY = f"""mutation ($id: ID!) {{
  deleteOpportunity(id: $id) {{ opportunity {{ id }} {ERRORS} }} }}"""
RECORD_ACTIVITY = f"""mutation ($input: RecordActivityInput!) {{
  recordActivity(input: $input) {{
    activity {{ id channel direction summary occurredAt actor {{ id }}
                account {{ id }} contact {{ id }} opportunity {{ id }} }}
    {ERRORS}
  }}
}}"""
DELETE_ACTIVITY = f"""mutation ($id: ID!) {{
  deleteActivity(id: $id) {{ activity {{ id }} {ERRORS} }} }}"""
MERGE_ACCOUNTS = f"""mutation ($source: ID!, $target: ID!) {{
  mergeAccounts(sourceId: $source, targetId: $target) {{ account {{ id domain }} {ERRORS} }} }}"""
MERGE_CONTACTS = f"""mutation ($source: ID!, $target: ID!) {{
  mergeContacts(sourceId: $source, targetId: $target) {{
    contact {{ id email marketingOptOut account {{ id }} }} {ERRORS} }} }}"""
NODE = """query ($id: ID!) { node(id: $id) { id } }"""


def edge_ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]
