"""Consolidation: merging accounts and contacts moves every related record to the target,
deletes the source, and leaves one audit entry naming both."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from prm.auth.principal import Role
from prm.crm.models import Activity, Contact, Opportunity
from prm.db.engine import Database
from prm.tenants.models import AuditEntry
from tests.crm.factories import (
    MERGE_ACCOUNTS,
    MERGE_CONTACTS,
    NODE,
    gid,
    make_account,
    make_activity,
    make_contact,
    make_opportunity,
)
from tests.factories import TenantWithAdmin, bearer, make_tenant, make_user
from tests.graphql.support import error_codes, gql


async def last_audit(database: Database, tenant: TenantWithAdmin) -> AuditEntry:
    async with database.session(tenant.id) as session:
        entry = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.tenant_id == tenant.id)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    assert entry is not None
    return entry


@pytest.mark.asyncio
async def test_merging_accounts_moves_contacts_deals_and_timeline(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    source = await make_account(database, tenant.id, name="Acme Inc", domain="acme.example")
    target = await make_account(database, tenant.id, name="ACME")
    contact = await make_contact(database, tenant.id, account_id=source.id)
    deal = await make_opportunity(database, tenant.id, account_id=source.id)
    activity = await make_activity(database, tenant.id, account_id=source.id, contact_id=contact.id)
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    headers = bearer(app.state.issuer, manager)

    body = await gql(
        client,
        MERGE_ACCOUNTS,
        {"source": gid("Account", source), "target": gid("Account", target)},
        headers=headers,
    )

    assert body["data"]["mergeAccounts"] == {
        "account": {"id": gid("Account", target), "domain": "acme.example"},
        "errors": [],
    }
    gone = await gql(client, NODE, {"id": gid("Account", source)}, headers=headers)
    assert gone["data"]["node"] is None
    async with database.session(tenant.id) as session:
        assert (await session.get(Contact, (tenant.id, contact.id))).account_id == target.id  # type: ignore[union-attr]
        assert (await session.get(Opportunity, (tenant.id, deal.id))).account_id == target.id  # type: ignore[union-attr]
        assert (await session.get(Activity, (tenant.id, activity.id))).account_id == target.id  # type: ignore[union-attr]
    entry = await last_audit(database, tenant)
    assert entry.operation == "mergeAccounts"
    assert set(entry.object_ids) == {f"Account:{target.id}", f"Account:{source.id}"}


@pytest.mark.asyncio
async def test_merging_contacts_moves_activities_and_keeps_an_opt_out(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    old_account = await make_account(database, tenant.id)
    new_account = await make_account(database, tenant.id)
    deal = await make_opportunity(database, tenant.id, account_id=old_account.id)
    source = await make_contact(
        database, tenant.id, account_id=old_account.id, email="dup@example.com"
    )
    target = await make_contact(database, tenant.id, account_id=new_account.id)
    async with database.session(tenant.id) as session:
        row = await session.get(Contact, (tenant.id, source.id))
        assert row is not None
        row.marketing_opt_out = True
    plain = await make_activity(
        database, tenant.id, account_id=old_account.id, contact_id=source.id
    )
    about_deal = await make_activity(
        database,
        tenant.id,
        account_id=old_account.id,
        contact_id=source.id,
        opportunity_id=deal.id,
    )

    body = await gql(
        client,
        MERGE_CONTACTS,
        {"source": gid("Contact", source), "target": gid("Contact", target)},
        headers=bearer(app.state.issuer, tenant.admin),
    )

    assert body["data"]["mergeContacts"] == {
        "contact": {
            "id": gid("Contact", target),
            "email": "dup@example.com",
            "marketingOptOut": True,
            "account": {"id": gid("Account", new_account)},
        },
        "errors": [],
    }
    async with database.session(tenant.id) as session:
        assert await session.get(Contact, (tenant.id, source.id)) is None
        moved = await session.get(Activity, (tenant.id, plain.id))
        kept = await session.get(Activity, (tenant.id, about_deal.id))
    assert moved is not None
    assert kept is not None
    assert (moved.contact_id, moved.account_id) == (target.id, new_account.id)
    assert (kept.contact_id, kept.account_id) == (target.id, old_account.id)
    entry = await last_audit(database, tenant)
    assert set(entry.object_ids) == {f"Contact:{target.id}", f"Contact:{source.id}"}


@pytest.mark.asyncio
async def test_merges_are_for_managers_and_refuse_bad_pairs(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant, other = await make_tenant(database), await make_tenant(database)
    account = await make_account(database, tenant.id)
    foreign = await make_account(database, other.id)
    admin = bearer(app.state.issuer, tenant.admin)
    employee = bearer(app.state.issuer, await make_user(database, tenant.id))

    forbidden = await gql(
        client,
        MERGE_ACCOUNTS,
        {"source": gid("Account", account), "target": gid("Account", account)},
        headers=employee,
    )
    assert error_codes(forbidden) == ["FORBIDDEN"]
    itself = await gql(
        client,
        MERGE_ACCOUNTS,
        {"source": gid("Account", account), "target": gid("Account", account)},
        headers=admin,
    )
    assert itself["data"]["mergeAccounts"]["errors"][0]["code"] == "INVALID"
    cross = await gql(
        client,
        MERGE_ACCOUNTS,
        {"source": gid("Account", foreign), "target": gid("Account", account)},
        headers=admin,
    )
    assert [(e["code"], e["field"]) for e in cross["data"]["mergeAccounts"]["errors"]] == [
        ("NOT_FOUND", "sourceId")
    ]
    still_there = await gql(
        client, NODE, {"id": gid("Account", foreign)}, headers=bearer(app.state.issuer, other.admin)
    )
    assert still_there["data"]["node"] == {"id": gid("Account", foreign)}
