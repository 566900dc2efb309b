"""Capabilities that require a certification: a rule asking for such a capability routes
only to partners one of whose users holds the certification unexpired, for offers and
for pool claims alike; admins set and drop requirements, everyone in the tenant reads them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.employees.erm_models import TrainingRecord
from prm.graphql.relay import encode_global_id
from prm.leads.models import DistributionMode, LeadOffer
from prm.partners.models import CapabilityCertification, Partner
from prm.tenants.models import User
from tests.factories import TenantWithAdmin, bearer, make_tenant, make_user
from tests.graphql.support import error_codes, gql
from tests.leads.factories import make_lead, make_rule, make_territory_partner

SET = """mutation ($capability: String!, $certification: String) {
  setCapabilityCertification(capability: $capability, certification: $certification) {
    capabilityCertification { capability certification updatedAt } errors { code field } } }"""
LIST = "{ capabilityCertifications { capability certification } }"
POOL = "{ leadPool { edges { node { id } } } }"
CLAIM = """mutation ($id: ID!) { claimLead(id: $id) { lead { status } errors { code } } }"""

NOW = datetime.now(UTC)


async def certify(
    database: Database,
    tenant_id: uuid.UUID,
    partner: Partner,
    certification: str,
    *,
    expires_at: datetime | None = None,
) -> User:
    """A partner user holding `certification` (completed a year ago)."""
    user = await make_user(database, tenant_id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id)
    async with database.session(tenant_id) as session:
        session.add(
            TrainingRecord(
                tenant_id=tenant_id,
                user_id=user.id,
                partner_id=partner.id,
                course="Installer course",
                certification=certification,
                completed_at=NOW - timedelta(days=365),
                expires_at=expires_at,
            )
        )
    return user


async def require(
    client: httpx.AsyncClient, app: FastAPI, tenant: TenantWithAdmin, certification: str | None
) -> dict[str, object]:
    body = await gql(
        client,
        SET,
        {"capability": " Install ", "certification": certification},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    return body["data"]["setCapabilityCertification"]  # type: ignore[no-any-return]


async def offered_partners(database: Database, tenant_id: uuid.UUID) -> set[uuid.UUID]:
    async with database.session(tenant_id) as session:
        return set(await session.scalars(select(LeadOffer.partner_id)))


@pytest.mark.asyncio
async def test_offers_go_only_to_partners_holding_a_current_certification(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    set_body = await require(client, app, tenant, " INSTALLER ")
    assert set_body["errors"] == []
    assert set_body["capabilityCertification"] == {
        "capability": "install",
        "certification": "INSTALLER",
        "updatedAt": set_body["capabilityCertification"]["updatedAt"],  # type: ignore[index]
    }
    await make_rule(database, tenant.id, capabilities=["install"])
    uncertified = await make_territory_partner(database, tenant.id, capabilities=("install",))
    lapsed = await make_territory_partner(database, tenant.id, capabilities=("install",))
    await certify(database, tenant.id, lapsed, "INSTALLER", expires_at=NOW - timedelta(days=1))
    other_cert = await make_territory_partner(database, tenant.id, capabilities=("install",))
    await certify(database, tenant.id, other_cert, "SECURITY")
    certified = await make_territory_partner(database, tenant.id, capabilities=("install",))
    await certify(database, tenant.id, certified, "INSTALLER", expires_at=NOW + timedelta(days=30))

    for _ in range(4):  # round robin would reach all four if they were all eligible
        await make_lead(database, tenant.id)
    assert await offered_partners(database, tenant.id) == {certified.id}

    dropped = await require(client, app, tenant, None)
    assert dropped == {"capabilityCertification": None, "errors": []}
    for _ in range(4):
        await make_lead(database, tenant.id)
    assert await offered_partners(database, tenant.id) == {
        uncertified.id,
        lapsed.id,
        other_cert.id,
        certified.id,
    }


@pytest.mark.asyncio
async def test_pool_claims_need_the_certification_too(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await require(client, app, tenant, "INSTALLER")
    await make_rule(database, tenant.id, mode=DistributionMode.POOL, capabilities=["install"])
    uncertified = await make_territory_partner(database, tenant.id, capabilities=("install",))
    uncertified_user = await make_user(
        database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=uncertified.id
    )
    certified = await make_territory_partner(database, tenant.id, capabilities=("install",))
    certified_user = await certify(database, tenant.id, certified, "INSTALLER")
    lead = await make_lead(database, tenant.id)
    lead_id = encode_global_id("Lead", lead.id)

    def headers(user: User) -> dict[str, str]:
        return bearer(app.state.issuer, user)

    pools = [
        await gql(client, POOL, headers=headers(user))
        for user in (uncertified_user, certified_user)
    ]
    assert [len(body["data"]["leadPool"]["edges"]) for body in pools] == [0, 1]
    refused = await gql(client, CLAIM, {"id": lead_id}, headers=headers(uncertified_user))
    assert refused["data"]["claimLead"]["errors"] == [{"code": "NOT_ELIGIBLE"}]
    won = await gql(client, CLAIM, {"id": lead_id}, headers=headers(certified_user))
    assert won["data"]["claimLead"] == {"lead": {"status": "ACCEPTED"}, "errors": []}


@pytest.mark.asyncio
async def test_requirements_are_admin_only_validated_and_readable_by_partners(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    partner = await make_territory_partner(database, tenant.id)
    partner_admin = await make_user(
        database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id
    )
    admin = bearer(app.state.issuer, tenant.admin)
    await require(client, app, tenant, "INSTALLER")
    replaced = await require(client, app, tenant, "INSTALLER-2")
    assert replaced["capabilityCertification"]["certification"] == "INSTALLER-2"  # type: ignore[index]

    partner_call = await gql(
        client,
        SET,
        {"capability": "x", "certification": "Y"},
        headers=bearer(app.state.issuer, partner_admin),
    )
    assert error_codes(partner_call) == ["FORBIDDEN"]
    cases = [
        ({"capability": "  ", "certification": "Y"}, admin),
        ({"capability": "cloud", "certification": " "}, admin),
        ({"capability": "c" * 101, "certification": "Y"}, admin),
        ({"capability": "cloud", "certification": "Y" * 101}, admin),
    ]
    errors = []
    for variables, headers in cases:
        body = await gql(client, SET, variables, headers=headers)
        errors.append(body["data"]["setCapabilityCertification"]["errors"][0])
    assert errors == [
        {"code": "INVALID", "field": "capability"},
        {"code": "INVALID", "field": "certification"},
        {"code": "INVALID", "field": "capability"},
        {"code": "INVALID", "field": "certification"},
    ]

    expected = {"capability": "install", "certification": "INSTALLER-2"}
    for headers in (admin, bearer(app.state.issuer, partner_admin)):
        listed = await gql(client, LIST, headers=headers)
        assert listed["data"]["capabilityCertifications"] == [expected]
    foreign = await gql(client, LIST, headers=bearer(app.state.issuer, other.admin))
    assert foreign["data"]["capabilityCertifications"] == []
    async with database.session(tenant.id) as session:
        count = await session.scalar(select(func.count()).select_from(CapabilityCertification))
    assert count == 1
