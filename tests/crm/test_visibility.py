"""Who sees and changes which CRM records. Tenant staff see all of their tenant's; a
partner user only what is linked to its partner (accounts and deals by their partner,
contacts through their account, activities through their deal or else their account).
Anything else is null / absent / NOT_FOUND, never FORBIDDEN; deleting and merging are
FORBIDDEN operations to everyone but admins and managers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from prm.auth.principal import Role
from prm.db.engine import Database
from tests.crm.factories import (
    CREATE_ACCOUNT,
    CREATE_CONTACT,
    CREATE_OPPORTUNITY,
    DELETE_ACCOUNT,
    MERGE_CONTACTS,
    RECORD_ACTIVITY,
    UPDATE_ACCOUNT,
    UPDATE_OPPORTUNITY,
    edge_ids,
    gid,
    make_account,
    make_activity,
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

LISTS = """{
  accounts { edges { node { id } } }
  contacts { edges { node { id } } }
  opportunities { edges { node { id } } }
  activities { edges { node { id } } }
}"""
NODES = """query ($ids: [ID!]!) { nodes(ids: $ids) { id } }"""


@dataclass
class World:
    tenant: TenantWithAdmin
    partner: uuid.UUID
    other_partner: uuid.UUID
    visible: dict[str, list[str]]
    """Global ids a user of `partner` sees, by list name."""
    hidden: dict[str, list[str]]
    """Global ids only staff see, by list name."""
    ids: dict[str, str]


async def build_world(database: Database) -> World:
    tenant = await make_tenant(database)
    own = await make_partner(database, tenant.id)
    other = await make_partner(database, tenant.id)
    owner = await make_employee(database, tenant.id)
    account = await make_account(
        database, tenant.id, name="Partner Co", partner_id=own.id, owner_id=owner.id
    )
    their_account = await make_account(database, tenant.id, partner_id=other.id)
    direct_account = await make_account(database, tenant.id, name="Direct Co")
    contact = await make_contact(database, tenant.id, account_id=account.id)
    direct_contact = await make_contact(database, tenant.id, account_id=direct_account.id)
    loose_contact = await make_contact(database, tenant.id)
    deal = await make_opportunity(
        database, tenant.id, account_id=account.id, partner_id=own.id, amount="300"
    )
    direct_deal = await make_opportunity(database, tenant.id, account_id=account.id, amount="999")
    their_deal = await make_opportunity(
        database, tenant.id, account_id=their_account.id, partner_id=other.id
    )
    on_account = await make_activity(database, tenant.id, account_id=account.id)
    on_deal = await make_activity(
        database, tenant.id, account_id=account.id, opportunity_id=deal.id
    )
    on_direct_deal = await make_activity(
        database, tenant.id, account_id=account.id, opportunity_id=direct_deal.id
    )
    on_direct_account = await make_activity(
        database, tenant.id, account_id=direct_account.id, contact_id=direct_contact.id
    )
    return World(
        tenant=tenant,
        partner=own.id,
        other_partner=other.id,
        visible={
            "accounts": [gid("Account", account)],
            "contacts": [gid("Contact", contact)],
            "opportunities": [gid("Opportunity", deal)],
            "activities": [gid("Activity", on_account), gid("Activity", on_deal)],
        },
        hidden={
            "accounts": [gid("Account", their_account), gid("Account", direct_account)],
            "contacts": [gid("Contact", direct_contact), gid("Contact", loose_contact)],
            "opportunities": [gid("Opportunity", direct_deal), gid("Opportunity", their_deal)],
            "activities": [gid("Activity", on_direct_deal), gid("Activity", on_direct_account)],
        },
        ids={
            "account": gid("Account", account),
            "their_account": gid("Account", their_account),
            "direct_account": gid("Account", direct_account),
            "contact": gid("Contact", contact),
            "direct_contact": gid("Contact", direct_contact),
            "deal": gid("Opportunity", deal),
            "direct_deal": gid("Opportunity", direct_deal),
            "their_partner": gid("Partner", other.id),
        },
    )


async def headers_for(app: FastAPI, database: Database, world: World, role: Role) -> dict[str, str]:
    partner = world.partner if role in (Role.PARTNER_ADMIN, Role.PARTNER_REP) else None
    user = await make_user(database, world.tenant.id, roles=(role,), partner_id=partner)
    return bearer(app.state.issuer, user)


async def seen(
    client: httpx.AsyncClient, headers: dict[str, str], world: World
) -> tuple[dict[str, set[str]], set[str]]:
    """What the lists show, and which of all the world's ids `nodes` resolves."""
    lists = await gql(client, LISTS, headers=headers)
    assert "errors" not in lists, lists
    every = [gid_ for ids in (*world.visible.values(), *world.hidden.values()) for gid_ in ids]
    nodes = await gql(client, NODES, {"ids": every}, headers=headers)
    assert "errors" not in nodes, nodes
    return (
        {name: set(edge_ids(connection)) for name, connection in lists["data"].items()},
        {node["id"] for node in nodes["data"]["nodes"] if node},
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.EMPLOYEE])
async def test_tenant_staff_see_every_record(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: Role
) -> None:
    world = await build_world(database)
    lists, nodes = await seen(client, await headers_for(app, database, world, role), world)
    for name in world.visible:
        assert lists[name] == {*world.visible[name], *world.hidden[name]}
    assert nodes == {gid_ for name in lists for gid_ in lists[name]}


@pytest.mark.asyncio
@pytest.mark.parametrize("role", [Role.PARTNER_ADMIN, Role.PARTNER_REP])
async def test_partner_users_see_only_their_partners_records(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: Role
) -> None:
    world = await build_world(database)
    lists, nodes = await seen(client, await headers_for(app, database, world, role), world)
    for name in world.visible:
        assert lists[name] == set(world.visible[name]), name
    assert nodes == {gid_ for ids in world.visible.values() for gid_ in ids}


@pytest.mark.asyncio
async def test_a_partner_users_360_view_leaves_out_what_is_not_theirs(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await build_world(database)
    headers = await headers_for(app, database, world, Role.PARTNER_REP)
    body = await gql(
        client,
        """query ($id: ID!) { node(id: $id) { ... on Account {
            owner { name } partner { id } openPipeline { amount }
            contacts { edges { node { id } } }
            opportunities { edges { node { id account { id } } } }
            activities { totalCount edges { node { id } } } } } }""",
        {"id": world.ids["account"]},
        headers=headers,
    )
    assert "errors" not in body, body
    view = body["data"]["node"]
    assert view["owner"] is None  # employees are tenant staff's business
    assert view["partner"] == {"id": gid("Partner", world.partner)}
    assert view["openPipeline"] == [{"amount": "300.00"}]
    assert edge_ids(view["contacts"]) == world.visible["contacts"]
    assert edge_ids(view["opportunities"]) == world.visible["opportunities"]
    assert view["activities"]["totalCount"] == 2


@pytest.mark.asyncio
async def test_partner_users_create_for_their_own_partner_only(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await build_world(database)
    headers = await headers_for(app, database, world, Role.PARTNER_REP)

    async def errors(query: str, variables: dict[str, Any], name: str) -> list[tuple[str, str]]:
        body = await gql(client, query, variables, headers=headers)
        assert "errors" not in body, body
        return [(e["code"], e["field"]) for e in body["data"][name]["errors"]]

    created = await gql(client, CREATE_ACCOUNT, {"input": {"name": "Direct Co"}}, headers=headers)
    # Not a duplicate: the tenant's "Direct Co" is not the partner's to see (or to learn of).
    account = created["data"]["createAccount"]["account"]
    assert account["partner"]["id"] == gid("Partner", world.partner)

    assert await errors(
        CREATE_ACCOUNT,
        {"input": {"name": "Elsewhere", "partnerId": world.ids["their_partner"]}},
        "createAccount",
    ) == [("NOT_FOUND", "partnerId")]
    assert await errors(
        CREATE_OPPORTUNITY,
        {"input": {"accountId": world.ids["their_account"], "name": "Poach"}},
        "createOpportunity",
    ) == [("NOT_FOUND", "accountId")]
    assert await errors(
        UPDATE_ACCOUNT,
        {"id": world.ids["direct_account"], "input": {"name": "Mine"}},
        "updateAccount",
    ) == [("NOT_FOUND", "id")]
    assert await errors(
        UPDATE_OPPORTUNITY,
        {"id": world.ids["direct_deal"], "input": {"name": "Mine"}},
        "updateOpportunity",
    ) == [("NOT_FOUND", "id")]
    assert await errors(
        CREATE_CONTACT, {"input": {"firstName": "No", "lastName": "Account"}}, "createContact"
    ) == [("INVALID", "accountId")]
    assert await errors(
        RECORD_ACTIVITY,
        {
            "input": {
                "contactId": world.ids["direct_contact"],
                "channel": "EMAIL",
                "direction": "OUTBOUND",
                "summary": "hi",
            }
        },
        "recordActivity",
    ) == [("NOT_FOUND", "contactId")]

    deal = await gql(
        client,
        CREATE_OPPORTUNITY,
        {"input": {"accountId": world.ids["account"], "name": "Ours"}},
        headers=headers,
    )
    assert deal["data"]["createOpportunity"]["opportunity"]["partner"] == {
        "id": gid("Partner", world.partner)
    }
    note = await gql(
        client,
        RECORD_ACTIVITY,
        {
            "input": {
                "contactId": world.ids["contact"],
                "channel": "CHAT",
                "direction": "INBOUND",
                "summary": "asked for a quote",
            }
        },
        headers=headers,
    )
    assert note["data"]["recordActivity"]["activity"]["account"] == {"id": world.ids["account"]}


@pytest.mark.asyncio
@pytest.mark.parametrize("role", [Role.EMPLOYEE, Role.PARTNER_ADMIN, Role.PARTNER_REP])
async def test_only_admins_and_managers_delete_or_merge(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: Role
) -> None:
    world = await build_world(database)
    headers = await headers_for(app, database, world, role)
    deleted = await gql(client, DELETE_ACCOUNT, {"id": world.ids["account"]}, headers=headers)
    merged = await gql(
        client,
        MERGE_CONTACTS,
        {"source": world.ids["contact"], "target": world.ids["direct_contact"]},
        headers=headers,
    )
    assert error_codes(deleted) == ["FORBIDDEN"]
    assert error_codes(merged) == ["FORBIDDEN"]


@pytest.mark.asyncio
async def test_another_tenants_records_are_invisible_to_everyone(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await build_world(database)
    outsider = await make_tenant(database)
    lists, nodes = await seen(client, bearer(app.state.issuer, outsider.admin), world)
    assert lists == {name: set() for name in world.visible}
    assert nodes == set()
