"""A partner admin manages its own organisation's users, and nothing beyond: it invites
partner users into its organisation, deactivates them, and lists them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.tenants.models import User
from tests.factories import make_partner, make_tenant, make_user, unique
from tests.partners.support import Caller, audit_operations, gid, make_cast

INVITE = """mutation ($input: InviteUserInput!) {
  inviteUser(input: $input) {
    user { id email roles partner { id } } errors { code field message } } }"""
DEACTIVATE = """mutation ($id: ID!) {
  deactivateUser(id: $id) { user { id active } errors { code field } } }"""
USERS = "{ users { totalCount edges { node { email } } } }"


def invite(**fields: Any) -> dict[str, Any]:
    return {"email": f"{unique('new')}@example.com", "name": "New", "role": "PARTNER_REP"} | fields


async def users_of(database: Database, tenant_id: Any, partner_id: Any) -> int:
    async with database.session(tenant_id) as session:
        count = await session.scalar(
            select(func.count()).select_from(User).where(User.partner_id == partner_id)
        )
        return int(count or 0)


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["PARTNER_REP", "PARTNER_ADMIN"])
async def test_a_partner_admin_invites_into_its_own_organisation_by_default(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: str
) -> None:
    cast = await make_cast(database)
    caller = Caller(client, app, cast.partner_admin)
    implicit = (await caller(INVITE, input=invite(role=role)))["data"]["inviteUser"]
    explicit = (
        await caller(INVITE, input=invite(role=role, partnerId=gid("Partner", cast.partner)))
    )["data"]["inviteUser"]
    for payload in (implicit, explicit):
        assert payload["errors"] == []
        assert payload["user"]["roles"] == [role]
        assert payload["user"]["partner"] == {"id": gid("Partner", cast.partner)}
    assert await users_of(database, cast.tenant.id, cast.partner.id) == 4
    assert await audit_operations(database, cast.tenant) == ["inviteUser", "inviteUser"]


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["ADMIN", "MANAGER", "EMPLOYEE"])
async def test_a_partner_admin_may_not_invite_tenant_staff(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: str
) -> None:
    cast = await make_cast(database)
    body = await Caller(client, app, cast.partner_admin)(INVITE, input=invite(role=role))
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert await audit_operations(database, cast.tenant) == []


@pytest.mark.asyncio
async def test_a_partner_admin_may_not_invite_into_another_organisation(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    other = await make_partner(database, cast.tenant.id)
    elsewhere = await make_tenant(database)
    foreign = await make_partner(database, elsewhere.id)
    caller = Caller(client, app, cast.partner_admin)
    for partner in (other, foreign):
        payload = (await caller(INVITE, input=invite(partnerId=gid("Partner", partner))))["data"][
            "inviteUser"
        ]
        assert payload["user"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "partnerId")]
    assert await users_of(database, cast.tenant.id, other.id) == 0
    assert await audit_operations(database, cast.tenant) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["partner_rep", "manager", "employee"])
async def test_others_may_not_invite_or_deactivate(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: str
) -> None:
    cast = await make_cast(database)
    caller = Caller(client, app, cast.user(role))
    invited = await caller(INVITE, input=invite(partnerId=gid("Partner", cast.partner)))
    deactivated = await caller(DEACTIVATE, id=gid("User", cast.partner_rep))
    for body in (invited, deactivated):
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert await audit_operations(database, cast.tenant) == []


@pytest.mark.asyncio
async def test_a_partner_admin_deactivates_only_its_own_organisations_users(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    other = await make_partner(database, cast.tenant.id)
    outsider = await make_user(
        database, cast.tenant.id, roles=(Role.PARTNER_REP,), partner_id=other.id
    )
    caller = Caller(client, app, cast.partner_admin)

    async def codes(user: User) -> list[tuple[str, str | None]]:
        payload = (await caller(DEACTIVATE, id=gid("User", user)))["data"]["deactivateUser"]
        return [(e["code"], e["field"]) for e in payload["errors"]]

    assert await codes(outsider) == [("NOT_FOUND", "id")]
    assert await codes(cast.admin) == [("NOT_FOUND", "id")]
    assert await codes(cast.manager) == [("NOT_FOUND", "id")]
    assert await codes(cast.partner_admin) == [("INVALID", "id")]  # not itself
    assert await audit_operations(database, cast.tenant) == []

    done = (await caller(DEACTIVATE, id=gid("User", cast.partner_rep)))["data"]["deactivateUser"]
    assert done == {"user": {"id": gid("User", cast.partner_rep), "active": False}, "errors": []}
    assert await audit_operations(database, cast.tenant) == ["deactivateUser"]


@pytest.mark.asyncio
async def test_a_partner_admin_lists_only_its_organisations_users(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    other = await make_partner(database, cast.tenant.id)
    await make_user(database, cast.tenant.id, roles=(Role.PARTNER_REP,), partner_id=other.id)
    body = await Caller(client, app, cast.partner_admin)(USERS)
    emails = sorted(edge["node"]["email"] for edge in body["data"]["users"]["edges"])
    assert emails == sorted([cast.partner_admin.email, cast.partner_rep.email])
    assert body["data"]["users"]["totalCount"] == 2
    # the other organisation's users are invisible as nodes too
    caller = Caller(client, app, cast.partner_admin)
    node = await caller("query ($id: ID!) { node(id: $id) { id } }", id=gid("User", cast.manager))
    assert node["data"]["node"] is None
