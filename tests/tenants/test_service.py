"""Creating tenants."""

from __future__ import annotations

import pytest

from prm.db.engine import Database
from prm.errors import Duplicate, InvalidInput
from prm.tenants.service import create_tenant
from tests.factories import DEFAULT_PASSWORD, make_tenant, unique


@pytest.mark.asyncio
async def test_a_tenant_is_created_with_its_first_admin(database: Database) -> None:
    made = await make_tenant(database)
    assert made.admin.tenant_id == made.tenant.id
    assert made.admin.roles == ["ADMIN"]
    assert made.admin.password_hash
    assert DEFAULT_PASSWORD not in made.admin.password_hash


@pytest.mark.asyncio
async def test_a_taken_slug_is_a_duplicate(database: Database) -> None:
    slug = unique("dup")
    await make_tenant(database, slug=slug)
    with pytest.raises(Duplicate):
        await make_tenant(database, slug=slug)


@pytest.mark.asyncio
@pytest.mark.parametrize("slug", ["", "-a", "A B", "x" * 64, "ünï"])
async def test_a_malformed_slug_is_refused(database: Database, slug: str) -> None:
    async with database.session() as session:
        with pytest.raises(InvalidInput):
            await create_tenant(
                session, slug=slug, name="X", admin_email="a@b.co", admin_password=DEFAULT_PASSWORD
            )
