"""Contacts over GraphQL: create with duplicate detection by email, marketing opt-out
with its time, update, delete, and the `contacts` list."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.principal import Role
from prm.crm.models import Contact
from prm.db.engine import Database
from tests.crm.factories import (
    CREATE_CONTACT,
    DELETE_CONTACT,
    UPDATE_CONTACT,
    gid,
    make_account,
    make_activity,
    make_contact,
)
from tests.factories import TenantWithAdmin, bearer, make_tenant, make_user
from tests.graphql.support import error_codes, gql

CONTACTS = """query ($filter: ContactFilter, $orderBy: ContactOrder) {
  contacts(filter: $filter, orderBy: $orderBy) { totalCount edges { node { lastName } } } }"""


async def contact_count(database: Database, tenant: TenantWithAdmin) -> int:
    async with database.session(tenant.id) as session:
        count = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.tenant_id == tenant.id)
        )
        return int(count or 0)


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = await gql(
        client,
        CREATE_CONTACT,
        {"input": {"firstName": "Grace", "lastName": "Hopper"} | fields},
        headers=headers,
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createContact"]
    return payload


@pytest.mark.asyncio
async def test_a_contact_is_created_at_an_account(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    payload = await create(
        client,
        bearer(app.state.issuer, tenant.admin),
        accountId=gid("Account", account),
        email=" Grace@Navy.example ",
        phone="+1 555 0100",
    )
    assert payload["errors"] == []
    contact = payload["contact"]
    assert contact["email"] == "Grace@Navy.example"
    assert contact["phone"] == "+1 555 0100"
    assert contact["marketingOptOut"] is False
    assert contact["optedOutAt"] is None
    assert contact["account"] == {"id": gid("Account", account)}


@pytest.mark.asyncio
async def test_a_contact_with_a_known_email_is_a_duplicate_unless_allowed(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    existing = await make_contact(database, tenant.id, email="ada@example.com")
    headers = bearer(app.state.issuer, tenant.admin)

    refused = await create(client, headers, email="ADA@Example.com")
    assert refused["contact"] is None
    [error] = refused["errors"]
    assert (error["code"], error["field"]) == ("DUPLICATE", "email")
    assert error["existingId"] == gid("Contact", existing)
    assert await contact_count(database, tenant) == 1

    allowed = await create(client, headers, email="ADA@Example.com", allowDuplicate=True)
    assert allowed["errors"] == []
    assert await contact_count(database, tenant) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"email": "not-an-email"}, "INVALID", "email"),
        ({"email": "a@b"}, "INVALID", "email"),
        ({"firstName": " "}, "INVALID", "firstName"),
        ({"lastName": ""}, "INVALID", "lastName"),
        ({"accountId": gid("Account", uuid.uuid4())}, "NOT_FOUND", "accountId"),
        ({"accountId": gid("Contact", uuid.uuid4())}, "NOT_FOUND", "accountId"),
    ],
)
async def test_bad_contact_input_is_a_typed_error_and_writes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    tenant = await make_tenant(database)
    payload = await create(client, bearer(app.state.issuer, tenant.admin), **fields)
    assert payload["contact"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await contact_count(database, tenant) == 0


@pytest.mark.asyncio
async def test_opting_out_records_when_and_opting_in_clears_it(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    contact = await make_contact(database, tenant.id)
    headers = bearer(app.state.issuer, tenant.admin)

    async def set_opt_out(value: bool) -> dict[str, Any]:
        body = await gql(
            client,
            UPDATE_CONTACT,
            {"id": gid("Contact", contact), "input": {"marketingOptOut": value}},
            headers=headers,
        )
        result: dict[str, Any] = body["data"]["updateContact"]["contact"]
        return result

    out = await set_opt_out(True)
    assert out["marketingOptOut"] is True
    assert out["optedOutAt"] is not None
    again = await set_opt_out(True)
    assert again["optedOutAt"] == out["optedOutAt"]
    back = await set_opt_out(False)
    assert back["marketingOptOut"] is False
    assert back["optedOutAt"] is None


@pytest.mark.asyncio
async def test_update_moves_a_contact_and_checks_its_email(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    contact = await make_contact(database, tenant.id, email="old@example.com")
    headers = bearer(app.state.issuer, tenant.admin)

    moved = await gql(
        client,
        UPDATE_CONTACT,
        {"id": gid("Contact", contact), "input": {"accountId": gid("Account", account)}},
        headers=headers,
    )
    assert moved["data"]["updateContact"]["contact"]["account"] == {"id": gid("Account", account)}
    bad = await gql(
        client,
        UPDATE_CONTACT,
        {"id": gid("Contact", contact), "input": {"email": "nope", "firstName": "Changed"}},
        headers=headers,
    )
    assert bad["data"]["updateContact"]["errors"][0]["field"] == "email"
    async with database.session(tenant.id) as session:
        row = await session.get(Contact, (tenant.id, contact.id))
        assert row is not None
        assert (row.email, row.first_name) == ("old@example.com", "Ada")


@pytest.mark.asyncio
async def test_deleting_a_contact_needs_a_manager_and_takes_its_activities(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    contact = await make_contact(database, tenant.id, account_id=account.id)
    activity = await make_activity(
        database, tenant.id, account_id=account.id, contact_id=contact.id
    )
    employee = bearer(app.state.issuer, await make_user(database, tenant.id))
    manager = bearer(app.state.issuer, await make_user(database, tenant.id, roles=(Role.MANAGER,)))

    forbidden = await gql(client, DELETE_CONTACT, {"id": gid("Contact", contact)}, headers=employee)
    assert error_codes(forbidden) == ["FORBIDDEN"]
    deleted = await gql(client, DELETE_CONTACT, {"id": gid("Contact", contact)}, headers=manager)
    assert deleted["data"]["deleteContact"]["errors"] == []
    again = await gql(client, DELETE_CONTACT, {"id": gid("Contact", contact)}, headers=manager)
    assert again["data"]["deleteContact"]["errors"][0]["code"] == "NOT_FOUND"
    gone = await gql(
        client,
        "query ($id: ID!) { node(id: $id) { id } }",
        {"id": gid("Activity", activity)},
        headers=manager,
    )
    assert gone["data"]["node"] is None


@pytest.mark.asyncio
async def test_contacts_filter_by_account_name_email_and_opt_out(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    await make_contact(database, tenant.id, account_id=account.id, last_name="Zeta")
    await make_contact(database, tenant.id, first_name="Linus", last_name="Yoshi")
    await make_contact(database, tenant.id, last_name="Xavier", email="x.files@example.com")
    headers = bearer(app.state.issuer, tenant.admin)
    opted = await make_contact(database, tenant.id, last_name="Walsh")
    await gql(
        client,
        UPDATE_CONTACT,
        {"id": gid("Contact", opted), "input": {"marketingOptOut": True}},
        headers=headers,
    )

    async def names(filter: dict[str, Any], order: dict[str, str] | None = None) -> list[str]:
        body = await gql(client, CONTACTS, {"filter": filter, "orderBy": order}, headers=headers)
        assert "errors" not in body, body
        return [edge["node"]["lastName"] for edge in body["data"]["contacts"]["edges"]]

    assert await names({"accountId": gid("Account", account)}) == ["Zeta"]
    assert await names({"search": "linus yo"}) == ["Yoshi"]
    assert await names({"search": "X.FILES"}) == ["Xavier"]
    assert await names({"optedOut": True}) == ["Walsh"]
    assert await names({}, {"field": "LAST_NAME"}) == ["Walsh", "Xavier", "Yoshi", "Zeta"]
