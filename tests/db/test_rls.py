"""Row-level security, proven with raw SQL as the app role (the second wall: these
queries bypass every app-side scoping helper)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from prm.catalog.models import QuoteCounter
from prm.db.engine import Database
from prm.db.models import Base
from prm.db.urls import libpq_dsn
from tests.factories import make_partner, make_tenant

# Tenant-owned = primary key (tenant_id, id); found from the models, so a new table is covered.
PLATFORM_TABLES_WITH_TENANT_IDS = {
    "job_outbox",
    "deal_protection_deadlines",
    "lead_offer_deadlines",
    "metrics_dirty",
    "webhook_delivery_due",
}
"""Ids and times only, scanned across tenants by the scheduler and the outbox relay."""
TENANT_TABLES = sorted(
    table.name
    for table in Base.metadata.sorted_tables
    if "tenant_id" in table.c and table.name not in PLATFORM_TABLES_WITH_TENANT_IDS
)


@pytest.fixture
def app_conn(app_db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(libpq_dsn(app_db_url)) as conn:
        yield conn


def use_tenant(conn: psycopg.Connection, tenant_id: uuid.UUID | None) -> None:
    conn.execute("SELECT set_config('prm.tenant_id', %s, true)", (str(tenant_id or ""),))


def test_the_app_connects_as_a_role_that_owns_nothing_and_cannot_bypass_rls(
    app_conn: psycopg.Connection,
) -> None:
    row = app_conn.execute(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles"
        " WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False, False, False)
    owned = app_conn.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
        " WHERE r.rolname = current_user"
    ).fetchone()
    assert owned == (0,)


def test_every_tenant_owned_table_has_forced_rls_with_the_tenant_policy(
    app_conn: psycopg.Connection,
) -> None:
    assert "users" in TENANT_TABLES
    rows = app_conn.execute(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
        "       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid"
        "          AND pg_get_expr(p.polqual, p.polrelid) LIKE '%%prm.tenant_id%%'"
        "          AND pg_get_expr(p.polwithcheck, p.polrelid) LIKE '%%prm.tenant_id%%')"
        " FROM pg_class c WHERE c.relname = ANY(%s) ORDER BY c.relname",
        (TENANT_TABLES,),
    ).fetchall()
    assert rows == [(name, True, True, 1) for name in TENANT_TABLES]


@pytest.mark.asyncio
async def test_with_no_tenant_set_tables_show_nothing_and_refuse_inserts(
    database: Database, app_conn: psycopg.Connection
) -> None:
    made = await make_tenant(database)
    await make_partner(database, made.id)
    use_tenant(app_conn, None)
    for table in TENANT_TABLES:
        count = app_conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        assert count == (0,), table
    with pytest.raises(errors.InsufficientPrivilege):
        app_conn.execute(
            "INSERT INTO partners (tenant_id, id, name, status, postal_prefixes, capabilities)"
            " VALUES (%s, gen_random_uuid(), 'x', 'ACTIVE', '{}', '{}')",
            (made.id,),
        )


@pytest.mark.asyncio
async def test_tenant_a_cannot_read_update_delete_or_insert_tenant_b_rows(
    database: Database, app_conn: psycopg.Connection
) -> None:
    a = await make_tenant(database)
    b = await make_tenant(database)
    b_partner = await make_partner(database, b.id)
    use_tenant(app_conn, a.id)

    visible = app_conn.execute("SELECT count(*) FROM partners WHERE id = %s", (b_partner.id,))
    assert visible.fetchone() == (0,)
    assert app_conn.execute(
        "SELECT count(*) FROM users WHERE tenant_id = %s", (b.id,)
    ).fetchone() == (0,)
    updated = app_conn.execute("UPDATE partners SET name = 'pwned' WHERE id = %s", (b_partner.id,))
    assert updated.rowcount == 0
    deleted = app_conn.execute("DELETE FROM users WHERE tenant_id = %s", (b.id,))
    assert deleted.rowcount == 0
    async with database.session(b.id) as session:
        session.add(QuoteCounter(tenant_id=b.id, last_number=7))
    use_tenant(app_conn, a.id)
    bumped = app_conn.execute(
        "UPDATE quote_counters SET last_number = 0 WHERE tenant_id = %s", (b.id,)
    )
    assert bumped.rowcount == 0
    with pytest.raises(errors.InsufficientPrivilege):
        app_conn.execute(
            "INSERT INTO partners (tenant_id, id, name, status, postal_prefixes, capabilities)"
            " VALUES (%s, gen_random_uuid(), 'x', 'ACTIVE', '{}', '{}')",
            (b.id,),
        )
    app_conn.rollback()
    # Moving one's own row into another tenant is refused too (WITH CHECK).
    own = await make_partner(database, a.id)
    use_tenant(app_conn, a.id)
    with pytest.raises(errors.InsufficientPrivilege):
        app_conn.execute("UPDATE partners SET tenant_id = %s WHERE id = %s", (b.id, own.id))
    app_conn.rollback()
    use_tenant(app_conn, b.id)
    assert app_conn.execute(
        "SELECT name FROM partners WHERE id = %s", (b_partner.id,)
    ).fetchone() == (b_partner.name,)


@pytest.mark.asyncio
async def test_the_tenant_directory_is_readable_but_only_the_own_row_is_writable(
    database: Database, app_conn: psycopg.Connection
) -> None:
    a = await make_tenant(database)
    b = await make_tenant(database)
    use_tenant(app_conn, a.id)
    assert app_conn.execute("SELECT slug FROM tenants WHERE id = %s", (b.id,)).fetchone() == (
        b.tenant.slug,
    )
    assert app_conn.execute("UPDATE tenants SET name = 'x' WHERE id = %s", (b.id,)).rowcount == 0
    assert app_conn.execute("UPDATE tenants SET name = 'A' WHERE id = %s", (a.id,)).rowcount == 1
    with pytest.raises(errors.InsufficientPrivilege):
        app_conn.execute("DELETE FROM tenants WHERE id = %s", (a.id,))


@pytest.mark.asyncio
async def test_the_audit_log_is_append_only_for_the_app(
    database: Database, app_conn: psycopg.Connection
) -> None:
    a = await make_tenant(database)
    use_tenant(app_conn, a.id)
    app_conn.execute(
        "INSERT INTO audit_log (tenant_id, id, principal_kind, operation)"
        " VALUES (%s, gen_random_uuid(), 'platform', 'test')",
        (a.id,),
    )
    with pytest.raises(errors.InsufficientPrivilege):
        app_conn.execute("DELETE FROM audit_log")
