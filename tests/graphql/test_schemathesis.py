"""Schemathesis, in GraphQL mode, against `/graphql` of a real `prm serve` process: queries
and mutations generated from the schema (introspected with the caller's token), sent with
an admin token and with a partner token. No answer may be a 5xx, and every answer must be
GraphQL JSON (an object with `data` or `errors`).

Bounded: `EXAMPLES` cases per token (about 10 s each, plus ~15 s to start the server). A failure prints the
offending request; the server's traceback is on the test's stderr.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import schemathesis
from bench.harness import running_server
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.generation.case import Case
from schemathesis.graphql import nodes

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.settings import Settings
from tests.factories import bearer, make_partner, make_tenant, make_user

EXAMPLES = int(os.environ.get("PRM_SCHEMATHESIS_EXAMPLES", "150"))
"""Cases per token; raise it for a deeper local run."""

# prm's own scalars: well-formed values mostly, and some that are not.
schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
        st.text(max_size=20),
    ).map(nodes.String),
)
schemathesis.graphql.scalar(
    "JSON",
    st.one_of(st.text(max_size=20).map(nodes.String), st.integers().map(nodes.Int)),
)
schemathesis.graphql.scalar("Upload", st.just(nodes.Null))


@pytest.fixture(scope="module")
def server(owner_url: str, settings: Settings) -> Iterator[str]:
    """`prm serve`'s app on the test database, signing with the tests' key (same data dir)."""
    with running_server(owner_url, Path(settings.data_dir)) as base:
        yield base


@pytest_asyncio.fixture
async def tokens(app: FastAPI, database: Database) -> dict[str, dict[str, str]]:
    tenant = await make_tenant(database)
    partner = await make_partner(database, tenant.id)
    partner_admin = await make_user(
        database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id
    )
    return {
        "admin": bearer(app.state.issuer, tenant.admin),
        "partner": bearer(app.state.issuer, partner_admin),
    }


def check_answer(case: Case, headers: dict[str, str]) -> None:
    response = case.call(headers=headers, timeout=30)
    request = json.dumps(case.body)[:2000]
    assert response.status_code < 500, f"{response.status_code} for {request}: {response.text}"
    try:
        body = json.loads(response.content)
    except ValueError:
        pytest.fail(f"not JSON ({response.status_code}) for {request}: {response.text[:500]}")
    assert isinstance(body, dict), f"not a JSON object for {request}: {body!r}"
    assert "data" in body or "errors" in body, f"not a GraphQL answer for {request}: {body!r}"
    if response.status_code >= 400:
        assert body.get("errors"), f"{response.status_code} without errors for {request}"


@pytest.mark.timeout(240)
@pytest.mark.parametrize("who", ["admin", "partner"])
def test_generated_operations_never_fail_the_server(
    server: str, tokens: dict[str, dict[str, str]], who: str
) -> None:
    headers = tokens[who]
    schema = schemathesis.graphql.from_url(f"{server}/graphql", headers=headers, timeout=30)

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(case=schema.as_strategy())
    def answers_are_graphql(case: Case) -> None:
        check_answer(case, headers)

    answers_are_graphql()
