"""Daily maintenance: each tenant's `maintenance.purge` job drops what is past its use; the
platform tick purges stale login failures and asks every tenant for its purge."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from prm.auth.models import LoginFailure, RefreshToken
from prm.catalog.models import Quote, QuoteStatus
from prm.db.engine import Database
from prm.settings import Settings
from prm.workers.actors import run_job
from prm.workers.maintenance import PURGE, run_platform_maintenance
from prm.workers.models import Job, JobStatus, OutboxMessage
from tests.factories import make_tenant


def add_refresh_token(
    database: Database, tenant_id: uuid.UUID, user_id: uuid.UUID, *, expires_in: timedelta
) -> uuid.UUID:
    with database.sync_session(tenant_id) as session:
        token = RefreshToken(
            tenant_id=tenant_id,
            family_id=uuid.uuid4(),
            user_id=user_id,
            token_hash=secrets.token_hex(32),
            expires_at=datetime.now(UTC) + expires_in,
        )
        session.add(token)
    return token.id


def refresh_token_ids(database: Database, tenant_id: uuid.UUID) -> set[uuid.UUID]:
    with database.sync_session(tenant_id) as session:
        return set(session.scalars(select(RefreshToken.id)))


def purge_jobs(database: Database, tenant_id: uuid.UUID) -> list[Job]:
    with database.sync_session(tenant_id) as session:
        return list(session.scalars(select(Job).where(Job.kind == PURGE)))


@pytest.mark.asyncio
async def test_purge_deletes_the_tenants_expired_refresh_tokens_and_old_finished_jobs(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    expired = add_refresh_token(
        database, tenant.id, tenant.admin.id, expires_in=timedelta(minutes=-1)
    )
    live = add_refresh_token(database, tenant.id, tenant.admin.id, expires_in=timedelta(days=1))
    others_expired = add_refresh_token(
        database, other.id, other.admin.id, expires_in=timedelta(minutes=-1)
    )
    long_ago = datetime.now(UTC) - timedelta(days=31)
    with database.sync_session(tenant.id) as session:
        old_job = Job(
            tenant_id=tenant.id,
            kind=PURGE,
            status=JobStatus.SUCCEEDED,
            args={},
            attempts=1,
            finished_at=long_ago,
        )
        purge = Job(tenant_id=tenant.id, kind=PURGE, status=JobStatus.QUEUED, args={}, attempts=0)
        session.add_all([old_job, purge])

    assert run_job(database, PURGE, tenant.id, purge.id) is JobStatus.SUCCEEDED

    assert refresh_token_ids(database, tenant.id) == {live}
    assert expired not in refresh_token_ids(database, tenant.id)
    assert others_expired in refresh_token_ids(database, other.id)
    [done] = purge_jobs(database, tenant.id)
    assert done.id == purge.id
    assert done.result == {"refresh_tokens": 1, "jobs": 1, "quotes_expired": 0}


def add_quote(
    database: Database, tenant_id: uuid.UUID, number: int, status: QuoteStatus, valid_until: date
) -> uuid.UUID:
    with database.sync_session(tenant_id) as session:
        quote = Quote(
            tenant_id=tenant_id,
            number=number,
            status=status,
            currency="USD",
            valid_until=valid_until,
            subtotal=Decimal(0),
            discount_total=Decimal(0),
            total=Decimal(0),
            line_count=0,
            warning_count=0,
            promotion_ids=[],
        )
        session.add(quote)
    return quote.id


def quote_statuses(database: Database, tenant_id: uuid.UUID) -> dict[uuid.UUID, QuoteStatus]:
    with database.sync_session(tenant_id) as session:
        return {pk: status for pk, status in session.execute(select(Quote.id, Quote.status))}


@pytest.mark.asyncio
async def test_purge_expires_open_quotes_past_their_validity_and_nothing_else(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    today = datetime.now(UTC).date()
    overdue_sent = add_quote(database, tenant.id, 1, QuoteStatus.SENT, today - timedelta(days=1))
    overdue_draft = add_quote(database, tenant.id, 2, QuoteStatus.DRAFT, today - timedelta(days=9))
    due_today = add_quote(database, tenant.id, 3, QuoteStatus.SENT, today)
    accepted = add_quote(database, tenant.id, 4, QuoteStatus.ACCEPTED, today - timedelta(days=1))
    others = add_quote(database, other.id, 1, QuoteStatus.SENT, today - timedelta(days=1))
    with database.sync_session(tenant.id) as session:
        purge = Job(tenant_id=tenant.id, kind=PURGE, status=JobStatus.QUEUED, args={}, attempts=0)
        session.add(purge)

    assert run_job(database, PURGE, tenant.id, purge.id) is JobStatus.SUCCEEDED

    assert quote_statuses(database, tenant.id) == {
        overdue_sent: QuoteStatus.EXPIRED,
        overdue_draft: QuoteStatus.EXPIRED,
        due_today: QuoteStatus.SENT,
        accepted: QuoteStatus.ACCEPTED,
    }
    assert quote_statuses(database, other.id) == {others: QuoteStatus.SENT}
    [done] = purge_jobs(database, tenant.id)
    assert done.result == {"refresh_tokens": 0, "jobs": 0, "quotes_expired": 2}


@pytest.mark.asyncio
async def test_the_platform_tick_purges_stale_login_failures_and_enqueues_one_purge_per_tenant(
    settings: Settings, database: Database
) -> None:
    tenant = await make_tenant(database)
    key = f"acct:{tenant.tenant.slug}:{secrets.token_hex(4)}@example.com"
    window = timedelta(seconds=settings.login_failure_window_seconds)
    with database.sync_session() as session:
        session.add_all(
            [
                LoginFailure(key=key, created_at=datetime.now(UTC) - window - timedelta(minutes=1)),
                LoginFailure(key=key, created_at=datetime.now(UTC)),
            ]
        )

    run_platform_maintenance(settings, database)
    run_platform_maintenance(settings, database)  # a second tick while the first is pending

    with database.sync_session() as session:
        kept = list(session.scalars(select(LoginFailure.created_at).where(LoginFailure.key == key)))
    assert len(kept) == 1
    assert kept[0] > datetime.now(UTC) - window
    [job] = purge_jobs(database, tenant.id)
    assert job.status is JobStatus.QUEUED
    assert job.requested_by is None
    with database.sync_session() as session:
        outbox = list(session.scalars(select(OutboxMessage).where(OutboxMessage.job_id == job.id)))
    assert [row.actor for row in outbox] == [PURGE]
