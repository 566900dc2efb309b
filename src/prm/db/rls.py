"""Row-level security and grants, applied by migrations through these helpers only.

Every tenant-owned table gets RLS enabled *and forced* (so even the owner is filtered)
with one policy: a row is visible and writable only when its `tenant_id` equals the
transaction's `prm.tenant_id`. With no tenant set the setting is empty, `nullif` makes it
NULL, and the comparison is never true: no rows, no writes.
"""

from __future__ import annotations

import os

from alembic import op

TENANT_PREDICATE = "tenant_id = nullif(current_setting('prm.tenant_id', true), '')::uuid"


def app_role() -> str:
    """The least-privilege runtime role (`PRM_APP_DB_ROLE`, default `prm_app`)."""
    role = os.environ.get("PRM_APP_DB_ROLE", "prm_app")
    if not role.replace("_", "").isalnum():
        raise ValueError(f"invalid role name {role!r}")
    return role


def enable_tenant_rls(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    """Isolate `table` by tenant and grant the app role `privileges` on it."""
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    op.execute(
        f'CREATE POLICY tenant_isolation ON "{table}" '
        f"USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})"
    )
    grant_app(table, privileges)


def grant_app(table: str, privileges: str) -> None:
    op.execute(f'GRANT {privileges} ON "{table}" TO "{app_role()}"')
