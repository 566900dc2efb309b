"""Partner notifications: a partner user reads its own organisation's, newest first, and
marks them read; tenant staff read every partner's; other organisations' ids are skipped."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.graphql.relay import encode_global_id
from prm.partners.notifications import notify
from tests.factories import bearer, make_partner, make_tenant, make_user
from tests.graphql.support import error_codes, gql

INBOX = """query ($unread: Boolean!, $partnerId: ID, $first: Int, $after: String) {
  partnerNotifications(unreadOnly: $unread, partnerId: $partnerId, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id kind message data readAt partner { id } } } } }"""
MARK = """mutation ($ids: [ID!]!) { markNotificationsRead(ids: $ids) { marked errors { code field } } }"""


async def send(
    database: Database, tenant_id: uuid.UUID, partner_id: uuid.UUID, count: int, kind: str
) -> list[str]:
    """`count` notifications to the partner, oldest first; returns their global ids."""
    ids = []
    for n in range(count):
        async with database.session(tenant_id) as session:
            row = await notify(
                session, tenant_id, partner_id, kind, f"{kind} #{n}", {"n": n, "ref": partner_id}
            )
            ids.append(encode_global_id("PartnerNotification", row.id))
    return ids


@pytest.mark.asyncio
async def test_a_partner_reads_its_own_newest_first_and_marks_them_read(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    ours = await make_partner(database, tenant.id)
    theirs = await make_partner(database, tenant.id)
    rep = await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=ours.id)
    headers = bearer(app.state.issuer, rep)
    own_ids = await send(database, tenant.id, ours.id, 3, "program.level_changed")
    other_ids = await send(database, tenant.id, theirs.id, 2, "leads.paused")

    first_page = await gql(client, INBOX, {"unread": False, "first": 2}, headers=headers)
    page = first_page["data"]["partnerNotifications"]
    assert page["totalCount"] == 3
    assert [edge["node"]["id"] for edge in page["edges"]] == own_ids[::-1][:2]
    assert page["edges"][0]["node"] | {"id": None} == {
        "id": None,
        "kind": "program.level_changed",
        "message": "program.level_changed #2",
        "data": {"n": 2, "ref": str(ours.id)},
        "readAt": None,
        "partner": {"id": encode_global_id("Partner", ours.id)},
    }
    rest = await gql(
        client,
        INBOX,
        {"unread": False, "first": 2, "after": page["pageInfo"]["endCursor"]},
        headers=headers,
    )
    assert [e["node"]["id"] for e in rest["data"]["partnerNotifications"]["edges"]] == own_ids[:1]

    # Another organisation's ids are skipped, and marking twice changes nothing more.
    marked = await gql(client, MARK, {"ids": [own_ids[0], own_ids[2], *other_ids]}, headers=headers)
    assert marked["data"]["markNotificationsRead"] == {"marked": 2, "errors": []}
    again = await gql(client, MARK, {"ids": own_ids}, headers=headers)
    assert again["data"]["markNotificationsRead"]["marked"] == 1
    unread = await gql(client, INBOX, {"unread": True}, headers=headers)
    assert unread["data"]["partnerNotifications"]["totalCount"] == 0

    admin = bearer(app.state.issuer, tenant.admin)
    theirs_unread = await gql(
        client,
        INBOX,
        {"unread": True, "partnerId": encode_global_id("Partner", theirs.id)},
        headers=admin,
    )
    assert [
        e["node"]["id"] for e in theirs_unread["data"]["partnerNotifications"]["edges"]
    ] == other_ids[::-1]


@pytest.mark.asyncio
async def test_staff_read_but_cannot_mark_and_other_tenants_see_nothing(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    partner = await make_partner(database, tenant.id)
    ids = await send(database, tenant.id, partner.id, 1, "leads.paused")

    as_admin = await gql(client, MARK, {"ids": ids}, headers=bearer(app.state.issuer, tenant.admin))
    assert error_codes(as_admin) == ["FORBIDDEN"]
    foreign = await gql(
        client, INBOX, {"unread": False}, headers=bearer(app.state.issuer, other.admin)
    )
    assert foreign["data"]["partnerNotifications"]["totalCount"] == 0
    employee = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    as_employee = await gql(
        client, INBOX, {"unread": False}, headers=bearer(app.state.issuer, employee)
    )
    assert as_employee["data"]["partnerNotifications"]["totalCount"] == 1  # staff see all
    too_many = await gql(
        client,
        MARK,
        {"ids": ids * 501},
        headers=bearer(
            app.state.issuer,
            await make_user(
                database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id
            ),
        ),
    )
    assert too_many["data"]["markNotificationsRead"]["errors"] == [
        {"code": "INVALID", "field": "ids"}
    ]
