"""Failed password sign-ins are throttled per account and per client address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, insert, select

from prm.auth.models import LoginFailure
from prm.auth.rate_limit import account_key, address_key, purge_login_failures
from prm.db.engine import Database
from prm.settings import Settings
from tests.auth.conftest import client_at, random_address
from tests.auth.helpers import sign_in
from tests.factories import make_tenant, make_user, unique

WRONG = "not the password"


def assert_throttled(response: httpx.Response, settings: Settings) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "too many failed attempts, try later",
    }
    assert 0 < int(response.headers["retry-after"]) <= settings.login_failure_window_seconds
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.asyncio
async def test_an_account_locks_after_too_many_failures_from_any_address(
    app: FastAPI, database: Database, settings: Settings
) -> None:
    made = await make_tenant(database)
    login = {"tenant": made.tenant.slug, "email": made.admin.email}
    for _ in range(settings.login_max_failures):
        async with client_at(app, random_address()) as http:
            assert (await sign_in(http, **login, password=WRONG)).status_code == 400

    async with client_at(app, random_address()) as fresh:
        assert_throttled(await sign_in(fresh, **login), settings)  # even the right password


@pytest.mark.asyncio
async def test_a_locked_account_is_locked_whether_or_not_it_exists(
    client: httpx.AsyncClient, app: FastAPI, database: Database, settings: Settings
) -> None:
    login = {"tenant": unique("nosuch"), "email": "ghost@example.com"}
    for _ in range(settings.login_max_failures):
        async with client_at(app, random_address()) as http:
            assert (await sign_in(http, **login, password=WRONG)).status_code == 400
    assert_throttled(await sign_in(client, **login), settings)


@pytest.mark.asyncio
async def test_a_success_clears_the_accounts_failures(
    client: httpx.AsyncClient, app: FastAPI, database: Database, settings: Settings
) -> None:
    made = await make_tenant(database)
    user = await make_user(database, made.id)
    login = {"tenant": made.tenant.slug, "email": user.email}

    async def fail_almost_enough() -> None:
        for _ in range(settings.login_max_failures - 1):
            async with client_at(app, random_address()) as http:
                assert (await sign_in(http, **login, password=WRONG)).status_code == 400

    await fail_almost_enough()
    assert (await sign_in(client, **login)).status_code == 200
    await fail_almost_enough()
    assert (await sign_in(client, **login)).status_code == 200


@pytest.mark.asyncio
async def test_an_address_locks_after_too_many_failures_on_any_accounts(
    client: httpx.AsyncClient, app: FastAPI, database: Database, settings: Settings
) -> None:
    made = await make_tenant(database)
    victim = await make_user(database, made.id)
    for _ in range(settings.login_max_failures):
        response = await sign_in(
            client, tenant=made.tenant.slug, email=f"{unique('guess')}@example.com", password=WRONG
        )
        assert response.status_code == 400

    assert_throttled(await sign_in(client, tenant=made.tenant.slug, email=victim.email), settings)
    async with client_at(app, random_address()) as elsewhere:
        assert (await sign_in(elsewhere, tenant=made.tenant.slug, email=victim.email)).is_success


@pytest.mark.asyncio
async def test_a_success_does_not_clear_the_addresss_failures(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    made = await make_tenant(database)
    for _ in range(settings.login_max_failures - 1):
        await sign_in(client, tenant=made.tenant.slug, email="guess@example.com", password=WRONG)
    assert (await sign_in(client, tenant=made.tenant.slug, email=made.admin.email)).is_success
    await sign_in(client, tenant=made.tenant.slug, email="guess2@example.com", password=WRONG)

    assert_throttled(
        await sign_in(client, tenant=made.tenant.slug, email=made.admin.email), settings
    )


@pytest.mark.asyncio
async def test_failures_older_than_the_window_do_not_count(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    made = await make_tenant(database)
    key = account_key(made.tenant.slug, made.admin.email)
    old = datetime.now(UTC) - timedelta(seconds=settings.login_failure_window_seconds + 5)
    with database.sync_session() as session:
        session.execute(
            insert(LoginFailure), [{"key": key, "created_at": old}] * settings.login_max_failures
        )

    assert (await sign_in(client, tenant=made.tenant.slug, email=made.admin.email)).is_success


@pytest.mark.asyncio
async def test_purge_deletes_only_old_failures(database: Database) -> None:
    key = f"acct:{unique('purge')}:x@example.com"
    now = datetime.now(UTC)
    with database.sync_session() as session:
        session.execute(
            insert(LoginFailure),
            [{"key": key, "created_at": now - timedelta(hours=2)}, {"key": key, "created_at": now}],
        )
    with database.sync_session() as session:
        assert purge_login_failures(session, now - timedelta(hours=1)) >= 1
    with database.sync_session() as session:
        left = session.scalar(
            select(func.count()).select_from(LoginFailure).where(LoginFailure.key == key)
        )
    assert left == 1


def test_address_keys_group_ipv6_by_64_and_unmap_ipv4() -> None:
    assert address_key("2001:db8:1:2:3:4:5:6") == address_key("2001:db8:1:2:ffff::1")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:192.0.2.7") == address_key("192.0.2.7") == "addr:192.0.2.7"
    assert address_key(None) is None
