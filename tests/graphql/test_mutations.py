"""The `@mutation` helper: one transaction per mutation, audit inside it, errors mapped in
one place, after-commit callbacks only after a commit. Exercised through a small schema of
its own, executed with a real request context against the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import strawberry
from sqlalchemy import func, select
from strawberry.types import ExecutionResult

from prm.auth.principal import Role
from prm.auth.tokens import TokenIssuer
from prm.db.engine import Database
from prm.errors import ErrorCode, Forbidden, InvalidInput
from prm.graphql.context import Context, Info
from prm.graphql.errors import UserError
from prm.graphql.extensions import schema_extensions
from prm.graphql.mutations import mutation
from prm.graphql.permissions import require_principal
from prm.graphql.schema import PrmSchema
from prm.graphql.tenants.mutations import TenantPayload
from prm.graphql.tenants.types import TenantType
from prm.settings import Settings
from prm.tenants import service
from prm.tenants.models import AuditEntry, Tenant
from tests.factories import TenantWithAdmin, bearer, make_tenant, make_user

calls: list[str] = []


@strawberry.type
class Query:
    @strawberry.field
    def ok(self) -> bool:
        return True


@strawberry.type
class Mutation:
    @mutation(TenantPayload, roles=(Role.ADMIN,))
    async def rename(self, info: Info, name: str, fail: str = "") -> TenantPayload:
        """Renames the tenant, then fails as asked."""
        context = info.context
        context.after_commit(lambda: calls.append(f"sync:{name}"))

        async def later() -> None:
            calls.append(f"async:{name}")

        context.after_commit(later)
        tenant = await service.update_tenant_settings(
            context.session, require_principal(info), name=name
        )
        if fail == "domain":
            raise InvalidInput("not that name", field="name")
        if fail == "forbidden":
            raise Forbidden("not today")
        if fail == "crash":
            raise RuntimeError("boom")
        if fail == "payload":
            conflict = UserError(code=ErrorCode.CONFLICT, field=None, message="no")
            return TenantPayload(errors=[conflict])
        return TenantPayload(tenant=TenantType.from_model(tenant))


RENAME = """mutation ($name: String!, $fail: String!) {
  rename(name: $name, fail: $fail) { tenant { name } errors { code field message } } }"""


@pytest.fixture(scope="module")
def schema(settings: Settings) -> PrmSchema:
    return PrmSchema(query=Query, mutation=Mutation, extensions=schema_extensions(settings))


@pytest_asyncio.fixture
async def tenant(database: Database) -> AsyncIterator[TenantWithAdmin]:
    calls.clear()
    yield await make_tenant(database)


async def run(
    schema: PrmSchema,
    settings: Settings,
    database: Database,
    issuer: TokenIssuer,
    authorization: str | None,
    query: str,
    variables: dict[str, Any],
) -> ExecutionResult:
    context = Context(settings=settings, database=database, issuer=issuer, request_id="req-test")
    try:
        await context.authenticate(authorization)
        return await schema.execute(query, variable_values=variables, context_value=context)
    finally:
        await context.close()


async def state(database: Database, tenant: TenantWithAdmin) -> tuple[str, list[str]]:
    """The tenant's name and the operations in its audit log."""
    async with database.session(tenant.id) as session:
        name = await session.scalar(select(Tenant.name).where(Tenant.id == tenant.id))
        operations = list(
            await session.scalars(
                select(AuditEntry.operation).where(AuditEntry.tenant_id == tenant.id)
            )
        )
    return str(name), operations


@pytest.mark.asyncio
async def test_success_commits_with_one_audit_entry_then_runs_callbacks(
    schema: PrmSchema, settings: Settings, database: Database, app: Any, tenant: TenantWithAdmin
) -> None:
    auth = bearer(app.state.issuer, tenant.admin)["Authorization"]
    result = await run(
        schema, settings, database, app.state.issuer, auth, RENAME, {"name": "Acme", "fail": ""}
    )
    assert result.errors is None
    assert result.data == {"rename": {"tenant": {"name": "Acme"}, "errors": []}}
    assert await state(database, tenant) == ("Acme", ["rename"])
    assert calls == ["sync:Acme", "async:Acme"]
    async with database.session(tenant.id) as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.tenant_id == tenant.id))
    assert entry is not None
    assert entry.principal_kind == "user"
    assert entry.principal_id == tenant.admin.id
    assert entry.object_ids == [f"Tenant:{tenant.id}"]
    assert entry.request_id == "req-test"


@pytest.mark.asyncio
@pytest.mark.parametrize(("fail", "code"), [("domain", "INVALID"), ("payload", "CONFLICT")])
async def test_a_user_error_rolls_everything_back(
    schema: PrmSchema,
    settings: Settings,
    database: Database,
    app: Any,
    tenant: TenantWithAdmin,
    fail: str,
    code: str,
) -> None:
    auth = bearer(app.state.issuer, tenant.admin)["Authorization"]
    result = await run(
        schema, settings, database, app.state.issuer, auth, RENAME, {"name": "Acme", "fail": fail}
    )
    assert result.errors is None
    assert result.data is not None
    assert result.data["rename"]["tenant"] is None
    assert [error["code"] for error in result.data["rename"]["errors"]] == [code]
    assert await state(database, tenant) == ("Test Tenant", [])
    assert calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fail", "code"), [("forbidden", "FORBIDDEN"), ("crash", "INTERNAL_SERVER_ERROR")]
)
async def test_an_exception_rolls_everything_back(
    schema: PrmSchema,
    settings: Settings,
    database: Database,
    app: Any,
    tenant: TenantWithAdmin,
    fail: str,
    code: str,
) -> None:
    auth = bearer(app.state.issuer, tenant.admin)["Authorization"]
    result = await run(
        schema, settings, database, app.state.issuer, auth, RENAME, {"name": "Acme", "fail": fail}
    )
    assert result.errors is not None
    assert [error.extensions["code"] for error in result.errors] == [code]  # type: ignore[index]
    assert await state(database, tenant) == ("Test Tenant", [])
    assert calls == []


@pytest.mark.asyncio
async def test_each_mutation_of_an_operation_is_its_own_transaction(
    schema: PrmSchema, settings: Settings, database: Database, app: Any, tenant: TenantWithAdmin
) -> None:
    auth = bearer(app.state.issuer, tenant.admin)["Authorization"]
    query = """mutation {
      first: rename(name: "First") { errors { code } }
      second: rename(name: "Second", fail: "domain") { errors { code } }
    }"""
    result = await run(schema, settings, database, app.state.issuer, auth, query, {})
    assert result.data == {"first": {"errors": []}, "second": {"errors": [{"code": "INVALID"}]}}
    assert await state(database, tenant) == ("First", ["rename"])
    assert calls == ["sync:First", "async:First"]


@pytest.mark.asyncio
async def test_roles_and_authentication_are_checked_before_anything_runs(
    schema: PrmSchema, settings: Settings, database: Database, app: Any, tenant: TenantWithAdmin
) -> None:
    employee = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    variables = {"name": "Acme", "fail": ""}
    as_employee = bearer(app.state.issuer, employee)["Authorization"]
    refused = await run(
        schema, settings, database, app.state.issuer, as_employee, RENAME, variables
    )
    anonymous = await run(schema, settings, database, app.state.issuer, None, RENAME, variables)
    assert [error.extensions["code"] for error in refused.errors or []] == ["FORBIDDEN"]  # type: ignore[index]
    assert [error.extensions["code"] for error in anonymous.errors or []] == ["UNAUTHENTICATED"]  # type: ignore[index]
    assert await state(database, tenant) == ("Test Tenant", [])
    assert calls == []


@pytest.mark.asyncio
async def test_concurrent_resolvers_share_the_session_safely(
    settings: Settings, database: Database, app: Any
) -> None:
    """Sibling fields resolve concurrently; the request session serialises their I/O, even
    the first query that opens the connection and transaction."""
    context = Context(
        settings=settings, database=database, issuer=app.state.issuer, request_id="req-c"
    )
    try:
        counts = await asyncio.gather(
            *(context.session.scalar(select(func.count()).select_from(Tenant)) for _ in range(20))
        )
        await context.rollback()
        counts += await asyncio.gather(
            *(context.session.scalar(select(func.count()).select_from(Tenant)) for _ in range(20))
        )
    finally:
        await context.close()
    assert len(counts) == 40
    assert len(set(counts)) == 1
