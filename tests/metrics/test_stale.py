"""Fresh scorecards after events: closing an opportunity (like answering an offer or
converting a lead) marks its month, quarter and year stale in the same transaction; the
scheduler's task turns marks a few seconds old into one recompute job per period, and
the job shows the deal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from prm.crm.models import OpportunityStage
from prm.db.engine import Database
from prm.metrics.models import MetricsDirty, PartnerScorecardRow
from prm.metrics.periods import periods_containing
from prm.metrics.recompute import RECOMPUTE
from prm.metrics.stale import QUIET_SECONDS, enqueue_stale_recomputes
from prm.workers.actors import run_job
from prm.workers.models import Job, JobStatus
from tests.crm.factories import UPDATE_OPPORTUNITY, gid, make_account, make_opportunity
from tests.factories import bearer, make_partner, make_tenant
from tests.graphql.support import gql


def marks(database: Database, tenant_id: uuid.UUID) -> set[str]:
    with database.sync_session() as session:
        return set(
            session.scalars(select(MetricsDirty.period).where(MetricsDirty.tenant_id == tenant_id))
        )


def recompute_jobs(database: Database, tenant_id: uuid.UUID) -> list[Job]:
    with database.sync_session(tenant_id) as session:
        return list(session.scalars(select(Job).where(Job.kind == RECOMPUTE)))


@pytest.mark.asyncio
async def test_a_closed_deal_reaches_its_partners_scorecard_through_a_stale_mark(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_partner(database, tenant.id)
    account = await make_account(database, tenant.id, partner_id=partner.id)
    deal = await make_opportunity(
        database,
        tenant.id,
        account_id=account.id,
        amount="2500.00",
        partner_id=partner.id,
        stage=OpportunityStage.NEGOTIATION,
    )
    headers = bearer(app.state.issuer, tenant.admin)

    body = await gql(
        client,
        UPDATE_OPPORTUNITY,
        {"id": gid("Opportunity", deal), "input": {"stage": "CLOSED_WON"}},
        headers=headers,
    )
    assert body["data"]["updateOpportunity"]["errors"] == []

    now = datetime.now(UTC)
    periods = {p.key for p in periods_containing(now)}
    assert marks(database, tenant.id) == periods
    # Marks younger than the quiet seconds wait, so a burst of events shares one recompute.
    # (Other tests' tenants may have marks too: only this tenant's are checked.)
    enqueue_stale_recomputes(database, now=now - timedelta(seconds=1))
    assert marks(database, tenant.id) == periods
    assert recompute_jobs(database, tenant.id) == []
    later = now + timedelta(seconds=QUIET_SECONDS + 1)
    enqueue_stale_recomputes(database, now=later)
    assert marks(database, tenant.id) == set()
    enqueue_stale_recomputes(database, now=later)

    jobs = recompute_jobs(database, tenant.id)
    assert len(jobs) == 3
    assert sorted(job.args["period"] for job in jobs) == sorted(periods)
    for job in jobs:
        assert run_job(database, RECOMPUTE, tenant.id, job.id) is JobStatus.SUCCEEDED
    month = next(p.key for p in periods_containing(now) if p.kind == "MONTH")
    with database.sync_session(tenant.id) as session:
        row = session.scalar(
            select(PartnerScorecardRow).where(
                PartnerScorecardRow.partner_id == partner.id, PartnerScorecardRow.period == month
            )
        )
    assert row is not None
    assert (row.deals_won, str(row.revenue_won)) == (1, "2500.0000")


@pytest.mark.asyncio
async def test_edits_that_do_not_close_a_deal_mark_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    deal = await make_opportunity(database, tenant.id, account_id=account.id)

    body = await gql(
        client,
        UPDATE_OPPORTUNITY,
        {"id": gid("Opportunity", deal), "input": {"stage": "QUALIFICATION", "name": "Renamed"}},
        headers=bearer(app.state.issuer, tenant.admin),
    )

    assert body["data"]["updateOpportunity"]["errors"] == []
    assert marks(database, tenant.id) == set()
