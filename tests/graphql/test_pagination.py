"""Connections: keyset cursors, page sizes, totalCount, ordering, and a constant number of
SQL statements per page."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.tenants.models import User
from tests.factories import bearer, make_partner, make_tenant, make_tier, make_user, unique
from tests.graphql.support import error_codes, gql
from tests.statements import counting_statements

USERS = """
query ($first: Int, $after: String, $orderBy: UserOrder) {
  users(first: $first, after: $after, orderBy: $orderBy) {
    totalCount
    edges { cursor node { id email } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def walk(
    client: httpx.AsyncClient, headers: dict[str, str], first: int, **variables: Any
) -> tuple[list[str], list[dict[str, Any]]]:
    """Every email, page by page; and each page's connection."""
    emails: list[str] = []
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        body = await gql(
            client, USERS, {"first": first, "after": after, **variables}, headers=headers
        )
        assert "errors" not in body, body
        page = body["data"]["users"]
        pages.append(page)
        emails += [edge["node"]["email"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return emails, pages
        after = page["pageInfo"]["endCursor"]


@pytest.mark.asyncio
async def test_pages_follow_creation_order_without_gaps_or_repeats(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    created = [await make_user(database, tenant.id) for _ in range(6)]
    headers = bearer(app.state.issuer, tenant.admin)

    emails, pages = await walk(client, headers, first=3)

    assert emails == [tenant.admin.email, *(user.email for user in created)]
    assert [len(page["edges"]) for page in pages] == [3, 3, 1]
    assert {page["totalCount"] for page in pages} == {7}
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    assert pages[0]["pageInfo"]["startCursor"] == pages[0]["edges"][0]["cursor"]


@pytest.mark.asyncio
async def test_pages_keep_their_place_while_rows_are_added(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    """A keyset cursor is a position, not an offset: rows added before it shift nothing."""
    tenant = await make_tenant(database)
    for _ in range(3):
        await make_user(database, tenant.id)
    headers = bearer(app.state.issuer, tenant.admin)
    first = (await gql(client, USERS, {"first": 2}, headers=headers))["data"]["users"]
    late = await make_user(database, tenant.id)
    rest = (
        await gql(
            client, USERS, {"first": 10, "after": first["pageInfo"]["endCursor"]}, headers=headers
        )
    )["data"]["users"]
    seen = [edge["node"]["email"] for edge in first["edges"] + rest["edges"]]
    assert len(seen) == len(set(seen)) == 5
    assert seen[-1] == late.email
    assert rest["totalCount"] == 5


@pytest.mark.asyncio
async def test_pages_follow_a_sort_column_with_id_as_tiebreak(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    for _ in range(5):
        await make_user(database, tenant.id, email=f"{unique('sorted')}@example.com")
    headers = bearer(app.state.issuer, tenant.admin)

    ascending, _ = await walk(client, headers, first=2, orderBy={"field": "EMAIL"})
    descending, _ = await walk(
        client, headers, first=4, orderBy={"field": "EMAIL", "direction": "DESC"}
    )
    by_date, _ = await walk(
        client, headers, first=2, orderBy={"field": "CREATED_AT", "direction": "DESC"}
    )

    assert ascending == sorted(ascending)
    assert descending == sorted(ascending, reverse=True)
    assert len(by_date) == 6
    assert by_date[-1] == tenant.admin.email


@pytest.mark.asyncio
async def test_first_defaults_and_is_capped(
    strict_client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    """Under STRICT settings: default page 2, cap 5 (production: 50 and 500)."""
    tenant = await make_tenant(database)
    for _ in range(6):
        await make_user(database, tenant.id)
    headers = bearer(app.state.issuer, tenant.admin)
    default = (await gql(strict_client, USERS, {}, headers=headers))["data"]["users"]
    capped = (await gql(strict_client, USERS, {"first": 10_000}, headers=headers))["data"]["users"]
    assert len(default["edges"]) == 2
    assert len(capped["edges"]) == 5
    assert capped["pageInfo"]["hasNextPage"] is True
    assert capped["totalCount"] == 7


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "variables",
    [
        pytest.param({"after": "not a cursor"}, id="garbage"),
        pytest.param({"after": "WyJ4Il0="}, id="well-formed but foreign"),
        pytest.param({"first": -1}, id="negative first"),
    ],
)
async def test_bad_paging_arguments_are_bad_user_input(
    client: httpx.AsyncClient, app: FastAPI, database: Database, variables: dict[str, Any]
) -> None:
    tenant = await make_tenant(database)
    body = await gql(client, USERS, variables, headers=bearer(app.state.issuer, tenant.admin))
    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.asyncio
async def test_a_cursor_of_another_ordering_is_refused(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    await make_user(database, tenant.id)
    headers = bearer(app.state.issuer, tenant.admin)
    page = (await gql(client, USERS, {"first": 1}, headers=headers))["data"]["users"]
    body = await gql(
        client,
        USERS,
        {"first": 1, "after": page["pageInfo"]["endCursor"], "orderBy": {"field": "EMAIL"}},
        headers=headers,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.asyncio
async def test_statements_per_page_do_not_grow_with_the_page_size(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    tiers = [await make_tier(database, tenant.id) for _ in range(2)]
    partners = [await make_partner(database, tenant.id, tier_id=tier.id) for tier in tiers]
    async with database.session(tenant.id) as session:
        session.add_all(
            User(
                tenant_id=tenant.id,
                email=f"bulk-{uuid.uuid4().hex}@example.com",
                name="Bulk",
                roles=[Role.PARTNER_REP.value],
                partner_id=partners[n % 2].id,
            )
            for n in range(60)
        )
    headers = bearer(app.state.issuer, tenant.admin)
    query = """query ($first: Int) { users(first: $first) {
        totalCount edges { node { email partner { name tier { name } } } } } }"""

    counts = {}
    for first in (5, 50):
        with counting_statements(database) as statements:
            body = await gql(client, query, {"first": first}, headers=headers)
        assert len(body["data"]["users"]["edges"]) == first
        counts[first] = len(statements)

    assert counts[5] == counts[50]
    # tenant scope + token check (2) + page + count + partners + tiers
    assert counts[50] <= 8
