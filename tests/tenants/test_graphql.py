"""The tenants API over GraphQL: `me`, `users`, user and API client management, tenant
settings and the audit log. Only admins manage; failed mutations write nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.passwords import hash_secret
from prm.auth.principal import Role
from prm.db.engine import Database
from prm.graphql.relay import encode_global_id
from prm.tenants import service
from prm.tenants.models import ApiClient, AuditEntry, Tenant, User
from tests.auth.helpers import client_credentials, sign_in
from tests.factories import (
    DEFAULT_PASSWORD,
    TenantWithAdmin,
    bearer,
    make_partner,
    make_tenant,
    make_user,
    unique,
)
from tests.graphql.support import error_codes, gql, post

INVITE = """mutation ($input: InviteUserInput!) {
  inviteUser(input: $input) {
    user { id email name roles active partner { id } }
    errors { code field message }
  }
}"""
DEACTIVATE = """mutation ($id: ID!) {
  deactivateUser(id: $id) { user { id active deactivatedAt } errors { code field } } }"""
CREATE_CLIENT = """mutation ($input: CreateApiClientInput!) {
  createApiClient(input: $input) {
    apiClient { id name clientId scopes revokedAt } clientId clientSecret
    errors { code field message }
  }
}"""
REVOKE_CLIENT = """mutation ($id: ID!) {
  revokeApiClient(id: $id) { apiClient { id revokedAt } clientSecret errors { code field } } }"""
UPDATE_SETTINGS = """mutation ($input: UpdateTenantSettingsInput!) {
  updateTenantSettings(input: $input) {
    tenant { name defaultCurrency offerSlaHours dealProtectionDays }
    errors { code field message }
  }
}"""
USERS = """query ($filter: UserFilter) {
  users(filter: $filter) { totalCount edges { node { email } } } }"""


async def audit_operations(database: Database, tenant: TenantWithAdmin) -> list[str]:
    async with database.session(tenant.id) as session:
        rows = await session.scalars(
            select(AuditEntry.operation)
            .where(AuditEntry.tenant_id == tenant.id)
            .order_by(AuditEntry.id)
        )
        return list(rows)


async def user_count(database: Database, tenant: TenantWithAdmin) -> int:
    async with database.session(tenant.id) as session:
        count = await session.scalar(
            select(func.count()).select_from(User).where(User.tenant_id == tenant.id)
        )
        return int(count or 0)


def invite_input(**fields: Any) -> dict[str, Any]:
    return {
        "email": f"{unique('new')}@example.com",
        "name": "New Person",
        "role": "EMPLOYEE",
    } | fields


# me ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_me_describes_a_tenant_user(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    body = await gql(
        client,
        """{ me { roles partner { id } apiClient { id }
                  tenant { slug name defaultCurrency offerSlaHours dealProtectionDays }
                  user { email name active } } }""",
        headers=bearer(app.state.issuer, tenant.admin),
    )
    assert body["data"]["me"] == {
        "roles": ["ADMIN"],
        "partner": None,
        "apiClient": None,
        "tenant": {
            "slug": tenant.tenant.slug,
            "name": "Test Tenant",
            "defaultCurrency": "USD",
            "offerSlaHours": 48,
            "dealProtectionDays": 90,
        },
        "user": {"email": tenant.admin.email, "name": "Administrator", "active": True},
    }


@pytest.mark.asyncio
async def test_me_describes_a_partner_user_and_its_partner(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_partner(database, tenant.id)
    rep = await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id)
    body = await gql(
        client,
        "{ me { roles user { email } partner { id name status postalPrefixes tier { name } } } }",
        headers=bearer(app.state.issuer, rep),
    )
    assert body["data"]["me"] == {
        "roles": ["PARTNER_REP"],
        "user": {"email": rep.email},
        "partner": {
            "id": encode_global_id("Partner", partner.id),
            "name": partner.name,
            "status": "ACTIVE",
            "postalPrefixes": [],
            "tier": None,
        },
    }


# users ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_admin_lists_and_filters_the_tenants_users(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_partner(database, tenant.id)
    rep = await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id)
    manager = await make_user(
        database, tenant.id, roles=(Role.MANAGER,), email=f"{unique('Zed_100%')}@example.com"
    )
    gone = await make_user(database, tenant.id, active=False)
    await make_user(database, (await make_tenant(database)).id)  # another tenant's
    headers = bearer(app.state.issuer, tenant.admin)

    async def emails(**filter: Any) -> list[str]:
        body = await gql(client, USERS, {"filter": filter}, headers=headers)
        assert "errors" not in body, body
        return [edge["node"]["email"] for edge in body["data"]["users"]["edges"]]

    assert sorted(await emails()) == sorted(
        [tenant.admin.email, rep.email, manager.email, gone.email]
    )
    assert await emails(role="MANAGER") == [manager.email]
    assert await emails(active=False) == [gone.email]
    assert await emails(partnerId=encode_global_id("Partner", partner.id)) == [rep.email]
    assert await emails(partnerId="garbage") == []
    assert await emails(search="ZED_100%") == [manager.email]
    assert await emails(search="_100%-nomatch") == []


@pytest.mark.asyncio
async def test_a_partner_admin_lists_only_its_organisations_users(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    mine, theirs = await make_partner(database, tenant.id), await make_partner(database, tenant.id)
    boss = await make_user(database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=mine.id)
    rep = await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=mine.id)
    await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=theirs.id)
    body = await gql(client, USERS, headers=bearer(app.state.issuer, boss))
    emails = sorted(edge["node"]["email"] for edge in body["data"]["users"]["edges"])
    assert emails == sorted([boss.email, rep.email])
    assert body["data"]["users"]["totalCount"] == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("role", [Role.MANAGER, Role.EMPLOYEE, Role.PARTNER_REP])
async def test_others_may_not_list_users(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: Role
) -> None:
    tenant = await make_tenant(database)
    partner_id = (await make_partner(database, tenant.id)).id if role == Role.PARTNER_REP else None
    user = await make_user(database, tenant.id, roles=(role,), partner_id=partner_id)
    body = await gql(client, USERS, headers=bearer(app.state.issuer, user))
    assert error_codes(body) == ["FORBIDDEN"]


# inviteUser ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_admin_invites_a_user_who_can_then_sign_in(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    email = f"{unique('Invited')}@Example.com"
    body = await gql(
        client,
        INVITE,
        {"input": invite_input(email=email, role="MANAGER", password=DEFAULT_PASSWORD)},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    payload = body["data"]["inviteUser"]
    assert payload["errors"] == []
    assert payload["user"]["email"] == email.lower()
    assert payload["user"]["roles"] == ["MANAGER"]
    signed_in = await sign_in(client, tenant=tenant.tenant.slug, email=email)
    assert signed_in.status_code == 200, signed_in.text
    assert await audit_operations(database, tenant) == ["inviteUser"]


@pytest.mark.asyncio
async def test_a_user_invited_without_a_password_cannot_sign_in(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    email = f"{unique('nopw')}@example.com"
    body = await gql(
        client,
        INVITE,
        {"input": invite_input(email=email)},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    assert body["data"]["inviteUser"]["errors"] == []
    refused = await sign_in(client, tenant=tenant.tenant.slug, email=email)
    assert refused.status_code == 400


@pytest.mark.asyncio
async def test_a_partner_user_is_invited_into_a_partner(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_partner(database, tenant.id)
    partner_id = encode_global_id("Partner", partner.id)
    body = await gql(
        client,
        INVITE,
        {"input": invite_input(role="PARTNER_ADMIN", partnerId=partner_id)},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    assert body["data"]["inviteUser"]["user"]["partner"] == {"id": partner_id}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        pytest.param({"email": "not-an-email"}, "INVALID", "email", id="bad email"),
        pytest.param({"name": "  "}, "INVALID", "name", id="blank name"),
        pytest.param({"password": "short"}, "INVALID", "password", id="weak password"),
        pytest.param(
            {"role": "PARTNER_REP"}, "INVALID", "partnerId", id="partner role, no partner"
        ),
        pytest.param(
            {"role": "PARTNER_REP", "partnerId": "garbage"}, "NOT_FOUND", "partnerId", id="bad id"
        ),
        pytest.param(
            {"role": "EMPLOYEE", "partnerId": "OWN"},
            "INVALID",
            "partnerId",
            id="tenant role in partner",
        ),
        pytest.param(
            {"role": "PARTNER_REP", "partnerId": "OTHER"},
            "NOT_FOUND",
            "partnerId",
            id="other tenants partner",
        ),
        pytest.param({"email": "ADMIN"}, "DUPLICATE", "email", id="email taken, any case"),
    ],
)
async def test_a_bad_invitation_is_refused_and_writes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    tenant = await make_tenant(database)
    own = await make_partner(database, tenant.id)
    other = await make_partner(database, (await make_tenant(database)).id)
    replacements = {
        "OWN": encode_global_id("Partner", own.id),
        "OTHER": encode_global_id("Partner", other.id),
        "ADMIN": tenant.admin.email.upper(),
    }
    fields = {key: replacements.get(value, value) for key, value in fields.items()}
    body = await gql(
        client,
        INVITE,
        {"input": invite_input(**fields)},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    payload = body["data"]["inviteUser"]
    assert payload["user"] is None
    assert [(error["code"], error["field"]) for error in payload["errors"]] == [(code, field)]
    assert await user_count(database, tenant) == 1
    assert await audit_operations(database, tenant) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("role", [Role.MANAGER, Role.EMPLOYEE])
async def test_only_an_admin_invites(
    client: httpx.AsyncClient, app: FastAPI, database: Database, role: Role
) -> None:
    tenant = await make_tenant(database)
    user = await make_user(database, tenant.id, roles=(role,))
    body = await gql(
        client, INVITE, {"input": invite_input()}, headers=bearer(app.state.issuer, user)
    )
    assert body["data"] is None
    assert error_codes(body) == ["FORBIDDEN"]
    assert await user_count(database, tenant) == 2
    assert await audit_operations(database, tenant) == []


@pytest.mark.asyncio
async def test_a_mutation_that_fails_midway_writes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The user row is flushed, then the resolver crashes: user and audit entry vanish."""
    real_invite = service.invite_user

    async def invite_then_crash(*args: Any, **kwargs: Any) -> User:
        await real_invite(*args, **kwargs)
        raise RuntimeError("crash after the insert")

    monkeypatch.setattr(service, "invite_user", invite_then_crash)
    tenant = await make_tenant(database)
    body = await gql(
        client, INVITE, {"input": invite_input()}, headers=bearer(app.state.issuer, tenant.admin)
    )
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert await user_count(database, tenant) == 1
    assert await audit_operations(database, tenant) == []


# deactivateUser ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_deactivated_user_loses_access_at_once(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    user = await make_user(database, tenant.id)
    their_headers = bearer(app.state.issuer, user)
    assert (await post(client, "{ me { roles } }", headers=their_headers)).status_code == 200

    body = await gql(
        client,
        DEACTIVATE,
        {"id": encode_global_id("User", user.id)},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    payload = body["data"]["deactivateUser"]
    assert payload["errors"] == []
    assert payload["user"]["active"] is False
    assert payload["user"]["deactivatedAt"] is not None
    assert (await post(client, "{ me { roles } }", headers=their_headers)).status_code == 401
    assert (await sign_in(client, tenant=tenant.tenant.slug, email=user.email)).status_code == 400
    assert await audit_operations(database, tenant) == ["deactivateUser"]


@pytest.mark.asyncio
async def test_deactivation_refusals(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant, other = await make_tenant(database), await make_tenant(database)
    headers = bearer(app.state.issuer, tenant.admin)

    async def codes(global_id: str) -> list[tuple[str, str]]:
        body = await gql(client, DEACTIVATE, {"id": global_id}, headers=headers)
        return [(e["code"], e["field"]) for e in body["data"]["deactivateUser"]["errors"]]

    assert await codes(encode_global_id("User", tenant.admin.id)) == [("INVALID", "id")]
    assert await codes(encode_global_id("User", other.admin.id)) == [("NOT_FOUND", "id")]
    assert await codes(encode_global_id("Partner", tenant.admin.id)) == [("NOT_FOUND", "id")]
    assert await codes("garbage") == [("NOT_FOUND", "id")]
    assert await audit_operations(database, tenant) == []

    employee = await make_user(database, tenant.id)
    body = await gql(
        client,
        DEACTIVATE,
        {"id": encode_global_id("User", tenant.admin.id)},
        headers=bearer(app.state.issuer, employee),
    )
    assert error_codes(body) == ["FORBIDDEN"]


# API clients ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_api_client_is_created_with_its_secret_shown_once(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = bearer(app.state.issuer, tenant.admin)
    body = await gql(
        client,
        CREATE_CLIENT,
        {"input": {"name": "CRM sync", "scopes": ["read", "manager"]}},
        headers=headers,
    )
    payload = body["data"]["createApiClient"]
    assert payload["errors"] == []
    assert payload["apiClient"]["scopes"] == ["manager", "read"]
    assert payload["clientId"] == payload["apiClient"]["clientId"]
    assert payload["clientId"].startswith(f"prm_{tenant.id.hex}_")
    secret = payload["clientSecret"]
    assert len(secret) >= 40

    async with database.session(tenant.id) as session:
        row = await session.scalar(select(ApiClient).where(ApiClient.tenant_id == tenant.id))
    assert row is not None
    assert row.secret_hash == hash_secret(secret)
    assert secret not in row.secret_hash
    assert row.created_by == tenant.admin.id

    token = await client_credentials(client, payload["clientId"], secret)
    assert token.status_code == 200, token.text
    as_client = {"Authorization": f"Bearer {token.json()['access_token']}"}
    me = await gql(client, "{ me { roles user { id } apiClient { name } } }", headers=as_client)
    assert me["data"]["me"] == {
        "roles": ["EMPLOYEE", "MANAGER"],
        "user": None,
        "apiClient": {"name": "CRM sync"},
    }
    listed = await gql(client, "{ apiClients { edges { node { name } } } }", headers=headers)
    assert listed["data"]["apiClients"]["edges"] == [{"node": {"name": "CRM sync"}}]
    assert "clientSecret" not in str(listed)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "field"),
    [({"scopes": []}, "scopes"), ({"scopes": ["root"]}, "scopes"), ({"name": " "}, "name")],
)
async def test_a_bad_api_client_is_refused(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    fields: dict[str, Any],
    field: str,
) -> None:
    tenant = await make_tenant(database)
    body = await gql(
        client,
        CREATE_CLIENT,
        {"input": {"name": "x", "scopes": ["read"]} | fields},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    payload = body["data"]["createApiClient"]
    assert payload["clientSecret"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", field)]
    assert await audit_operations(database, tenant) == []


@pytest.mark.asyncio
async def test_a_revoked_client_loses_access_at_once(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = bearer(app.state.issuer, tenant.admin)
    created = (
        await gql(
            client, CREATE_CLIENT, {"input": {"name": "bot", "scopes": ["read"]}}, headers=headers
        )
    )["data"]["createApiClient"]
    token = (await client_credentials(client, created["clientId"], created["clientSecret"])).json()
    as_client = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await post(client, "{ me { roles } }", headers=as_client)).status_code == 200

    body = await gql(client, REVOKE_CLIENT, {"id": created["apiClient"]["id"]}, headers=headers)
    payload = body["data"]["revokeApiClient"]
    assert payload["errors"] == []
    assert payload["apiClient"]["revokedAt"] is not None
    assert payload["clientSecret"] is None
    assert (await post(client, "{ me { roles } }", headers=as_client)).status_code == 401
    refused = await client_credentials(client, created["clientId"], created["clientSecret"])
    assert refused.status_code == 401
    assert await audit_operations(database, tenant) == ["createApiClient", "revokeApiClient"]


@pytest.mark.asyncio
async def test_only_an_admin_manages_api_clients(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    headers = bearer(app.state.issuer, manager)
    created = await gql(
        client, CREATE_CLIENT, {"input": {"name": "x", "scopes": ["read"]}}, headers=headers
    )
    revoked = await gql(
        client, REVOKE_CLIENT, {"id": encode_global_id("ApiClient", tenant.id)}, headers=headers
    )
    listed = await gql(client, "{ apiClients { totalCount } }", headers=headers)
    assert error_codes(created) == error_codes(revoked) == error_codes(listed) == ["FORBIDDEN"]


# updateTenantSettings ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_admin_updates_the_tenant_settings(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    body = await gql(
        client,
        UPDATE_SETTINGS,
        {"input": {"name": " Acme EU ", "defaultCurrency": "eur", "offerSlaHours": 24}},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    assert body["data"]["updateTenantSettings"] == {
        "tenant": {
            "name": "Acme EU",
            "defaultCurrency": "EUR",
            "offerSlaHours": 24,
            "dealProtectionDays": 90,
        },
        "errors": [],
    }
    async with database.session(tenant.id) as session:
        stored = await session.get(Tenant, tenant.id)
    assert stored is not None
    assert (stored.name, stored.default_currency, stored.offer_sla_hours) == ("Acme EU", "EUR", 24)


@pytest.mark.asyncio
async def test_one_bad_setting_writes_none_of_them(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    body = await gql(
        client,
        UPDATE_SETTINGS,
        {"input": {"name": "Renamed", "defaultCurrency": "EUR", "dealProtectionDays": 0}},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    payload = body["data"]["updateTenantSettings"]
    assert payload["tenant"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID", "dealProtectionDays")
    ]
    async with database.session(tenant.id) as session:
        stored = await session.get(Tenant, tenant.id)
    assert stored is not None
    assert (stored.name, stored.default_currency, stored.deal_protection_days) == (
        "Test Tenant",
        "USD",
        90,
    )
    assert await audit_operations(database, tenant) == []


@pytest.mark.asyncio
async def test_only_an_admin_updates_settings(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    body = await gql(
        client,
        UPDATE_SETTINGS,
        {"input": {"name": "Mine now"}},
        headers=bearer(app.state.issuer, manager),
    )
    assert error_codes(body) == ["FORBIDDEN"]


# auditLog ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_audit_log_lists_successful_mutations_newest_first(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = {**bearer(app.state.issuer, tenant.admin), "X-Request-ID": "audit-req-1"}
    invited = (await gql(client, INVITE, {"input": invite_input()}, headers=headers))["data"]
    await gql(client, UPDATE_SETTINGS, {"input": {"offerSlaHours": 0}}, headers=headers)  # fails
    await gql(client, UPDATE_SETTINGS, {"input": {"offerSlaHours": 12}}, headers=headers)

    body = await gql(
        client,
        """{ auditLog(first: 10) { totalCount edges { node {
              operation principalKind principalId objectIds requestId at user { email } } } } }""",
        headers=headers,
    )
    log = body["data"]["auditLog"]
    assert log["totalCount"] == 2
    newest, oldest = (edge["node"] for edge in log["edges"])
    assert newest["operation"] == "updateTenantSettings"
    assert newest["objectIds"] == [encode_global_id("Tenant", tenant.id)]
    assert oldest["operation"] == "inviteUser"
    assert oldest["objectIds"] == [invited["inviteUser"]["user"]["id"]]
    assert oldest["principalKind"] == "user"
    assert oldest["principalId"] == encode_global_id("User", tenant.admin.id)
    assert oldest["user"] == {"email": tenant.admin.email}
    assert oldest["requestId"] == "audit-req-1"


@pytest.mark.asyncio
async def test_only_an_admin_reads_the_audit_log(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    body = await gql(
        client, "{ auditLog { totalCount } }", headers=bearer(app.state.issuer, manager)
    )
    assert error_codes(body) == ["FORBIDDEN"]
