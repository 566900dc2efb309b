"""Global ids and `node(id:)`: anything the caller may see, else null, never an error."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest
from fastapi import FastAPI

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.graphql.relay import decode_global_id, encode_global_id
from tests.factories import bearer, make_partner, make_tenant, make_user
from tests.graphql.support import gql

NODE = "query ($id: ID!) { node(id: $id) { __typename id ... on User { email } } }"


async def node(client: httpx.AsyncClient, headers: dict[str, str], global_id: str) -> object:
    body = await gql(client, NODE, {"id": global_id}, headers=headers)
    assert "errors" not in body, body
    return body["data"]["node"]


def test_a_global_id_is_base64_of_type_and_uuid() -> None:
    pk = uuid.uuid4()
    global_id = encode_global_id("User", pk)
    assert base64.b64decode(global_id).decode() == f"User:{pk}"
    assert decode_global_id(global_id) == ("User", pk)


@pytest.mark.parametrize(
    "garbage", ["", "%%%", "VXNlcg==", base64.b64encode(b"User:nope").decode()]
)
def test_garbage_does_not_decode(garbage: str) -> None:
    assert decode_global_id(garbage) is None


@pytest.mark.asyncio
async def test_node_resolves_the_callers_own_objects(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_user(database, tenant.id)
    headers = bearer(app.state.issuer, tenant.admin)
    me = (await gql(client, "{ me { user { id } tenant { id } } }", headers=headers))["data"]["me"]

    assert await node(client, headers, me["user"]["id"]) == {
        "__typename": "User",
        "id": me["user"]["id"],
        "email": tenant.admin.email,
    }
    assert await node(client, headers, encode_global_id("User", other.id)) == {
        "__typename": "User",
        "id": encode_global_id("User", other.id),
        "email": other.email,
    }
    tenant_node = await node(client, headers, me["tenant"]["id"])
    assert tenant_node == {"__typename": "Tenant", "id": me["tenant"]["id"]}


@pytest.mark.asyncio
async def test_another_tenants_objects_are_null(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    mine, theirs = await make_tenant(database), await make_tenant(database)
    their_partner = await make_partner(database, theirs.id)
    headers = bearer(app.state.issuer, mine.admin)
    for global_id in (
        encode_global_id("User", theirs.admin.id),
        encode_global_id("Tenant", theirs.id),
        encode_global_id("Partner", their_partner.id),
    ):
        assert await node(client, headers, global_id) is None


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "global_id",
    [
        "garbage",
        base64.b64encode(b"NoSuchType:" + str(uuid.uuid4()).encode()).decode(),
        encode_global_id("User", uuid.uuid4()),
    ],
)
async def test_garbage_and_unknown_ids_are_null(
    client: httpx.AsyncClient, app: FastAPI, database: Database, global_id: str
) -> None:
    tenant = await make_tenant(database)
    assert await node(client, bearer(app.state.issuer, tenant.admin), global_id) is None


@pytest.mark.asyncio
async def test_objects_the_caller_may_not_see_are_null(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    mine, theirs = await make_partner(database, tenant.id), await make_partner(database, tenant.id)
    rep = await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=mine.id)
    colleague = await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=mine.id)
    headers = bearer(app.state.issuer, rep)

    assert await node(client, headers, encode_global_id("User", rep.id)) is not None
    assert await node(client, headers, encode_global_id("Partner", mine.id)) is not None
    assert await node(client, headers, encode_global_id("User", colleague.id)) is None
    assert await node(client, headers, encode_global_id("User", tenant.admin.id)) is None
    assert await node(client, headers, encode_global_id("Partner", theirs.id)) is None


@pytest.mark.asyncio
async def test_nodes_answers_in_order_with_nulls(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant, other = await make_tenant(database), await make_tenant(database)
    user = await make_user(database, tenant.id)
    ids = [
        encode_global_id("User", user.id),
        "garbage",
        encode_global_id("User", other.admin.id),
        encode_global_id("User", tenant.admin.id),
    ]
    body = await gql(
        client,
        "query ($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": ids},
        headers=bearer(app.state.issuer, tenant.admin),
    )
    assert body["data"]["nodes"] == [{"id": ids[0]}, None, None, {"id": ids[3]}]
