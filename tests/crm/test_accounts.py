"""Accounts over GraphQL: create with duplicate detection, update, delete, and the
`accounts` list with its filters, ordering and pages. Bad input writes nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.principal import Role
from prm.crm.accounts import normalise_account_name, normalise_domain
from prm.crm.models import Account, Contact, OpportunityStage
from prm.db.engine import Database
from prm.errors import InvalidInput
from tests.crm.factories import (
    CREATE_ACCOUNT,
    DELETE_ACCOUNT,
    UPDATE_ACCOUNT,
    edge_ids,
    gid,
    make_account,
    make_contact,
    make_opportunity,
)
from tests.factories import (
    TenantWithAdmin,
    bearer,
    make_employee,
    make_partner,
    make_tenant,
    make_user,
)
from tests.graphql.support import error_codes, gql

ACCOUNTS = """query ($first: Int, $after: String, $filter: AccountFilter, $orderBy: AccountOrder) {
  accounts(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount edges { node { id name } } pageInfo { hasNextPage endCursor }
  }
}"""


async def account_count(database: Database, tenant: TenantWithAdmin) -> int:
    async with database.session(tenant.id) as session:
        count = await session.scalar(
            select(func.count()).select_from(Account).where(Account.tenant_id == tenant.id)
        )
        return int(count or 0)


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = await gql(client, CREATE_ACCOUNT, {"input": fields}, headers=headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createAccount"]
    return payload


def test_names_normalise_to_the_company_not_its_legal_form() -> None:
    assert normalise_account_name("Acme, Inc.") == "acme"
    assert normalise_account_name("ACME   inc") == "acme"
    assert normalise_account_name("Müller GmbH") == "muller"
    assert normalise_account_name("Globex Holdings Co., Ltd.") == "globex holdings"
    assert normalise_account_name("Inc.") == "inc"
    assert normalise_domain("https://www.Acme.com/about") == "acme.com"
    with pytest.raises(InvalidInput):
        normalise_domain("not a domain")


@pytest.mark.asyncio
async def test_an_employee_creates_an_account_with_owner_and_partner(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    owner = await make_employee(database, tenant.id, name="Olive Owner")
    partner = await make_partner(database, tenant.id)
    employee = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))

    payload = await create(
        client,
        bearer(app.state.issuer, employee),
        name="  Initech  ",
        domain="https://www.initech.example/",
        industry="Software",
        country="us",
        region="CA",
        ownerId=gid("Employee", owner),
        partnerId=gid("Partner", partner),
    )

    assert payload["errors"] == []
    account = payload["account"]
    assert account["name"] == "Initech"
    assert account["domain"] == "initech.example"
    assert account["country"] == "US"
    assert account["owner"] == {"name": "Olive Owner"}
    assert account["partner"]["id"] == gid("Partner", partner)


@pytest.mark.asyncio
async def test_a_duplicate_account_is_reported_with_the_existing_id(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    existing = await make_account(database, tenant.id, name="Acme, Inc.", domain="acme.example")
    headers = bearer(app.state.issuer, tenant.admin)

    by_name = await create(client, headers, name="ACME Corp")
    by_domain = await create(client, headers, name="Totally Different", domain="www.acme.example")

    for payload, field in ((by_name, "name"), (by_domain, "domain")):
        assert payload["account"] is None
        [error] = payload["errors"]
        assert error["code"] == "DUPLICATE"
        assert error["field"] == field
        assert error["existingId"] == gid("Account", existing)
        assert gid("Account", existing) in error["message"]
    assert await account_count(database, tenant) == 1

    allowed = await create(client, headers, name="ACME Corp", allowDuplicate=True)
    assert allowed["errors"] == []
    assert await account_count(database, tenant) == 2


@pytest.mark.asyncio
async def test_racing_creates_of_one_company_make_one_account(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = bearer(app.state.issuer, tenant.admin)

    payloads = await asyncio.gather(
        *(
            create(client, headers, name=f"Racing Widgets {suffix}")
            for suffix in ("Inc.", "LLC", "Ltd", "GmbH", "Corp", "Co.")
        )
    )

    created = [p for p in payloads if not p["errors"]]
    refused = [p["errors"][0]["code"] for p in payloads if p["errors"]]
    assert len(created) == 1
    assert refused == ["DUPLICATE"] * 5
    assert await account_count(database, tenant) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"name": "   "}, "INVALID", "name"),
        ({"name": "x" * 201}, "INVALID", "name"),
        ({"name": "Ok", "country": "XX"}, "INVALID", "country"),
        ({"name": "Ok", "domain": "no domain here"}, "INVALID", "domain"),
        ({"name": "Ok", "ownerId": "garbage"}, "NOT_FOUND", "ownerId"),
        ({"name": "Ok", "ownerId": gid("Partner", uuid.uuid4())}, "NOT_FOUND", "ownerId"),
        ({"name": "Ok", "partnerId": gid("Partner", uuid.uuid4())}, "NOT_FOUND", "partnerId"),
    ],
)
async def test_bad_account_input_is_a_typed_error_and_writes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    tenant = await make_tenant(database)
    payload = await create(client, bearer(app.state.issuer, tenant.admin), **fields)
    assert payload["account"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await account_count(database, tenant) == 0


@pytest.mark.asyncio
async def test_references_into_another_tenant_are_not_found(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant, other = await make_tenant(database), await make_tenant(database)
    their_owner = await make_employee(database, other.id)
    their_partner = await make_partner(database, other.id)
    their_account = await make_account(database, other.id)
    headers = bearer(app.state.issuer, tenant.admin)

    owner = await create(client, headers, name="A", ownerId=gid("Employee", their_owner))
    partner = await create(client, headers, name="B", partnerId=gid("Partner", their_partner))
    update = await gql(
        client,
        UPDATE_ACCOUNT,
        {"id": gid("Account", their_account), "input": {"name": "Mine now"}},
        headers=headers,
    )

    assert owner["errors"][0]["code"] == "NOT_FOUND"
    assert partner["errors"][0]["code"] == "NOT_FOUND"
    assert update["data"]["updateAccount"]["errors"][0]["code"] == "NOT_FOUND"
    assert await account_count(database, tenant) == 0
    async with database.session(other.id) as session:
        assert (await session.get(Account, (other.id, their_account.id))).name == their_account.name  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_update_changes_only_the_given_fields(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    owner = await make_employee(database, tenant.id, name="New Owner")
    account = await make_account(database, tenant.id, name="Old Name", country="DE")

    body = await gql(
        client,
        UPDATE_ACCOUNT,
        {
            "id": gid("Account", account),
            "input": {"name": "New Name", "ownerId": gid("Employee", owner)},
        },
        headers=bearer(app.state.issuer, tenant.admin),
    )

    payload = body["data"]["updateAccount"]
    assert payload["errors"] == []
    assert payload["account"]["name"] == "New Name"
    assert payload["account"]["country"] == "DE"
    assert payload["account"]["owner"] == {"name": "New Owner"}
    async with database.session(tenant.id) as session:
        row = await session.get(Account, (tenant.id, account.id))
        assert row is not None
        assert row.normalized_name == "new name"


@pytest.mark.asyncio
async def test_only_admins_and_managers_delete_and_deals_block_it(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    employee = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    account = await make_account(database, tenant.id)
    contact = await make_contact(database, tenant.id, account_id=account.id)
    with_deal = await make_account(database, tenant.id)
    await make_opportunity(
        database, tenant.id, account_id=with_deal.id, stage=OpportunityStage.CLOSED_WON
    )

    forbidden = await gql(
        client,
        DELETE_ACCOUNT,
        {"id": gid("Account", account)},
        headers=bearer(app.state.issuer, employee),
    )
    assert error_codes(forbidden) == ["FORBIDDEN"]

    manager_headers = bearer(app.state.issuer, manager)
    blocked = await gql(
        client, DELETE_ACCOUNT, {"id": gid("Account", with_deal)}, headers=manager_headers
    )
    assert blocked["data"]["deleteAccount"]["errors"][0]["code"] == "CONFLICT"

    deleted = await gql(
        client, DELETE_ACCOUNT, {"id": gid("Account", account)}, headers=manager_headers
    )
    assert deleted["data"]["deleteAccount"] == {
        "account": {"id": gid("Account", account), "name": account.name},
        "errors": [],
    }
    assert await account_count(database, tenant) == 1
    async with database.session(tenant.id) as session:
        orphan = await session.get(Contact, (tenant.id, contact.id))
        assert orphan is not None
        assert orphan.account_id is None


@pytest.mark.asyncio
async def test_accounts_filter_by_owner_partner_place_industry_and_name(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    owner = await make_employee(database, tenant.id)
    partner = await make_partner(database, tenant.id)
    owned = await make_account(database, tenant.id, name="Owned Widgets", owner_id=owner.id)
    partnered = await make_account(database, tenant.id, name="Partnered", partner_id=partner.id)
    german = await make_account(database, tenant.id, name="Bayer Werke", country="DE")
    bank = await make_account(database, tenant.id, name="Big Bank", industry="Finance")
    headers = bearer(app.state.issuer, tenant.admin)

    async def names(filter: dict[str, Any]) -> set[str]:
        body = await gql(client, ACCOUNTS, {"filter": filter}, headers=headers)
        assert "errors" not in body, body
        return {edge["node"]["name"] for edge in body["data"]["accounts"]["edges"]}

    assert await names({"ownerId": gid("Employee", owner)}) == {owned.name}
    assert await names({"partnerId": gid("Partner", partner)}) == {partnered.name}
    assert await names({"country": "de"}) == {german.name}
    assert await names({"industry": "Finance"}) == {bank.name}
    assert await names({"search": "widg"}) == {owned.name}
    assert await names({"search": "%"}) == set()
    assert await names({"ownerId": "garbage"}) == set()


@pytest.mark.asyncio
async def test_accounts_page_by_name_without_gaps_or_repeats(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    for name in ("delta", "alpha", "echo", "charlie", "bravo"):
        await make_account(database, tenant.id, name=name)
    headers = bearer(app.state.issuer, tenant.admin)
    seen: list[str] = []
    after = None
    while True:
        body = await gql(
            client,
            ACCOUNTS,
            {"first": 2, "after": after, "orderBy": {"field": "NAME", "direction": "DESC"}},
            headers=headers,
        )
        page = body["data"]["accounts"]
        assert page["totalCount"] == 5
        seen += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["echo", "delta", "charlie", "bravo", "alpha"]
    assert len(edge_ids(page)) == 1
