"""Tenant rules below the API: creating tenants, deactivating users."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from prm.auth.models import RefreshToken
from prm.auth.principal import Principal, Role
from prm.db.engine import Database
from prm.errors import Conflict, Duplicate, InvalidInput
from prm.tenants.service import create_tenant, deactivate_user
from tests.factories import DEFAULT_PASSWORD, make_tenant, make_user, unique


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


@pytest.mark.asyncio
async def test_the_last_active_admin_cannot_be_deactivated(database: Database) -> None:
    made = await make_tenant(database)
    platform = Principal.system(made.id)
    async with database.session(made.id) as session:
        with pytest.raises(Conflict):
            await deactivate_user(session, platform, made.admin.id)
    second = await make_user(database, made.id, roles=(Role.ADMIN,))
    async with database.session(made.id) as session:
        user = await deactivate_user(session, platform, made.admin.id)
        assert user.active is False
        with pytest.raises(Conflict):
            await deactivate_user(session, platform, second.id)


@pytest.mark.asyncio
async def test_deactivation_revokes_the_users_refresh_tokens(database: Database) -> None:
    made = await make_tenant(database)
    user = await make_user(database, made.id)
    async with database.session(made.id) as session:
        token = RefreshToken(
            tenant_id=made.id,
            family_id=uuid.uuid4(),
            user_id=user.id,
            token_hash="0" * 64,
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )
        session.add(token)
    async with database.session(made.id) as session:
        await deactivate_user(session, Principal.system(made.id), user.id)
    async with database.session(made.id) as session:
        stored = await session.get(RefreshToken, (made.id, token.id))
        assert stored is not None
        assert stored.revoked_at is not None
